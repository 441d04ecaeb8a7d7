"""Encoding readings as schemaless Avro, and crafting malformed payloads with a known decode outcome.

Each malformed kind is built so ``ReadingDecoder`` rejects it for one reason, by construction:

- ``truncated``: a proper prefix of a real payload. Every field is needed, so any cut ends the decode
  early (EOF in a varint, string or double).
- ``random_bytes``: random bytes whose first byte has its low bit set. The first field is the
  ``device_id`` string, whose length is a zigzag varint; an odd first byte makes that length negative.
- ``wrong_schema``: a reading written by a legacy Avro schema that starts with the timestamp, or as
  JSON text. The legacy timestamp's zigzag varint reads as a string length of ~3.5e12 bytes; JSON
  starts with ``{`` (0x7b, odd), a negative length.
- ``trailing_bytes``: a real payload followed by extra bytes (a second payload, a newline, padding).
"""

from __future__ import annotations

import io
import json
import random
from typing import Any

from fastavro import parse_schema, schemaless_writer

from sensorflow.core import schemas
from sensorflow.simulate.scenarios import RANDOM_BYTES, TRAILING_BYTES, TRUNCATED, WRONG_SCHEMA

_LEGACY_SCHEMA = parse_schema(
    {
        "type": "record",
        "name": "LegacyReading",
        "namespace": "sensorflow.v0",
        "doc": "What firmware 1.x sent before SensorReading existed: time first, one float.",
        "fields": [
            {"name": "ts", "type": "long"},
            {"name": "sensor", "type": "string"},
            {"name": "kind", "type": "string"},
            {"name": "reading", "type": "float"},
        ],
    }
)


class ReadingEncoder:
    """Writes ``sensorflow.SensorReading`` dictionaries as schemaless Avro (the raw wire format), in the
    current schema or the given writer schema (a version of ``schemas/history``)."""

    def __init__(self, schema: Any = None) -> None:
        self._schema = schema if schema is not None else schemas.load(schemas.READING)

    def encode(self, reading: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        schemaless_writer(buf, self._schema, reading)
        return buf.getvalue()


def malformed_payload(kind: str, reading: dict[str, Any], valid: bytes, rng: random.Random) -> bytes:
    """Bytes of the given malformed ``kind`` derived from ``reading`` (whose encoding is ``valid``)."""
    if kind == TRUNCATED:
        return valid[: rng.randint(1, len(valid) - 1)]
    if kind == RANDOM_BYTES:
        data = bytearray(rng.getrandbits(8) for _ in range(rng.randint(8, 96)))
        data[0] |= 0x01
        if data[0] == 0x03:  # the Glue header byte (core.framing): keep it a negative raw string length
            data[0] = 0x05
        return bytes(data)
    if kind == WRONG_SCHEMA:
        # A legacy timestamp reads as an impossible string length unless it is tiny (before 1970-01-01T00:17).
        if rng.random() < 0.5 and reading["timestamp"] > 1_000_000:
            buf = io.BytesIO()
            schemaless_writer(
                buf,
                _LEGACY_SCHEMA,
                {
                    "ts": reading["timestamp"],
                    "sensor": reading["device_id"],
                    "kind": reading["sensor_type"],
                    "reading": reading["value"],
                },
            )
            return buf.getvalue()
        text = {k: reading[k] for k in ("device_id", "sensor_type", "value", "unit", "timestamp", "seq")}
        return json.dumps(text, separators=(",", ":")).encode()
    if kind == TRAILING_BYTES:
        tail = rng.choice((b"\n", b"\x00\x00\x00\x00", valid, bytes(rng.getrandbits(8) for _ in range(3))))
        return valid + tail
    raise ValueError(f"unknown malformed kind {kind!r}")
