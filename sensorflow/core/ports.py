"""The outside world as the pipeline sees it. Adapters implement these; tests use in-memory fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from sensorflow.core.alarms import Alarm, DeviceState, attributes_of
from sensorflow.core.contract import TransitionView
from sensorflow.core.errors import TransientError
from sensorflow.core.incident_state import Decision, Incident, Tracker
from sensorflow.core.records import Device, EnrichedReading

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
    sub_sequence_number: int | None = None  # a KPL sub-record's position in its parent (same sequence number)


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


class TransitionLike(Protocol):
    """An alarm transition event (``sensorflow.core.alarms.TransitionEvent``): its deterministic id, the
    contract's JSON document (SNS Message / EventBridge detail) and the SNS filter attributes."""

    @property
    def event_id(self) -> str: ...

    def to_message(self) -> dict[str, Any]: ...

    def attributes(self) -> dict[str, str]: ...


class TransitionPublisher(Protocol):
    name: str  # stable, e.g. "sns": outbox entries remember which publishers they are still owed to

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        """Publish transition events; return the event ids that could not be delivered (transient)."""
        ...


class VersionConflictError(TransientError):
    """A conditional write lost a race: someone else wrote the item first. Re-read and re-apply."""


@dataclass(frozen=True, slots=True)
class StoredTransition:
    """A transition event kept in an alarm's outbox until it is published (``TransitionLike``)."""

    event_id: str
    document: dict[str, Any]
    pending: tuple[str, ...] | None = None  # publishers (by name) still owed this event; None: all of them

    def to_message(self) -> dict[str, Any]:
        return self.document

    def attributes(self) -> dict[str, str]:
        return attributes_of(self.document)


@dataclass(frozen=True, slots=True)
class StoredAlarm:
    """One alarm as read back, with the transitions of it not yet confirmed published."""

    alarm: Alarm
    outbox: tuple[StoredTransition, ...] = ()


@dataclass(frozen=True, slots=True)
class StoredDevice:
    """A device item as read back: its state, every alarm of it that is not fresh, and the transitions
    written with them but not yet confirmed published (the outbox, in the order they happened)."""

    state: DeviceState
    outbox: tuple[StoredTransition, ...] = ()
    alarms: Mapping[str, Alarm] = field(default_factory=dict)
    # Heartbeat runs that failed to publish this outbox (it parks the device after a few; a put resets it).
    outbox_attempts: int = 0


