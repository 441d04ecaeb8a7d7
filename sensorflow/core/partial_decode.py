"""Decode a quarantined payload as far as it goes: the framing, its header, each Avro field up to the failure.

``sensorflow quarantine show`` (and the operator console) explain a record with it; ingest never calls it.
Where ``core.decode`` is strict and all-or-nothing, this reads the body one writer field at a time, so the
fields before a failure are shown with their byte ranges and the error names the field and offset where
reading stopped. The writer schema is the one the record names when the caller can resolve it
(``named``: a Confluent id from the shipped mapping, a Glue version the caller looked up); otherwise each
candidate (the kept versions, newest first) is tried and the one that reads furthest is reported, marked as
a guess: decoding with a wrong writer does not fail, it returns garbage, so a guess is only a hint.

A KPL aggregated record is de-aggregated and each sub-record decoded the same way. Pure: no AWS.
"""

from __future__ import annotations

import io
import re
import string
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import fastavro

from sensorflow.core import kpl, schema_bounds
from sensorflow.core.decode import DECODE_ERRORS, MAX_RECORD_BYTES
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.framing import (
    CONFLUENT_MAGIC,
    GLUE_COMPRESSION_ZLIB,
    GLUE_HEADER_VERSION,
    Framed,
    unframe,
)

# (label, writer schema): e.g. ("sensorflow.SensorReading v2", <schema>)
LabelledSchema = tuple[str, Any]
NamedWriter = Callable[[Framed], LabelledSchema | None]
HEX_DUMP_WIDTH = 16
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_OBJECT_REPR = re.compile(r" from <[^>]*>")
_PRINTABLE = frozenset(string.printable.encode()) - frozenset(b"\t\n\r\x0b\x0c")


@dataclass(frozen=True, slots=True)
class DecodedField:
    name: str
    value: Any  # JSON-friendly: datetimes as ISO-8601, bytes as hex
    start: int  # byte offsets in the Avro body
    end: int


@dataclass(frozen=True, slots=True)
class PartialDecode:
    """How far a payload decodes. ``error`` is None only when every field decoded and no byte was left."""

    size: int
    framing: str  # raw, glue, confluent, kpl, or "unknown" (empty payload)
    header: dict[str, Any]
    writer: str | None  # the writer schema's label, " (guessed)" when not named by the record
    fields: tuple[DecodedField, ...]
    error: str | None
    error_offset: int | None  # in the Avro body (in the payload when the framing failed)
    sub_records: tuple[tuple[int, str, PartialDecode], ...] = field(default=())  # KPL: index, key, decode

    @property
    def complete(self) -> bool:
        return self.error is None and all(s.complete for _, _, s in self.sub_records)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "framing": self.framing,
            "header": self.header,
            "writer": self.writer,
            "fields": [
                {"name": f.name, "value": f.value, "start": f.start, "end": f.end} for f in self.fields
            ],
            "error": self.error,
            "error_offset": self.error_offset,
            "sub_records": [{"index": i, "partition_key": k, **d.to_json()} for i, k, d in self.sub_records],
        }


def hex_dump(data: bytes, width: int = HEX_DUMP_WIDTH, limit: int | None = None) -> list[str]:
    """``hexdump -C``-style lines: offset, bytes in hex, printable ASCII (others as ``.``); at most
    ``limit`` bytes shown, then a line saying how many were left out."""
    shown = data if limit is None else data[:limit]
    lines = []
    for offset in range(0, len(shown), width):
        chunk = shown[offset : offset + width]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if b in _PRINTABLE else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<{width * 3 - 1}}  |{text}|")
    if len(shown) < len(data):
        lines.append(f"... {len(data) - len(shown)} more bytes")
    return lines


def partial_decode(
    data: bytes, candidates: Sequence[LabelledSchema], named: NamedWriter | None = None
) -> PartialDecode:
    """``data`` decoded as far as it goes (never raises on any input)."""
    if not data:
        return PartialDecode(0, "unknown", {}, None, (), "empty payload", 0)
    if kpl.is_aggregated(data):
        return _kpl(data, candidates, named)
    try:
        framed = unframe(data)
    except InvalidRecordError as exc:
        return PartialDecode(
            len(data), _framing_of(data), _header(data), None, (), f"{exc.reason}: {exc.detail}", 0
        )
    header = _header(data)
    known = named(framed) if named is not None else None
    if known is not None:
        fields, error, offset = read_fields(framed.body, known[1])
        return PartialDecode(len(data), framed.framing, header, known[0], fields, error, offset)
    best: PartialDecode | None = None
    for label, schema in candidates:
        fields, error, offset = read_fields(framed.body, schema)
        guess = PartialDecode(len(data), framed.framing, header, f"{label} (guessed)", fields, error, offset)
        if best is None or _further(guess, best):
            best = guess
    if best is None:
        return PartialDecode(len(data), framed.framing, header, None, (), "no writer schema to try", 0)
    return best


