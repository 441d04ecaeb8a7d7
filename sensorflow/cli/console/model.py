"""What the console shows, as plain values, and the port it reads them through (``ConsoleSource``).

``stage.StageSource`` is the real source (a stage's stack, through the adapters); tests use an in-memory
fake. Every text here may come from a device or the registry: the views escape all of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sensorflow.core import alarms as am


@dataclass(frozen=True, slots=True)
class AlarmRow:
    alarm: am.Alarm
    site: str = ""
    location: str = ""
    owner_team: str = ""
    last_value: float | None = None  # the newest applied reading of the alarm's sensor
    suppressed: str = ""  # silenced by ..., inhibited (device stale): what `alarms list` shows


@dataclass(frozen=True, slots=True)
class TransitionRow:
    event_id: str
    transition: str
    alarm_id: str
    at_ms: int
    severity: str | None = None
    by: str | None = None
    note: str | None = None
    value: float | None = None
    unit: str | None = None
    delivery: str | None = None  # the notification ledger's status (sent, failed, sending), if notified

    @property
    def device_id(self) -> str:
        return self.alarm_id.split("#", 1)[0]


@dataclass(frozen=True, slots=True)
class ReadingPoint:
    timestamp_ms: int
    sensor_type: str
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class QuarantineLine:
    reason: str
    device: str  # the record's partition key (the device id a producer claimed)
    detail: str
    arrival_time: str


@dataclass(frozen=True, slots=True)
class QuarantineView:
    counts: Mapping[str, int]
    recent: Sequence[QuarantineLine] = ()
    window: str = ""  # which records were counted
    by_day: Mapping[str, int] = field(default_factory=dict)  # UTC day of arrival -> records


@dataclass(frozen=True, slots=True)
class QueueDepth:
    name: str
    visible: int | None  # None: could not be read (the note says why)
    in_flight: int | None = None


@dataclass(frozen=True, slots=True)
class Health:
    iterator_age_ms: float | None
    iterator_age_source: str
    queues: Sequence[QueueDepth] = ()
    heartbeat_through_ms: int | None = None  # the newest minute the heartbeat has checked
    notes: Sequence[str] = field(default_factory=tuple)


class ConsoleSource(Protocol):
    stage: str

    def alarms(self, now_ms: int) -> list[AlarmRow]: ...

    def transitions(self, limit: int, device_id: str | None = None) -> list[TransitionRow]: ...

    def readings(self, device_id: str, since_ms: int, now_ms: int) -> list[ReadingPoint]: ...

    def device_context(self, device_id: str) -> Mapping[str, str] | None: ...

    def quarantine(self, now_ms: int) -> QuarantineView: ...

    def health(self, now_ms: int) -> Health: ...


class ConsoleActions(Protocol):
    def alarm_action(self, action: str, alarm_id: str, fields: Mapping[str, str], now_ms: int) -> str:
        """Apply ``action`` as ``sensorflow alarms ACTION`` would; the line it prints, or ``UsageError``."""
        ...

    def add_silence(self, fields: Mapping[str, str], now_ms: int) -> str:
        """Add a silence as ``sensorflow silences add`` would; its line, or ``UsageError``."""
        ...
