"""Strict decoding of ``SensorReading`` payloads: framing, writer schema, then Avro schema resolution.

A payload is raw schemaless Avro, or framed by the AWS Glue Schema Registry or Confluent-style
(``sensorflow.core.framing``). The writer schema comes from the record: the Glue version id or the Confluent
id, looked up through ``WriterSchemas``; raw records use the stage's default writer schema. The body is then
read with that writer and the current reader schema (``schemas/sensorflow.SensorReading.avsc``), so
fields a version added take their defaults. Decoding with a wrong writer schema does not fail, it returns
garbage: hence no guessing.

Decoding already type-checks every field, so there is no per-record ``fastavro.validate`` (it costs
4-8x the decode). Strictness comes from three extra rules: a size cap, any decode exception, and
trailing bytes, which fastavro ignores on its own (it never compares ``tell()`` with the length).

Speed: schemas are parsed once; per writer schema the decoder remembers, once, whether the reader can read
it at all (``core.compatibility``) and whether it is the reader itself (then fastavro skips resolution).

Hostile writer schemas: a registered writer chooses what a record costs to read (an ``array<null>`` field, a
record that contains itself), so each writer is checked once against ``core.schema_bounds`` before its first
body, and refused as ``schema_unsafe``. When fastavro resolves, it skips the writer's extra fields without
checking a ``bytes``, ``string`` or ``fixed`` length against the bytes left (``read(n)`` returning fewer), so
those reads go through ``_StrictBuffer``: a truncated skipped field is a ``decode_error``, as a truncated read
one is.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import to_parsing_canonical_form

from sensorflow.core import compatibility, schema_bounds, schemas
from sensorflow.core.errors import InvalidRecordError, UnknownSchemaError
from sensorflow.core.framing import AUTO, Framed, Framing, unframe
from sensorflow.core.ports import WriterSchemas
from sensorflow.core.records import Reading

# A SensorReading is ~40-80 bytes; anything near a kilobyte is not one of ours. The cap applies to the
# record as sent and again to a zlib body once inflated (``decompressed_too_large``).
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
    SchemaResolutionError,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class ReadingDecoder:
    """Decodes payloads into ``Reading``; schemas parsed once per container.

    ``schema`` is the reader schema (default: the current one); ``raw_writer`` the writer schema of raw
    records (default: the reader; a stage whose raw producers send an older version passes
    ``schemas.version(n)``); ``writer_schemas`` resolves Glue and Confluent ids (without it, framed
    records are quarantined as unknown schemas); ``framings`` the framings this stage accepts."""

    def __init__(
        self,
        schema: Any = None,
        max_bytes: int = MAX_RECORD_BYTES,
        writer_schemas: WriterSchemas | None = None,
        raw_writer: Any = None,
        framings: frozenset[Framing] = AUTO,
    ) -> None:
        self._schema = schema if schema is not None else schemas.load(schemas.READING)
        self._max_bytes = max_bytes
        self._writers = writer_schemas
        self._raw_writer = raw_writer if raw_writer is not None else self._schema
        self.framings = framings
        self._canonical = to_parsing_canonical_form(self._schema)
        # How to read each writer schema seen, by id (writers come from the lookups' caches: few of them).
        self._plans: dict[int, _Plan] = {}

    def decode(self, data: bytes) -> Reading:
        if len(data) > self._max_bytes:
            raise InvalidRecordError("too_large", f"{len(data)} bytes exceeds the {self._max_bytes}-byte cap")
        if not data:
            raise InvalidRecordError("decode_error", "empty payload")
        framed = unframe(data, self.framings, self._max_bytes)
        plan = self._resolve(self._writer_of(framed))
        body = framed.body
        buf = io.BytesIO(body) if plan.reader is None else _StrictBuffer(body)
        try:
            rec: Any = schemaless_reader(buf, plan.read_as, plan.reader)
        except DECODE_ERRORS as exc:
            raise InvalidRecordError("decode_error", f"{type(exc).__name__}: {exc}") from exc
        if buf.tell() != len(body):
            raise InvalidRecordError(
                "trailing_bytes", f"decoded {buf.tell()} of {len(body)} bytes; {len(body) - buf.tell()} left"
            )
        for name, default in plan.defaults:
            rec[name] = default
        return _to_reading(rec)

    def _writer_of(self, framed: Framed) -> Any:
        if framed.framing == "raw":
            return self._raw_writer
        try:
            return self._glue(framed) if framed.framing == "glue" else self._confluent(framed)
        except UnknownSchemaError as exc:  # permanent; an outage is a TransientError and propagates
            key = framed.glue_version if framed.framing == "glue" else framed.confluent_id
            raise InvalidRecordError(f"{framed.framing}_unknown_schema", f"schema {key}: {exc}") from exc

    def _glue(self, framed: Framed) -> Any:
        if self._writers is None or framed.glue_version is None:
            raise UnknownSchemaError("this stage has no Glue schema registry")
        return self._writers.glue(framed.glue_version)

    def _confluent(self, framed: Framed) -> Any:
        if self._writers is None or framed.confluent_id is None:
            raise UnknownSchemaError("this stage has no Confluent schema id mapping")
        return self._writers.confluent(framed.confluent_id)

    def _resolve(self, writer: Any) -> _Plan:
        plan = self._plans.get(id(writer))
        if plan is None or plan.writer is not writer:
            plan = self._plan(writer)
            self._plans[id(writer)] = plan
        if plan.problem is not None:
            raise InvalidRecordError(plan.reason, plan.problem)
        return plan

    def _plan(self, writer: Any) -> _Plan:
        """How to read data of ``writer`` (made once per writer schema)."""
        if writer is self._schema:
            return _Plan(writer, self._schema, None)
        unsafe = schema_bounds.problems(writer)  # first: canonical form and resolution recurse through it
        if unsafe:
            return _Plan(writer, writer, None, problem="; ".join(unsafe), reason="schema_unsafe")
        if to_parsing_canonical_form(writer) == self._canonical:
            return _Plan(writer, self._schema, None)
        problems = compatibility.problems(self._schema, writer)
        if problems:
            return _Plan(writer, writer, None, problem="; ".join(problems))
        defaults = _added_defaults(self._schema, writer)
        if defaults is not None:
            return _Plan(writer, writer, None, defaults)
        return _Plan(writer, writer, self._schema)


@dataclass(frozen=True, slots=True)
class _Plan:
    """Read with ``read_as`` (and fastavro resolving to ``reader`` unless None), then fill ``defaults``."""

    writer: Any  # the writer schema this plan is for (kept so its id is not reused while cached)
    read_as: Any
    reader: Any
    defaults: tuple[tuple[str, Any], ...] = ()
    problem: str | None = None
    reason: str = "schema_incompatible"  # of the quarantine, when ``problem``


class _StrictBuffer(io.BytesIO):
    """A body whose ``read(n)`` never returns fewer than ``n`` bytes: fastavro's skipping of a writer field
    reads ``bytes``/``string``/``fixed`` with ``read(n)`` and does not compare. Only where fastavro resolves
    (its Python-level ``read`` adds ~5 us to a resolved read of ~45 us)."""

    def read(self, size: int | None = -1, /) -> bytes:
        out = super().read(size)
        if size is not None and 0 <= size != len(out):
            raise EOFError(f"expected {size} bytes, {len(out)} left")
        return out


def _added_defaults(reader: Any, writer: Any) -> tuple[tuple[str, Any], ...] | None:
    """The reader fields a writer lacks, with their defaults, when that is the only difference: every writer
    field is a reader field of the same type. Then reading with the writer alone and filling the defaults is
    what resolution would give, at the cost of a plain read (resolution costs about 2.5x). None otherwise."""
    theirs = {f["name"]: f["type"] for f in writer["fields"]}
    ours = {f["name"]: f for f in reader["fields"]}
    for name, kind in theirs.items():
        if name not in ours or to_parsing_canonical_form(kind) != to_parsing_canonical_form(
            ours[name]["type"]
        ):
            return None
    return tuple((f["name"], f["default"]) for f in reader["fields"] if f["name"] not in theirs)


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
        firmware_generation=rec.get("firmware_generation", 1),
        battery_mv=rec.get("battery_mv"),
    )


def encode_reading(reading: dict[str, Any], schema: Any = None) -> bytes:
    """Schemaless Avro bytes for a ``SensorReading`` dict (producers, sample events and tests); fields the
    dict lacks are written with their defaults."""
    buf = io.BytesIO()
    schemaless_writer(buf, schema if schema is not None else schemas.load(schemas.READING), reading)
    return buf.getvalue()