def _further(a: PartialDecode, b: PartialDecode) -> bool:
    """``a`` reads further than ``b``: complete beats incomplete, then more fields (ties: the earlier)."""
    return (a.error is None, len(a.fields)) > (b.error is None, len(b.fields))


def read_fields(body: bytes, writer: Any) -> tuple[tuple[DecodedField, ...], str | None, int | None]:
    """The fields of record schema ``writer`` read from ``body`` one at a time: those read, and the error
    (with its body offset) at the first that fails or at bytes left after the last."""
    unsafe = schema_bounds.problems(writer)
    if (
        unsafe
    ):  # an array<null> bomb or a recursive type: fastavro would loop or crash (ingest: schema_unsafe)
        return (), f"schema_unsafe: the writer schema is not read ({'; '.join(unsafe)})", 0
    buf = io.BytesIO(body)
    named: dict[str, Any] = {}
    namespace = _namespace(writer)
    out: list[DecodedField] = []
    for f in writer["fields"]:
        start = buf.tell()
        try:
            value = fastavro.schemaless_reader(buf, _parse(f["type"], named, namespace), None)
        except DECODE_ERRORS as exc:
            error = _OBJECT_REPR.sub("", str(exc))  # fastavro names the stream object: not stable
            return tuple(out), f"field {f['name']!r} at byte {start}: {type(exc).__name__}: {error}", start
        out.append(DecodedField(f["name"], _plain(value), start, buf.tell()))
    if buf.tell() != len(body):
        left = len(body) - buf.tell()
        return tuple(out), f"trailing_bytes: {left} bytes left after the last field", buf.tell()
    if len(body) > MAX_RECORD_BYTES:
        return tuple(out), f"too_large: {len(body)} bytes exceeds the {MAX_RECORD_BYTES}-byte cap", 0
    return tuple(out), None, None


def _namespace(writer: Any) -> str:
    name = str(writer.get("name", ""))
    return str(writer.get("namespace") or (name.rsplit(".", 1)[0] if "." in name else ""))


def _parse(kind: Any, named: dict[str, Any], namespace: str) -> Any:
    """One field's type, parsed; named types defined by earlier fields resolve (short names in the
    record's namespace)."""
    if isinstance(kind, str) and kind not in _PRIMITIVES and "." not in kind and namespace:
        kind = f"{namespace}.{kind}"
    if isinstance(kind, dict) and "name" in kind and "namespace" not in kind and "." not in kind["name"]:
        kind = {**kind, "namespace": namespace}
    return fastavro.parse_schema(kind, named_schemas=named)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return value.hex()
    return value


def _framing_of(data: bytes) -> str:
    first = data[0]
    if first == GLUE_HEADER_VERSION:
        return "glue"
    if first == CONFLUENT_MAGIC:
        return "confluent"
    return "raw"


def _header(data: bytes) -> dict[str, Any]:
    """The header fields of a Glue or Confluent payload, as far as the bytes go."""
    framing = _framing_of(data)
    if framing == "glue":
        header: dict[str, Any] = {"header_version": f"0x{data[0]:02x}"}
        if len(data) > 1:
            compression = data[1]
            header["compression"] = {0: "none", GLUE_COMPRESSION_ZLIB: "zlib"}.get(
                compression, f"0x{compression:02x} (unknown)"
            )
        if len(data) >= 18:
            header["schema_version_id"] = str(uuid.UUID(bytes=data[2:18]))
        return header
    if framing == "confluent":
        header = {"magic": "0x00"}
        if len(data) >= 5:
            header["schema_id"] = int.from_bytes(data[1:5], "big")
        return header
    return {}


def _kpl(data: bytes, candidates: Sequence[LabelledSchema], named: NamedWriter | None) -> PartialDecode:
    header: dict[str, Any] = {"magic": kpl.MAGIC.hex()}
    try:
        subs = kpl.deaggregate(data)
    except InvalidRecordError as exc:
        return PartialDecode(len(data), "kpl", header, None, (), f"{exc.reason}: {exc.detail}", 0)
    header["sub_records"] = len(subs)
    decoded = tuple((s.index, s.partition_key, partial_decode(s.data, candidates, named)) for s in subs)
    error = None if subs else "kpl_empty: an aggregated record without sub-records"
    return PartialDecode(len(data), "kpl", header, None, (), error, None, decoded)
