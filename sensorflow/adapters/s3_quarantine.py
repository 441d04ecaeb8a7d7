"""Quarantined records to S3 as JSON Lines: exact bytes (base64) plus a reason, one record per line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.core.ports import QuarantineEntry
from sensorflow.services.ingest import quarantine_line


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