class AlarmStore(Protocol):
    """One item per device: its state, all its alarms and their outbox, written with an optimistic
    version (``DeviceState.version``), so a batch writes at most one item per device."""

    def load(self, device_ids: Sequence[str]) -> dict[str, StoredDevice]:
        """Batch read (strongly consistent); devices without an item are absent. Raises TransientError."""
        ...

    def put_device(
        self, state: DeviceState, alarms: Mapping[str, Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> DeviceState:
        """Write the device item if its stored version is still ``state.version``; return the state at the
        new version. State, alarms and outbox commit together. Raises VersionConflictError if the version
        moved, TransientError on a downstream fault."""
        ...

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState:
        """Drop the published events from the outbox, keeping ``keep`` (conditional on ``state.version``)."""
        ...


# --- the alarm evaluator, as the ingest service sees it -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Emitted:
    index: int  # position in the readings given to ``evaluate`` (for a leftover: first reading touching it)
    event: TransitionLike


@dataclass(slots=True)
class AlarmOutcome:
    events: list[Emitted] = field(default_factory=list)  # delivered to every publisher, in order
    undelivered: list[Emitted] = field(default_factory=list)
    failed_from: int | None = None  # lowest reading index to report as failed (None: all committed)
    skipped: int = 0  # readings the replay guard refused: replays, producer duplicates, late readings
    late: int = 0  # of those, late ones (not a redelivery of a record already applied)
    writes: int = 0

    @property
    def transitions(self) -> list[str]:
        return [e.event.to_message()["transition"] for e in self.events]

    def fail_from(self, index: int) -> None:
        self.failed_from = index if self.failed_from is None else min(self.failed_from, index)


class AlarmEvaluation(Protocol):
    """What the service needs of ``sensorflow.services.alarm_evaluator.AlarmEvaluator`` (faked in tests)."""

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome: ...


# --- heartbeat --------------------------------------------------------------------------------------------


class StaleDeviceStore(Protocol):
    """The parts of the alarm store the heartbeat uses (``AlarmStore`` plus the staleness index)."""

    def due_devices(self, bucket: str, now_ms: int) -> list[StoredDevice]:
        """Device items (state, alarms and outbox) in one staleness bucket whose deadline has passed."""
        ...

    def load(self, device_ids: Sequence[str]) -> dict[str, StoredDevice]: ...

    def put_device(
        self, state: DeviceState, alarms: Mapping[str, Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> DeviceState: ...

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState: ...

    def defer_outbox(
        self, state: DeviceState, keep: Sequence[TransitionLike], attempts: int, retry_at_ms: int | None
    ) -> DeviceState:
        """After a failed publish: keep ``keep`` in the outbox and record ``attempts`` (conditional on
        ``state.version``); ``retry_at_ms`` also moves the device to the staleness bucket of that instant."""
        ...


class HeartbeatCheckpoint(Protocol):
    def get(self) -> int | None:
        """The last minute (epoch minutes) fully handled, or None before the first run."""
        ...

    def advance(self, minute: int) -> None:
        """Move the checkpoint forward to ``minute`` (never backwards)."""
        ...


# --- notify -------------------------------------------------------------------------------------------------


ClaimStatus = Literal["claimed", "sent", "busy"]


@dataclass(frozen=True, slots=True)
class Claim:
    status: ClaimStatus
    token: str


class NotificationLedger(Protocol):
    def claim(self, event: TransitionView, token: str, now_ms: int, lease_until_ms: int) -> Claim:
        """Claim the event for sending, or report that it was sent or is being sent elsewhere."""
        ...

    def mark_sent(self, event_id: str, token: str, now_ms: int) -> None: ...

    def mark_failed(self, event_id: str, token: str, error: str) -> None: ...


class MessageSender(Protocol):
    def send(self, message: dict[str, Any], remaining_ms: RemainingTime) -> None:
        """Deliver, retrying transient faults; raise ``DeliveryError`` when it cannot be delivered."""
        ...


# --- incidents ----------------------------------------------------------------------------------------------


class IncidentStore(Protocol):
    def load(self, alarm_id: str, incident_id: str | None = None) -> tuple[Tracker, Incident | None]:
        """The alarm's tracker (a new one if absent) and the incident ``incident_id`` (None if absent), or
        without it the tracker's open incident, read consistently."""
        ...

    def save(self, before: Tracker, decision: Decision) -> None:
        """Write tracker and incident atomically, conditional on their versions; ``VersionConflictError`` if
        not."""
        ...


# --- silences -----------------------------------------------------------------------------------------------

from sensorflow.core.silences import Silence  # noqa: E402  (kept with the one port that uses it)


class SilenceStore(Protocol):
    """The stage's silences (``sensorflow.core.silences``): one item written with an optimistic version.
    Readers (ingest, heartbeat) use ``active``; the ``sensorflow silences`` CLI the rest."""

    def active(self, now_ms: int) -> list[Silence]:
        """The silences active at ``now_ms``, in precedence order. Raises TransientError."""
        ...

    def add(self, silence: Silence) -> None:
        """Store a new silence (pruning expired ones). ``SilenceError`` if it is invalid or over the limit."""
        ...

    def expire(self, silence_id: str, now_ms: int, who: str, caller_arn: str | None = None) -> Silence:
        """End a silence now; the ended silence. ``UnknownSilenceError`` if none such is active or
        scheduled."""
        ...

    def list_all(self, now_ms: int) -> list[Silence]:
        """Active and scheduled silences, then those expired in the last ``EXPIRED_RETENTION_MS``."""
        ...


# --- writer schemas (issue 13): the schema a framed record was written with ------------------------------

import uuid  # noqa: E402  (kept with the one port that uses it)


class WriterSchemas(Protocol):
    """Where the decoder finds the writer schema a framed record names (``sensorflow.core.framing``).

    Both return a parsed schema (``fastavro.parse_schema``), cached by the implementation per container.
    ``UnknownSchemaError`` (permanent) when the id is not known, ``TransientError`` on an outage."""

    def glue(self, version_id: uuid.UUID) -> Any:
        """The AWS Glue Schema Registry schema version ``version_id`` (``GetSchemaVersion``)."""
        ...

    def confluent(self, schema_id: int) -> Any:
        """The schema a Confluent-framed record's 4-byte id maps to (a user-configured mapping)."""
        ...
