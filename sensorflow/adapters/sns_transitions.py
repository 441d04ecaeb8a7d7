"""Alarm transitions to the SNS topic with ``PublishBatch``.

``SnsPublisher`` owns the limits (chunking by count and bytes, resending only the failed entries);
``SnsTransitionPublisher`` only builds entries.

Limits (docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html): at most 10 entries with distinct
Ids, and each message and the whole batch at most 262,144 bytes, message attributes included.
moto 5.2.5 enforces the entry count but not the byte totals, so they are computed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.adapters.logs import logger
from sensorflow.adapters.retry import resend_failed
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import RemainingTime, TransitionLike

PUBLISH_BATCH_MAX_ENTRIES = 10  # SNS PublishBatch: entries per call
PUBLISH_BATCH_MAX_BYTES = 262_144  # SNS: message + attributes, per message and per batch
# Filter-policy attributes (SNS allows 10 per message). `suppressed` is "none", "silenced" or "inhibited":
# the email subscription and notify pass only "none" (sensorflow.core.alarms.suppression).
TRANSITION_ATTRIBUTES = (
    "transition",
    "severity",
    "sensor_type",
    "site",
    "device_id",
    "owner_team",
    "suppressed",
)
# SNS Publish/PublishBatch: "Subjects must be ... less than 100 characters long" (API_Publish.html). A
# longer one is a SenderFault, which the outbox would keep and resend forever, stalling the shard.
SUBJECT_MAX_CHARS = 99


def transition_entry(event: TransitionLike) -> dict[str, Any]:
    doc = event.to_message()
    attrs = event.attributes()
    subject = f"[{attrs['severity']}] {attrs['transition']}: {doc['alarm']['alarm_id']}"
    return {
        "Id": event.event_id,
        "Message": json.dumps(doc, separators=(",", ":")),
        "Subject": subject[:SUBJECT_MAX_CHARS],
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": attrs[name]} for name in TRANSITION_ATTRIBUTES
        },
    }


def entry_size(entry: dict[str, Any]) -> int:
    """Bytes SNS counts for one entry: the message plus each attribute's name, type and value."""
    size = len(entry["Message"].encode())
    for name, attr in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attr["DataType"].encode()) + len(attr["StringValue"].encode())
    return size


def chunk_entries(entries: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split into PublishBatch calls within both the entry-count and the byte limit."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_bytes = 0
    for entry in entries:
        size = entry_size(entry)
        if size > PUBLISH_BATCH_MAX_BYTES:
            raise ValueError(f"SNS entry {entry['Id']} is {size} bytes, over {PUBLISH_BATCH_MAX_BYTES}")
        if current and (
            len(current) == PUBLISH_BATCH_MAX_ENTRIES or current_bytes + size > PUBLISH_BATCH_MAX_BYTES
        ):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(entry)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


class SnsPublisher:
    """PublishBatch within the limits; returns the Ids that could not be delivered."""

    name = "sns"

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self._topic_arn = topic_arn
        self._client = client

    client = clients.lazy_client("sns")

    def publish_entries(self, entries: Sequence[dict[str, Any]], remaining_ms: RemainingTime) -> set[str]:
        # Ids must be distinct within a call; the same id twice is the same message (dedupe here).
        unique = {e["Id"]: e for e in entries}
        undelivered: list[dict[str, Any]] = []
        for chunk in chunk_entries(list(unique.values())):
            undelivered += resend_failed(chunk, self._send, remaining_ms)
        if undelivered:
            logger.warning("SNS entries undelivered", count=len(undelivered), topic_arn=self._topic_arn)
        return {e["Id"] for e in undelivered}

    def _send(self, entries: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        try:
            with transient("sns:PublishBatch"):
                resp = self.client.publish_batch(
                    TopicArn=self._topic_arn, PublishBatchRequestEntries=list(entries)
                )
        except TransientError as exc:
            logger.warning("SNS PublishBatch call failed", error=str(exc))
            return list(entries), []
        by_id = {e["Id"]: e for e in entries}
        retryable: list[dict[str, Any]] = []
        permanent: list[dict[str, Any]] = []
        for failed in resp.get("Failed", []):
            # SenderFault means the request itself is wrong: resending the same entry cannot succeed.
            (permanent if failed.get("SenderFault") else retryable).append(by_id[failed["Id"]])
            logger.warning("SNS entry failed", alert_id=failed["Id"], code=failed.get("Code"))
        return retryable, permanent


class SnsTransitionPublisher(SnsPublisher):
    """Alarm transitions (``TransitionPublisher``), filterable on ``TRANSITION_ATTRIBUTES``."""

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        return self.publish_entries([transition_entry(t) for t in transitions], remaining_ms)
