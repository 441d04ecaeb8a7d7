"""Strict decoding of schemaless Avro ``SensorReading`` payloads.

Decoding already type-checks every field, so there is no per-record ``fastavro.validate`` (it costs
4-8x the decode). Strictness comes from three extra rules: a size cap, any decode exception, and
trailing bytes, which fastavro ignores on its own (it never compares ``tell()`` with the length).
"""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime, timedelta
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from sensorflow.core import schemas
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.records import Reading

# A SensorReading is ~40-80 bytes; anything near a kilobyte is not one of ours.
MAX_RECORD_BYTES = 1024

# Everything fastavro has been seen to raise on hostile bytes (truncation, bad UTF-8, enum index out
# of range, varints that overflow datetime, negative lengths ...). Untrusted input is a boundary.
DECODE_ERRORS = (
    EOFError,
    UnicodeDecodeError,
    IndexError,
    OverflowError,
    ValueError,
    KeyError,
    TypeError,
    struct.error,
    MemoryError,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class ReadingDecoder:
    """Decodes payloads with the reading schema, parsed once per container."""

    def __init__(self, schema: Any = None, max_bytes: int = MAX_RECORD_BYTES) -> None:
        self._schema = schema if schema is not None else schemas.load(schemas.READING)
        self._max_bytes = max_bytes

    def decode(self, data: bytes) -> Reading:
        if len(data) > self._max_bytes:
            raise InvalidRecordError("too_large", f"{len(data)} bytes exceeds the {self._max_bytes}-byte cap")
        if not data:
            raise InvalidRecordError("decode_error", "empty payload")
        buf = io.BytesIO(data)
        try:
            rec: Any = schemaless_reader(buf, self._schema, None)
        except DECODE_ERRORS as exc:
            raise InvalidRecordError("decode_error", f"{type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(data):
            raise InvalidRecordError(
                "trailing_bytes", f"decoded {buf.tell()} of {len(data)} bytes; {len(data) - buf.tell()} left"
            )
        return _to_reading(rec)


def _to_reading(rec: dict[str, Any]) -> Reading:
    ts = rec["timestamp"]
    return Reading(
        device_id=rec["device_id"],
        sensor_type=rec["sensor_type"],
        value=rec["value"],
        unit=rec["unit"],
        timestamp_ms=(ts - _EPOCH) // _MS if isinstance(ts, datetime) else int(ts),
        seq=rec["seq"],
        battery_pct=rec.get("battery_pct"),
        firmware=rec.get("firmware"),
    )


def encode_reading(reading: dict[str, Any], schema: Any = None) -> bytes:
    """Schemaless Avro bytes for a ``SensorReading`` dict (producers, sample events and tests)."""
    buf = io.BytesIO()
    schemaless_writer(buf, schema if schema is not None else schemas.load(schemas.READING), reading)
    return buf.getvalue()
