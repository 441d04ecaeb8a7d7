"""Wire framings of a reading's bytes: AWS Glue Schema Registry, Confluent-style, or raw schemaless Avro.

Byte layouts (every violation is its own quarantine reason):

- **Glue** (awslabs/aws-glue-schema-registry, ``AWSSchemaRegistryConstants``): byte 0 the header version
  ``0x03``; byte 1 the compression, ``0x00`` none or ``0x05`` zlib (the whole body, zlib-wrapped); bytes
  2..17 the schema version UUID; then the Avro body.
- **Confluent**: byte 0 ``0x00``; bytes 1..4 the schema id, big-endian; then the Avro body.
- **Raw**: the Avro body alone, read with the configured default writer schema.

KPL aggregation wraps any of these and is taken off first (``sensorflow.core.kpl``).

How ``auto`` tells them apart. Every ``SensorReading`` version starts with ``device_id`` (a string; ``schemas
check`` enforces it), and Avro writes a string's length first as a zig-zag varint: a raw reading's first byte
is even (a non-negative length; odd bytes are negative lengths, ``0xF3`` included), and ``0x00`` is an empty
device id, which ``checks.DEVICE_ID_PATTERN`` refuses (3 to 64 characters). So no valid raw reading starts
with ``0x00``, ``0x03`` or the KPL magic, and ``auto`` reads ``0x03`` as Glue, ``0x00`` as Confluent, the KPL
magic as KPL, and anything else as raw, where an odd first byte fails as a negative length
(``decode_error``, as before framings existed). A stage can accept fewer framings (``accepted``,
``parse_framings``): a first byte that no accepted framing explains is then ``unknown_framing``, or, for a
stage that accepts Glue alone (or Confluent alone), the header it expected (``glue_bad_version``,
``confluent_bad_magic``).
"""

from __future__ import annotations

import functools
import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Literal

from sensorflow.core.errors import InvalidRecordError

Framing = Literal["raw", "glue", "confluent", "kpl"]
FRAMINGS: tuple[Framing, ...] = ("raw", "glue", "confluent", "kpl")
AUTO: frozenset[Framing] = frozenset(FRAMINGS)

# AWSSchemaRegistryConstants: HEADER_VERSION_BYTE = 3, COMPRESSION_DEFAULT_BYTE = 0, COMPRESSION_BYTE = 5,
# then a 16-byte schema version UUID (HEADER_VERSION_BYTE_SIZE + COMPRESSION_BYTE_SIZE + 16 = 18).
GLUE_HEADER_VERSION = 0x03
GLUE_COMPRESSION_NONE = 0x00
GLUE_COMPRESSION_ZLIB = 0x05
GLUE_HEADER_BYTES = 18
CONFLUENT_MAGIC = 0x00
CONFLUENT_HEADER_BYTES = 5  # magic byte + 4-byte big-endian schema id

# A zlib body never inflates past this: a zip bomb stops here instead of exhausting the container's memory.
# 1 MiB is the Kinesis record limit, so nothing a producer could have sent uncompressed is refused; the
# decoder passes its own, smaller record cap.
MAX_DECOMPRESSED_BYTES = 1024 * 1024

_ID = struct.Struct(">I")


@dataclass(frozen=True, slots=True)
class Framed:
    """A record's Avro body and the writer schema it names (Glue version id, Confluent id, or none: raw)."""

    framing: Framing
    body: bytes
    glue_version: uuid.UUID | None = None
    confluent_id: int | None = None


def parse_framings(text: str) -> frozenset[Framing]:
    """``auto`` or a comma-separated subset of ``raw,glue,confluent,kpl`` (a stage setting)."""
    words = {w.strip() for w in text.split(",") if w.strip()}
    if words == {"auto"}:
        return AUTO
    unknown = sorted(words - set(FRAMINGS))
    if unknown or not words:
        raise ValueError(f"framings {text!r}: expected 'auto' or a subset of {','.join(FRAMINGS)}")
    return frozenset(w for w in FRAMINGS if w in words)


def unframe(
    data: bytes, accepted: frozenset[Framing] = AUTO, max_decompressed: int = MAX_DECOMPRESSED_BYTES
) -> Framed:
    """The framing of ``data`` (never empty) and its body, or ``InvalidRecordError`` naming the violation."""
    first = data[0]
    if first == GLUE_HEADER_VERSION and "glue" in accepted:
        return _glue(data, max_decompressed)
    if first == CONFLUENT_MAGIC and "confluent" in accepted:
        return _confluent(data)
    if "raw" in accepted:
        return Framed("raw", data)
    framed = accepted & {"glue", "confluent"}
    if framed == {"glue"}:
        raise InvalidRecordError(
            "glue_bad_version",
            f"byte 0 is 0x{first:02x}; the Glue header version is 0x{GLUE_HEADER_VERSION:02x}",
        )
    if framed == {"confluent"}:
        raise InvalidRecordError(
            "confluent_bad_magic", f"byte 0 is 0x{first:02x}; the Confluent magic byte is 0x00"
        )
    raise InvalidRecordError(
        "unknown_framing", f"byte 0 is 0x{first:02x}: no accepted framing ({','.join(sorted(accepted))})"
    )


def _glue(data: bytes, max_decompressed: int) -> Framed:
    if len(data) < GLUE_HEADER_BYTES:
        raise InvalidRecordError(
            "glue_truncated", f"{len(data)} bytes; the Glue header alone is {GLUE_HEADER_BYTES}"
        )
    compression = data[1]
    version = _version_id(data[2:GLUE_HEADER_BYTES])
    body = data[GLUE_HEADER_BYTES:]
    if compression == GLUE_COMPRESSION_ZLIB:
        body = inflate(body, max_decompressed)
    elif compression != GLUE_COMPRESSION_NONE:
        raise InvalidRecordError(
            "glue_bad_compression",
            f"compression byte 0x{compression:02x}; expected 0x00 (none) or 0x05 (zlib)",
        )
    return Framed("glue", body, glue_version=version)


@functools.lru_cache(maxsize=1024)
def _version_id(raw: bytes) -> uuid.UUID:
    """The UUID of 16 header bytes; a stream names few versions, and building a UUID costs ~2 us a record."""
    return uuid.UUID(bytes=raw)


def _confluent(data: bytes) -> Framed:
    if len(data) < CONFLUENT_HEADER_BYTES:
        raise InvalidRecordError(
            "confluent_truncated",
            f"{len(data)} bytes; the Confluent header alone is {CONFLUENT_HEADER_BYTES}",
        )
    (schema_id,) = _ID.unpack_from(data, 1)
    return Framed("confluent", data[CONFLUENT_HEADER_BYTES:], confluent_id=schema_id)


def inflate(body: bytes, limit: int) -> bytes:
    """``body`` zlib-decompressed, never producing more than ``limit`` bytes (``decompressed_too_large``)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidRecordError("glue_bad_zlib", f"zlib: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise InvalidRecordError(
            "decompressed_too_large",
            f"the zlib body inflates past the {limit}-byte cap ({len(body)} bytes in)",
        )
    if not inflater.eof:
        raise InvalidRecordError("glue_bad_zlib", "zlib: the compressed body is truncated")
    if inflater.unused_data:
        raise InvalidRecordError(
            "glue_bad_zlib", f"{len(inflater.unused_data)} bytes after the end of the zlib stream"
        )
    return out
