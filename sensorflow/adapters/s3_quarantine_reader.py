"""Quarantined records read back from the quarantine bucket (``S3QuarantineSink``'s JSON Lines), for the
operator tools: ``sensorflow quarantine`` and the operator console import ``S3QuarantineReader`` and
``QuarantinedRecord`` from here.

Objects are listed with the ``ListObjectsV2`` paginator under ``quarantine/``; quarantined transitions
(``quarantine/transitions/``, alarm events, not stream records) are skipped by key. With ``since_ms`` an
object last modified before it is not read at all: ingest writes an object after every record in it arrived,
so its ``LastModified`` is never earlier than their arrival times (to the second it is
given in). AWS errors become ``TransientError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.adapters.s3_quarantine import TRANSITION_PREFIX
from sensorflow.core.quarantined import QuarantineCounts, QuarantinedRecord, count, from_line, matches

__all__ = ["QuarantineCounts", "QuarantineObjectNotFoundError", "QuarantinedRecord", "S3QuarantineReader"]

RECORD_PREFIX = "quarantine/"
# ListObjectsV2 gives LastModified to the second (".000Z"): an object written in the same second as
# ``since_ms`` may look older than it by up to this much.
LAST_MODIFIED_PRECISION_MS = 1000


class QuarantineObjectNotFoundError(LookupError):
    """No quarantine object has that key."""


class S3QuarantineReader:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    client = clients.lazy_client("s3")

    def entries(
        self, since_ms: int | None = None, reason: str | None = None, device: str | None = None
    ) -> list[QuarantinedRecord]:
        """The quarantined records that match (``core.quarantined.matches``), in key and line order."""
        return [
            record
            for key in self._keys(since_ms)
            for record in self.read(key)
            if matches(record, since_ms, reason, device)
        ]

    def counts(
        self, since_ms: int | None = None, reason: str | None = None, device: str | None = None
    ) -> QuarantineCounts:
        """How many records match, by reason and by UTC day of arrival."""
        return count(self.entries(since_ms, reason, device))

    def read(self, key: str) -> list[QuarantinedRecord]:
        """The records of one quarantine object (lines that are not records are left out);
        ``QuarantineObjectNotFoundError`` when there is no such object."""
        with transient("s3:GetObject quarantine"):
            try:
                body = self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                    raise QuarantineObjectNotFoundError(key) from exc
                raise
        out = []
        for index, text in enumerate(body.splitlines()):
            try:
                line = json.loads(text)
            except ValueError:
                continue
            record = from_line(key, index, line) if isinstance(line, dict) else None
            if record is not None:
                out.append(record)
        return out

    def _keys(self, since_ms: int | None) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with transient("s3:ListObjectsV2 quarantine"):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=RECORD_PREFIX):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.startswith(TRANSITION_PREFIX + "/"):
                        continue
                    modified_ms = obj["LastModified"].timestamp() * 1000
                    if since_ms is not None and modified_ms + LAST_MODIFIED_PRECISION_MS <= since_ms:
                        continue
                    yield key
