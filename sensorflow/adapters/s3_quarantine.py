"""Quarantined records to S3 as JSON Lines: exact bytes (base64) plus a reason, one record per line."""

from __future__ import annotations

import json
from base64 import b64encode
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.core.ports import QuarantineEntry


def quarantine_line(entry: QuarantineEntry) -> str:
    """The JSON Lines form of a quarantine entry (one record per line)."""
    return json.dumps(
        {
            "reason": entry.reason,
            "detail": entry.detail,
            "payload": b64encode(entry.payload).decode("ascii"),
            "partition_key": entry.partition_key,
            "sequence_number": entry.sequence_number,
            "shard_id": entry.shard_id,
            "arrival_time": datetime.fromtimestamp(entry.arrival_time_ms / 1000, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
        },
        separators=(",", ":"),
    )


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
