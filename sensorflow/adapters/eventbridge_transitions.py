"""Alarm transitions to the EventBridge bus with ``PutEvents``.

``EventBridgePublisher`` owns the limits (chunks of 10, entry size, resending only retryable failures);
``EventBridgeTransitionPublisher`` only builds entries. Transitions go
with Source ``sensorflow.alarms`` and DetailType = the transition name (e.g. ``Alarm Raised``).

Limits (docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html): at most 10 entries
per call, each under 256 KB counted as Time (14 bytes if present) + UTF-8 Source + DetailType +
Detail + each Resources entry. The response keeps the request's order; a failed entry carries an
``ErrorCode``, and only throttling and internal failures are worth resending.

An entry of 256 KB or more is never sent: no resend could deliver it. ``publish_checked`` reports it apart,
as rejected with the reason, for the outbox to quarantine (``services.outbox.QuarantiningPublisher``);
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

PUT_EVENTS_MAX_ENTRIES = 10  # EventBridge PutEvents: entries per call
PUT_EVENTS_MAX_ENTRY_BYTES = 256 * 1024  # EventBridge: per-entry size by the formula above
PUT_EVENTS_TIME_BYTES = 14
RETRYABLE_CODES = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})

TRANSITION_SOURCE = "sensorflow.alarms"


def transition_entry(event: TransitionLike, bus_name: str) -> dict[str, Any]:
    doc = event.to_message()
    return {
        "Source": TRANSITION_SOURCE,
        "DetailType": doc["transition"],
        "Detail": json.dumps(doc, separators=(",", ":")),
        "EventBusName": bus_name,
    }


def entry_size(entry: dict[str, Any]) -> int:
    size = PUT_EVENTS_TIME_BYTES if "Time" in entry else 0
    size += len(entry["Source"].encode()) + len(entry["DetailType"].encode()) + len(entry["Detail"].encode())
    return size + sum(len(r.encode()) for r in entry.get("Resources", []))


def oversized(entry: dict[str, Any], max_bytes: int = PUT_EVENTS_MAX_ENTRY_BYTES) -> str | None:
    """Why PutEvents can never take ``entry`` (not under the entry limit), or None if it can."""
    size = entry_size(entry)
    if size < max_bytes:
        return None
    return f"EventBridge entry is {size} bytes (Source, DetailType, Detail), not under PutEvents' {max_bytes}"


class EventBridgePublisher:
    """PutEvents within the limits. ``max_entry_bytes`` is EventBridge's limit; only tests lower it."""

    name = "eventbridge"

    def __init__(
        self, bus_name: str, client: Any = None, max_entry_bytes: int = PUT_EVENTS_MAX_ENTRY_BYTES
    ) -> None:
        self._bus_name = bus_name
        self._client = client
        self._max_bytes = max_entry_bytes

    client = clients.lazy_client("events")

    def publish_entries(
        self, identified: Sequence[tuple[str, dict[str, Any]]], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        """Send the entries; returns the ids not delivered (worth resending) and the ids rejected unsent,
        each with why (too large: resending cannot help)."""
        rejected: dict[str, str] = {}
        entries = []
        for entry_id, entry in identified:
            why = oversized(entry, self._max_bytes)
            if why is None:
                entries.append((entry_id, entry))
            else:
                rejected[entry_id] = why
        undelivered: list[tuple[str, dict[str, Any]]] = []
        for start in range(0, len(entries), PUT_EVENTS_MAX_ENTRIES):
            undelivered += resend_failed(
                entries[start : start + PUT_EVENTS_MAX_ENTRIES], self._send, remaining_ms
            )
        if undelivered:
            logger.warning("EventBridge entries undelivered", count=len(undelivered), bus=self._bus_name)
        return {entry_id for entry_id, _ in undelivered}, rejected

    def _send(
        self, batch: Sequence[tuple[str, dict[str, Any]]]
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]]]:
        try:
            with transient("events:PutEvents"):
                resp = self.client.put_events(Entries=[entry for _, entry in batch])
        except TransientError as exc:
            logger.warning("EventBridge PutEvents call failed", error=str(exc))
            return list(batch), []
        if not resp.get("FailedEntryCount"):
            return [], []
        retryable: list[tuple[str, dict[str, Any]]] = []
        permanent: list[tuple[str, dict[str, Any]]] = []
        for item, result in zip(batch, resp["Entries"], strict=True):
            code = result.get("ErrorCode")
            if code is None:
                continue
            logger.warning("EventBridge entry failed", entry_id=item[0], code=code)
            (retryable if code in RETRYABLE_CODES else permanent).append(item)
        return retryable, permanent


class EventBridgeTransitionPublisher(EventBridgePublisher):
    """Alarm transitions (``TransitionPublisher``)."""

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        """The ids not delivered, those too large included (kept owed: this caller has no quarantine)."""
        undelivered, rejected = self.publish_checked(transitions, remaining_ms)
        for event_id, why in rejected.items():
            logger.error("EventBridge transition too large; kept undelivered", event_id=event_id, detail=why)
        return undelivered | set(rejected)

    def publish_checked(
        self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        """The ids not delivered (transient), and the ids EventBridge can never take, with why."""
        return self.publish_entries(
            [(t.event_id, transition_entry(t, self._bus_name)) for t in transitions], remaining_ms
        )
