"""A quarantined record as the operator tools read it back: where it is kept, why, and its exact bytes.

Ingest writes one JSON line per record (``adapters.s3_quarantine.quarantine_line``) in objects under
``quarantine/year=/month=/day=/<shard>/<first sequence number>.jsonl``; a record is named by its object key
and line index (``record_id``: ``KEY#INDEX``). Records with identical bytes share a ``content_hash``
(SHA-256 of the payload): a record redriven and quarantined again is a new line in a new object with the
same hash, which is how its history is joined (``core.redrive``).

The device is the partition key when it is a device id (what the producer vouches for, and a KPL
sub-record's own key), else the payload's leading ``device_id`` when it can be read (every reading schema
version starts with it, see ``core.framing``). Pure: no AWS.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sensorflow.core import kpl
from sensorflow.core.checks import DEVICE_ID_PATTERN
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.framing import unframe

HASH_PREFIX_MIN = 8  # hex characters of a content hash an id may be abbreviated to


@dataclass(frozen=True, slots=True)
class QuarantinedRecord:
    key: str  # the quarantine object
    index: int  # the line in it, from 0
    reason: str
    detail: str
    payload: bytes
    partition_key: str
    sequence_number: str
    shard_id: str
    arrival_time_ms: int
    device_id: str | None  # see the module doc; None when neither names a device
    sub_sequence_number: int | None = None

    @property
    def record_id(self) -> str:
        return f"{self.key}#{self.index}"

    @property
    def content_hash(self) -> str:
        return content_hash(self.payload)

    @property
    def day(self) -> str:
        """The UTC day of its arrival in the stream, ``YYYY-MM-DD``."""
        return datetime.fromtimestamp(self.arrival_time_ms / 1000, tz=UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class QuarantineCounts:
    total: int
    by_reason: dict[str, int]  # most first, then by name
    by_day: dict[str, int]  # oldest first

    def to_json(self) -> dict[str, Any]:
        return {"total": self.total, "by_reason": self.by_reason, "by_day": self.by_day}


def content_hash(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def from_line(key: str, index: int, line: dict[str, Any]) -> QuarantinedRecord | None:
    """The record of one quarantine line; None for a line that is not a record (a quarantined transition,
    ``quarantine/transitions/``, has no payload) or that is malformed."""
    try:
        payload = base64.b64decode(line["payload"], validate=True)
        arrival = datetime.fromisoformat(str(line["arrival_time"]).replace("Z", "+00:00"))
        partition_key = str(line["partition_key"])
        sub = line.get("sub_sequence_number")
        return QuarantinedRecord(
            key=key,
            index=index,
            reason=str(line["reason"]),
            detail=str(line.get("detail", "")),
            payload=payload,
            partition_key=partition_key,
            sequence_number=str(line["sequence_number"]),
            shard_id=str(line["shard_id"]),
            arrival_time_ms=int(arrival.timestamp() * 1000),
            device_id=device_of(partition_key, payload),
            sub_sequence_number=int(sub) if sub is not None else None,
        )
    except (KeyError, TypeError, ValueError, binascii.Error):
        return None


def device_of(partition_key: str, payload: bytes) -> str | None:
    if DEVICE_ID_PATTERN.fullmatch(partition_key):
        return partition_key
    found = leading_device_id(payload)
    return found if found is not None and DEVICE_ID_PATTERN.fullmatch(found) else None


def leading_device_id(payload: bytes) -> str | None:
    """The payload's first Avro field, a string, when it can be read (any framing but KPL)."""
    if not payload or kpl.is_aggregated(payload):
        return None
    try:
        body = unframe(payload).body
    except InvalidRecordError:
        return None
    length, pos, shift = 0, 0, 0
    while pos < min(len(body), 10):
        byte = body[pos]
        length |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            break
    else:
        return None
    size = (length >> 1) ^ -(length & 1)  # zig-zag
    if size <= 0 or pos + size > len(body):
        return None
    try:
        return body[pos : pos + size].decode("utf-8")
    except UnicodeDecodeError:
        return None


def matches(
    record: QuarantinedRecord,
    since_ms: int | None = None,
    reason: str | None = None,
    device: str | None = None,
) -> bool:
    """The filters of ``quarantine list`` / ``redrive``: arrived at or after ``since_ms``, for ``reason``,
    of ``device`` (its device id or partition key)."""
    if since_ms is not None and record.arrival_time_ms < since_ms:
        return False
    if reason is not None and record.reason != reason:
        return False
    return device is None or device in (record.device_id, record.partition_key)


def count(records: Iterable[QuarantinedRecord]) -> QuarantineCounts:
    reasons: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for r in records:
        reasons[r.reason] += 1
        days[r.day] += 1
    return QuarantineCounts(
        total=sum(reasons.values()),
        by_reason=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_day=dict(sorted(days.items())),
    )


def newest_first(records: Iterable[QuarantinedRecord]) -> list[QuarantinedRecord]:
    return sorted(records, key=lambda r: (r.arrival_time_ms, r.key, r.index), reverse=True)


def split_id(text: str) -> tuple[str, int] | None:
    """``KEY#INDEX`` as (key, index); None when ``text`` is not of that form."""
    key, sep, index = text.rpartition("#")
    if not sep or not key or not index.isdigit():
        return None
    return key, int(index)


def is_hash_prefix(text: str) -> bool:
    return HASH_PREFIX_MIN <= len(text) <= 64 and all(c in "0123456789abcdef" for c in text)
