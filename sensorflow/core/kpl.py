"""De-aggregation of Kinesis Producer Library (KPL) aggregated records. Lambda does not do it.

Format (awslabs/amazon-kinesis-producer, aggregation-format.md; also
docs.aws.amazon.com/streams/latest/dev/kinesis-record-deaggregation.html): the magic ``F3 89 9A C2``, a
protobuf ``AggregatedRecord``, then the 16-byte MD5 of the protobuf bytes::

    message AggregatedRecord {
      repeated string partition_key_table     = 1;
      repeated string explicit_hash_key_table = 2;
      repeated Record records                 = 3;
    }
    message Record {
      required uint64 partition_key_index     = 1;
      optional uint64 explicit_hash_key_index = 2;
      required bytes  data                    = 3;
      repeated Tag    tags                    = 4;   // ignored here
    }

The decoder is ours: ``aws-kinesis-agg`` would bring ``protobuf`` (about 1.5 MB and its import time) into the
Lambda zip for three message fields. It reads varints and length-delimited fields, skips fields it does not
know (wire types 0, 1, 2 and 5, as protobuf requires), and checks every length against the bytes left, so a
truncated or lying record is ``kpl_truncated``, never an IndexError or a huge allocation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sensorflow.core.errors import InvalidRecordError

MAGIC = b"\xf3\x89\x9a\xc2"
DIGEST_BYTES = 16  # MD5
# KPL's AggregationMaxSize defaults to 51,200 bytes; a Kinesis record is at most 1 MiB. Sub-records of a
# real reading are 40+ bytes, so 1 MiB holds at most ~25,000: refuse more than this many as a bomb of empty
# sub-records (each costs a decode and a registry lookup).
MAX_SUB_RECORDS = 25_000

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_MAX_VARINT_BYTES = 10  # a uint64


@dataclass(frozen=True, slots=True)
class SubRecord:
    """One user record of an aggregated record, with its position (the KCL's sub-sequence number)."""

    index: int
    partition_key: str
    explicit_hash_key: str | None
    data: bytes


def is_aggregated(data: bytes) -> bool:
    return data[:4] == MAGIC


def deaggregate(data: bytes) -> list[SubRecord]:
    """The sub-records of an aggregated record (``is_aggregated(data)``), in order.

    ``kpl_truncated`` when the bytes end early or a length points past them, ``kpl_bad_digest`` when the MD5
    does not match, ``kpl_malformed`` for a well-framed protobuf that breaks the message's rules."""
    if len(data) < len(MAGIC) + DIGEST_BYTES:
        raise InvalidRecordError(
            "kpl_truncated", f"{len(data)} bytes; magic and digest alone are {len(MAGIC) + DIGEST_BYTES}"
        )
    message, digest = data[len(MAGIC) : -DIGEST_BYTES], data[-DIGEST_BYTES:]
    if hashlib.md5(message, usedforsecurity=False).digest() != digest:
        raise InvalidRecordError("kpl_bad_digest", "the MD5 of the protobuf does not match its last 16 bytes")
    keys: list[str] = []
    hash_keys: list[str] = []
    raw: list[bytes] = []
    for field, value in _fields(message, 0, len(message)):
        if field == 1:
            keys.append(_text(value, "partition key"))
        elif field == 2:
            hash_keys.append(_text(value, "explicit hash key"))
        elif field == 3:
            if not isinstance(value, bytes):
                raise InvalidRecordError("kpl_malformed", "a record is not length-delimited")
            raw.append(value)
            if len(raw) > MAX_SUB_RECORDS:
                raise InvalidRecordError("kpl_malformed", f"more than {MAX_SUB_RECORDS} sub-records")
    return [_record(i, r, keys, hash_keys) for i, r in enumerate(raw)]


def _record(index: int, message: bytes, keys: list[str], hash_keys: list[str]) -> SubRecord:
    key_index: int | None = None
    hash_index: int | None = None
    data: bytes | None = None
    for field, value in _fields(message, 0, len(message)):
        if field == 1 and isinstance(value, int):
            key_index = value
        elif field == 2 and isinstance(value, int):
            hash_index = value
        elif field == 3 and isinstance(value, bytes):
            data = value
    if key_index is None or data is None:
        raise InvalidRecordError(
            "kpl_malformed", f"sub-record {index} lacks its partition_key_index or data (both required)"
        )
    if key_index >= len(keys):
        raise InvalidRecordError(
            "kpl_malformed", f"sub-record {index}: partition_key_index {key_index} of {len(keys)} keys"
        )
    if hash_index is not None and hash_index >= len(hash_keys):
        raise InvalidRecordError(
            "kpl_malformed", f"sub-record {index}: explicit_hash_key_index {hash_index} of {len(hash_keys)}"
        )
    return SubRecord(index, keys[key_index], None if hash_index is None else hash_keys[hash_index], data)


def _fields(buf: bytes, pos: int, end: int) -> list[tuple[int, int | bytes]]:
    """``(field number, value)`` of each field in ``buf[pos:end]``: varints as int, length-delimited as
    bytes; fixed-width fields are skipped (none of ours is one)."""
    out: list[tuple[int, int | bytes]] = []
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if field == 0:
            raise InvalidRecordError("kpl_malformed", "field number 0")
        if wire == _VARINT:
            value, pos = _varint(buf, pos, end)
            out.append((field, value))
        elif wire == _LEN:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise InvalidRecordError(
                    "kpl_truncated", f"field {field} declares {length} bytes; {end - pos} are left"
                )
            out.append((field, buf[pos : pos + length]))
            pos += length
        elif wire in (_I64, _I32):
            width = 8 if wire == _I64 else 4
            if width > end - pos:
                raise InvalidRecordError(
                    "kpl_truncated", f"field {field} needs {width} bytes; {end - pos} left"
                )
            pos += width
        else:  # 3 and 4 are proto2 groups (unused by this message), 6 and 7 do not exist
            raise InvalidRecordError("kpl_malformed", f"field {field} has wire type {wire}")
    return out


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    if pos < end and buf[pos] < 0x80:  # one byte: every tag, index and length under 128
        return buf[pos], pos + 1
    result = shift = 0
    for i in range(pos, min(end, pos + _MAX_VARINT_BYTES)):
        byte = buf[i]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i + 1
        shift += 7
    if end - pos >= _MAX_VARINT_BYTES:
        raise InvalidRecordError("kpl_malformed", f"a varint at byte {pos} runs past 10 bytes")
    raise InvalidRecordError("kpl_truncated", f"a varint at byte {pos} runs past the end")


def _text(value: int | bytes, what: str) -> str:
    if not isinstance(value, bytes):
        raise InvalidRecordError("kpl_malformed", f"a {what} is not length-delimited")
    try:
        return value.decode()
    except UnicodeDecodeError as exc:
        raise InvalidRecordError("kpl_malformed", f"a {what} is not UTF-8") from exc


def aggregate(records: list[tuple[str, bytes]]) -> bytes:
    """An aggregated record of ``(partition key, data)`` pairs, as the KPL writes it (tests, simulator)."""
    keys: dict[str, int] = {}
    message = bytearray()
    for key, _ in records:
        if key not in keys:
            keys[key] = len(keys)
            message += _len_field(1, key.encode())
    for key, data in records:
        inner = _tag(1, _VARINT) + _encode_varint(keys[key]) + _len_field(3, data)
        message += _len_field(3, inner)
    body = bytes(message)
    return MAGIC + body + hashlib.md5(body, usedforsecurity=False).digest()


def _tag(field: int, wire: int) -> bytes:
    return _encode_varint(field << 3 | wire)


def _len_field(field: int, value: bytes) -> bytes:
    return _tag(field, _LEN) + _encode_varint(len(value)) + value


def _encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
