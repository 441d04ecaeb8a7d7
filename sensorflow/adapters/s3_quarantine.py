"""Quarantined records to S3 as JSON Lines: exact bytes (base64) plus a reason, one record per line.

Transitions no publisher can take (``transition_too_large``, see ``services.outbox``) go to the same bucket,
one object per event and publisher under ``TRANSITION_PREFIX``, so a resend overwrites its own object. The
line keeps the whole event document: it comes from a DynamoDB item (400 KB at most), and S3 has room.
"""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.core.ports import QuarantineEntry, TransitionLike

# Under the ``quarantine/`` prefix the ingest role may write (serverless.yml, WriteQuarantine).
TRANSITION_PREFIX = "quarantine/transitions"


def quarantine_line(entry: QuarantineEntry) -> str:
    """The JSON Lines form of a quarantine entry (one record per line). A KPL sub-record's line also has
    ``sub_sequence_number`` (its payload is the sub-record's bytes, its partition key the sub-record's)."""
    line: dict[str, Any] = {
        "reason": entry.reason,
        "detail": entry.detail,
        "payload": b64encode(entry.payload).decode("ascii"),
        "partition_key": entry.partition_key,
        "sequence_number": entry.sequence_number,
        "shard_id": entry.shard_id,
        "arrival_time": datetime.fromtimestamp(entry.arrival_time_ms / 1000, tz=UTC).isoformat(
            timespec="milliseconds"
        ),
    }
    if entry.sub_sequence_number is not None:
        line["sub_sequence_number"] = entry.sub_sequence_number
    return json.dumps(line, separators=(",", ":"))


def transition_line(event: TransitionLike, publisher: str, reason: str, detail: str) -> str:
    """The JSON Lines form of a quarantined transition: why, where it was refused, and the document."""
    document = event.to_message()
    alarm = document.get("alarm") or {}
    return json.dumps(
        {
            "reason": reason,
            "detail": detail,
            "publisher": publisher,
            "event_id": event.event_id,
            "alarm_id": alarm.get("alarm_id"),
            "transition": document.get("transition"),
            "occurred_at": document.get("occurred_at"),
            "document_bytes": len(json.dumps(document, separators=(",", ":")).encode()),
            "document": document,
        },
        separators=(",", ":"),
    )


def transition_key(event: TransitionLike, publisher: str) -> str:
    """``quarantine/transitions/year=/month=/day=/<event id>.<publisher>.jsonl``, dated by the event."""
    occurred = str(event.to_message().get("occurred_at") or "")
    try:
        day = datetime.fromisoformat(occurred.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return f"{TRANSITION_PREFIX}/undated/{event.event_id}.{publisher}.jsonl"
    return f"{TRANSITION_PREFIX}/year={day:%Y}/month={day:%m}/day={day:%d}/{event.event_id}.{publisher}.jsonl"


class S3QuarantineSink:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    client = clients.lazy_client("s3")

    def write(self, key: str, entries: Sequence[QuarantineEntry]) -> None:
        body = "".join(quarantine_line(e) + "\n" for e in entries).encode()
        with transient("s3:PutObject quarantine"):
            self.client.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="application/x-ndjson"
            )

    def write_transition(self, event: TransitionLike, publisher: str, reason: str, detail: str) -> None:
        """Keep a transition ``publisher`` refused for good (``TransientError`` if S3 did not take it)."""
        body = (transition_line(event, publisher, reason, detail) + "\n").encode()
        with transient("s3:PutObject quarantine transition"):
            self.client.put_object(
                Bucket=self._bucket,
                Key=transition_key(event, publisher),
                Body=body,
                ContentType="application/x-ndjson",
            )
