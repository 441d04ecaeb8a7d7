"""The outside world as the pipeline sees it. Adapters implement these; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sensorflow.core.records import Alert, Device, EnrichedReading

# Milliseconds left before the invocation's deadline (Lambda's context.get_remaining_time_in_millis).
RemainingTime = Callable[[], int]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One quarantined record: its exact bytes and why. Serialised as one JSON line."""

    reason: str
    detail: str
    payload: bytes
    partition_key: str
    sequence_number: str
    shard_id: str
    arrival_time_ms: int


class DeviceRegistry(Protocol):
    def get(self, device_id: str) -> Device | None:
        """The device, or None if it is not registered. Raises TransientError on a downstream fault."""
        ...


class ReadingSink(Protocol):
    def write(self, key: str, readings: Sequence[EnrichedReading]) -> None:
        """Store readings under ``key``, replacing any object there (so a retried batch overwrites)."""
        ...


class QuarantineSink(Protocol):
    def write(self, key: str, entries: Sequence[QuarantineEntry]) -> None: ...


class AlertPublisher(Protocol):
    def publish(self, alerts: Sequence[Alert], remaining_ms: RemainingTime) -> set[str]:
        """Publish; return the ids of alerts that could not be delivered (each a transient failure)."""
        ...


class TransitionLike(Protocol):
    """An alarm transition event (``sensorflow.core.alarms.TransitionEvent``): its deterministic id, the
    contract's JSON document (SNS Message / EventBridge detail) and the SNS filter attributes."""

    @property
    def event_id(self) -> str: ...

    def to_message(self) -> dict[str, Any]: ...

    def attributes(self) -> dict[str, str]: ...


class TransitionPublisher(Protocol):
    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        """Publish transition events; return the event ids that could not be delivered (transient)."""
        ...
