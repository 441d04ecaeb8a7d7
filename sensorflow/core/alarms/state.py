"""Alarm state: the lifecycle states, the alarm value, and the sample of a reading it is stepped on."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sensorflow.core.clock import iso
from sensorflow.core.records import EnrichedReading

NORMAL, PENDING, ACTIVE, ACKNOWLEDGED, LATCHED, SNOOZED, DISABLED = (
    "NORMAL",
    "PENDING",
    "ACTIVE",
    "ACKNOWLEDGED",
    "LATCHED",
    "SNOOZED",
    "DISABLED",
)
STATES = (NORMAL, PENDING, ACTIVE, ACKNOWLEDGED, LATCHED, SNOOZED, DISABLED)


def alarm_id(device_id: str, sensor_type: str, rule_id: str) -> str:
    return f"{device_id}#{sensor_type}#{rule_id}"


@dataclass(frozen=True, slots=True)
class Sample:
    """What the state machine needs of one committed reading (canonical value and unit)."""

    device_id: str
    sensor_type: str
    seq: int
    timestamp_ms: int  # device time
    arrival_ms: int  # Kinesis arrival time
    value: float
    unit: str
    previous_timestamp_ms: int | None = None  # the sensor's previous reading, for rate of change
    previous_value: float | None = None
    order: int | None = None  # the record's Kinesis sequence number: unique per record, fixed on replay
    sub_order: int | None = None  # a KPL sub-record's position: its sub-records share ``order``

    @property
    def discriminator(self) -> int | str:
        """What makes this reading's event ids unique: the Kinesis sequence number (and a KPL sub-record's
        position), never the device's own counter (a rebooted device restarts it; a forged one can be
        anything)."""
        if self.order is None:
            return self.seq
        return self.order if self.sub_order is None else f"{self.order}.{self.sub_order}"

    @classmethod
    def of(cls, e: EnrichedReading, previous: tuple[int, float] | None = None) -> Sample:
        r = e.reading
        return cls(
            device_id=r.device_id,
            sensor_type=r.sensor_type,
            seq=r.seq,
            timestamp_ms=r.timestamp_ms,
            arrival_ms=e.ingest_time_ms,
            value=e.value,
            unit=e.unit,
            previous_timestamp_ms=previous[0] if previous else None,
            previous_value=previous[1] if previous else None,
            order=int(e.sequence_number),
            sub_order=e.sub_sequence_number,
        )

    @property
    def rate_per_minute(self) -> float | None:
        if self.previous_timestamp_ms is None or self.previous_value is None:
            return None
        elapsed = self.timestamp_ms - self.previous_timestamp_ms
        if elapsed <= 0:
            return None
        return (self.value - self.previous_value) * 60_000 / elapsed


@dataclass(frozen=True, slots=True)
class Alarm:
    alarm_id: str
    device_id: str
    sensor_type: str
    rule_id: str
    state: str = NORMAL
    severity: str | None = None
    raised: bool = False  # the condition holds (also tracked while SNOOZED)
    announced: bool = False  # an "Alarm Raised" is out that no "Alarm Cleared" has answered yet
    since_ms: int | None = None  # when PENDING began or the alarm was raised
    pending_since_ms: int | None = None  # device time the warning-or-worse condition began
    critical_since_ms: int | None = None  # device time the critical condition began
    window: str = ""  # M-of-N: the last N assessments, oldest first
    bound: str | None = None
    threshold: float | None = None
    clear_threshold: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at_ms: int | None = None
    note: str | None = None
    snoozed_until_ms: int | None = None
    updated_by: str | None = None
    updated_at_ms: int | None = None
    episode: int = 0  # episodes so far: +1 on the "Alarm Raised" that starts one (never reset)
    reminders: int = 0  # "Alarm Reminder" intervals already told in this episode
    caller_arn: str | None = None  # the AWS identity of the operator's last action
    disabled_until_ms: int | None = None  # a DISABLED alarm enables itself then (heartbeat)

    @classmethod
    def new(cls, device_id: str, sensor_type: str, rule_id: str) -> Alarm:
        return cls(alarm_id(device_id, sensor_type, rule_id), device_id, sensor_type, rule_id)

    @classmethod
    def initial(cls, device_id: str, sensor_type: str, rule_id: str, disabled: bool = False) -> Alarm:
        """An alarm seen for the first time: NORMAL, or DISABLED if its rule says
        ``disabled_on_initialization`` (IoT Events' ``disabledOnInitialization``)."""
        fresh = cls.new(device_id, sensor_type, rule_id)
        return replace(fresh, state=DISABLED, note="disabled on initialization") if disabled else fresh

    @property
    def has_open_episode(self) -> bool:
        """An "Alarm Raised" is out that nothing has ended yet (ACTIVE, ACKNOWLEDGED, LATCHED, or
        SNOOZED after it was told)."""
        return self.announced

    def snapshot(self, severity: str | None = None) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "device_id": self.device_id,
            "sensor_type": self.sensor_type,
            "rule_id": self.rule_id,
            "state": self.state,
            "severity": severity or self.severity,
            "since": iso(self.since_ms),
            "acknowledged_by": self.acknowledged_by,
            "note": self.note,
            "snoozed_until": iso(self.snoozed_until_ms),
            "episode": self.episode,
            "updated_by": self.updated_by,
            "caller_arn": self.caller_arn,
            "disabled_until": iso(self.disabled_until_ms),
        }
