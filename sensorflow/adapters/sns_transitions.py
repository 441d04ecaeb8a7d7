"""Alarm transitions to the SNS topic with ``PublishBatch``.

``SnsPublisher`` owns the limits (chunking by count and bytes, resending only the failed entries);
``SnsTransitionPublisher`` only builds entries.

Limits (docs.aws.amazon.com/sns/latest/api/API_PublishBatch.html): at most 10 entries with distinct
Ids, and each message and the whole batch at most 262,144 bytes, message attributes included.
moto 5.2.5 enforces the entry count but not the byte totals, so they are computed here.

An entry over the per-message limit is never sent: no resend could deliver it. ``publish_checked``
reports it apart, as rejected with the reason, for the outbox to quarantine
(``services.outbox.QuarantiningPublisher``) so the alarm's later events are not held behind it forever;
plain ``publish`` keeps it undelivered (owed), with an error log, for a caller that has no quarantine.
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


def chunk_entries(
    entries: Sequence[dict[str, Any]], max_bytes: int = PUBLISH_BATCH_MAX_BYTES
) -> list[list[dict[str, Any]]]:
    """Split into PublishBatch calls within both the entry-count and the byte limit. Every entry must be
    within ``max_bytes`` itself (``oversized`` finds those that are not)."""
    chunks: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    current_bytes = 0
    for entry in entries:
        size = entry_size(entry)
        if size > max_bytes:
            raise ValueError(f"SNS entry {entry['Id']} is {size} bytes, over {max_bytes}")
        if current and (len(current) == PUBLISH_BATCH_MAX_ENTRIES or current_bytes + size > max_bytes):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(entry)
        current_bytes += size
    if current:
        chunks.append(current)
    return chunks


def oversized(entry: dict[str, Any], max_bytes: int = PUBLISH_BATCH_MAX_BYTES) -> str | None:
    """Why SNS can never take ``entry`` (its size over the per-message limit), or None if it can."""
    size = entry_size(entry)
    if size <= max_bytes:
        return None
    return f"SNS entry is {size} bytes (message and attributes), over PublishBatch's {max_bytes}"


class SnsPublisher:
    """PublishBatch within the limits. ``max_entry_bytes`` is SNS's limit; only tests lower it."""

    name = "sns"

    def __init__(
        self, topic_arn: str, client: Any = None, max_entry_bytes: int = PUBLISH_BATCH_MAX_BYTES
    ) -> None:
        self._topic_arn = topic_arn
        self._client = client
        self._max_bytes = max_entry_bytes

    client = clients.lazy_client("sns")

    def publish_entries(
        self, entries: Sequence[dict[str, Any]], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        """Send ``entries``; returns the Ids not delivered (worth resending) and the Ids rejected unsent,
        each with why (too large: resending cannot help)."""
        # Ids must be distinct within a call; the same id twice is the same message (dedupe here).
        unique = {e["Id"]: e for e in entries}
        rejected = {i: why for i, e in unique.items() if (why := oversized(e, self._max_bytes)) is not None}
        undelivered: list[dict[str, Any]] = []
        sendable = [e for i, e in unique.items() if i not in rejected]
        for chunk in chunk_entries(sendable, self._max_bytes):
            undelivered += resend_failed(chunk, self._send, remaining_ms)
        if undelivered:
            logger.warning("SNS entries undelivered", count=len(undelivered), topic_arn=self._topic_arn)
        return {e["Id"] for e in undelivered}, rejected

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
        """The ids not delivered, those too large included (kept owed: this caller has no quarantine)."""
        undelivered, rejected = self.publish_checked(transitions, remaining_ms)
        for event_id, why in rejected.items():
            logger.error("SNS transition too large; kept undelivered", event_id=event_id, detail=why)
        return undelivered | set(rejected)

    def publish_checked(
        self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        """The ids not delivered (transient), and the ids SNS can never take, with why."""
        return self.publish_entries([transition_entry(t) for t in transitions], remaining_ms)
