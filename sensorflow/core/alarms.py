"""The alarm lifecycle as a pure state machine: one alarm per (device, sensor type, rule).

States: NORMAL, PENDING (condition seen, duration / M-of-N not met yet), ACTIVE, ACKNOWLEDGED,
SNOOZED (until a time), DISABLED. Only transitions emit events, never one per reading:

- ``Alarm Raised``     the condition held long / often enough (or a snooze ran out with it still held);
- ``Alarm Escalated``  warning -> critical while raised (an acknowledged alarm becomes ACTIVE again);
- ``Alarm Cleared``    the value is back inside the clear band (hysteresis), or a stale sensor reports;
- ``Alarm Acknowledged`` / ``Alarm Snoozed`` / ``Alarm Disabled`` / ``Alarm Enabled``: operator actions;
- ``Device Stale``     a sensor silent for its ``stale_after_seconds`` (the heartbeat calls
  ``device_staleness``; one alarm per device, keys and buckets from ``sensorflow.core.staleness``).

Replays: every alarm keeps a high-water mark on the device ``seq`` (``last_seq``). A reading at or below
it changes nothing and emits nothing, so Lambda's redelivery after a partial failure, a producer's
duplicate and a late out-of-order reading are all no-ops. Event ids are deterministic
(``sha256(alarm_id|transition|seq)``, or the stale deadline / action time), so a transition that is
published twice is the same event twice and consumers dedupe on ``event_id``.

Clocks: for-duration uses device time (reading timestamps); snooze expiry and staleness use arrival /
wall time (the record's Kinesis arrival, the heartbeat's now), which a device's clock cannot skew.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sensorflow.core import staleness
from sensorflow.core.records import Device, EnrichedReading
from sensorflow.core.rules import CLEAR, CRITICAL, HOLD, RANK, SEVERITY_OF_RANK, WARNING, AlarmRule

NORMAL, PENDING, ACTIVE, ACKNOWLEDGED, SNOOZED, DISABLED = (
    "NORMAL",
    "PENDING",
    "ACTIVE",
    "ACKNOWLEDGED",
    "SNOOZED",
    "DISABLED",
)
STATES = (NORMAL, PENDING, ACTIVE, ACKNOWLEDGED, SNOOZED, DISABLED)

RAISED, ESCALATED, CLEARED, ACKNOWLEDGED_EVENT, STALE = (
    "Alarm Raised",
    "Alarm Escalated",
    "Alarm Cleared",
    "Alarm Acknowledged",
    "Device Stale",
)
SNOOZED_EVENT, DISABLED_EVENT, ENABLED_EVENT = "Alarm Snoozed", "Alarm Disabled", "Alarm Enabled"
TRANSITIONS = (
    RAISED,
    ESCALATED,
    CLEARED,
    ACKNOWLEDGED_EVENT,
    STALE,
    SNOOZED_EVENT,
    DISABLED_EVENT,
    ENABLED_EVENT,
)

# Window codes for M-of-N, one character per reading: its assessment rank.
_CODE = {CLEAR: "0", HOLD: "1", WARNING: "w", CRITICAL: "c"}
_RANK_OF_CODE = {v: k for k, v in _CODE.items()}


class InvalidTransitionError(ValueError):
    """An operator action that does not apply to the alarm's current state."""


def alarm_id(device_id: str, sensor_type: str, rule_id: str) -> str:
    return f"{device_id}#{sensor_type}#{rule_id}"


def event_id(alarm_key: str, transition: str, discriminator: int) -> str:
    """sha256(alarm_id|transition|seq) -- or the stale deadline / action time -- first 32 hex digits."""
    return staleness.transition_event_id(alarm_key, transition, discriminator)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    last_seq: int = -1  # high-water mark on the device seq
    last_timestamp_ms: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at_ms: int | None = None
    note: str | None = None
    snoozed_until_ms: int | None = None
    updated_by: str | None = None
    updated_at_ms: int | None = None
    version: int = 0  # optimistic lock, owned by the store

    @classmethod
    def new(cls, device_id: str, sensor_type: str, rule_id: str) -> Alarm:
        return cls(alarm_id(device_id, sensor_type, rule_id), device_id, sensor_type, rule_id)

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
        }

    def same_state(self, other: Alarm) -> bool:
        """Equal but for the high-water mark: no write is needed for a reading that changed nothing."""
        return replace(self, last_seq=other.last_seq, last_timestamp_ms=other.last_timestamp_ms) == other


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    """One transition; ``to_message()`` is the SNS Message body and the EventBridge ``detail``."""

    event_id: str
    transition: str
    occurred_at_ms: int
    alarm: Alarm
    severity: str  # the alarm's severity; for a clear, the severity it had, so critical-only filters see it
    rule: dict[str, Any]
    reading: dict[str, Any] | None = None
    device: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The contract document (``sensorflow.core.ports.TransitionLike``)."""
        return self.to_message()

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "transition": self.transition,
            "occurred_at": iso(self.occurred_at_ms),
            "alarm": self.alarm.snapshot(self.severity),
            "reading": self.reading,
            "rule": self.rule,
            "device": self.device,
        }

    def attributes(self) -> dict[str, str]:
        """The SNS message attributes subscription filter policies match on."""
        return attributes_of(self.to_message())


def attributes_of(doc: dict[str, Any]) -> dict[str, str]:
    """transition, severity, sensor_type, site, device_id of a transition document (all strings)."""
    alarm, device = doc.get("alarm") or {}, doc.get("device") or {}
    return {
        "transition": str(doc["transition"]),
        "severity": str(alarm.get("severity") or "warning"),
        "sensor_type": str(alarm.get("sensor_type") or "unknown"),
        "site": str(device.get("site") or "unknown"),
        "device_id": str(alarm.get("device_id") or device.get("device_id") or "unknown"),
    }


def device_context(device: Device | None, device_id: str) -> dict[str, Any]:
    if device is None:
        return {"device_id": device_id, "site": None, "location": None, "model": None, "owner_team": None}
    return {
        "device_id": device.device_id,
        "site": device.site,
        "location": device.location,
        "model": device.model,
        "owner_team": device.owner_team,
    }


def rule_context(rule: AlarmRule, alarm: Alarm) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "bound": alarm.bound,
        "threshold": alarm.threshold,
        "clear_threshold": alarm.clear_threshold,
        "for_seconds": rule.for_seconds or None,
    }


def _event(
    transition: str,
    alarm: Alarm,
    rule: AlarmRule,
    device: Device | None,
    discriminator: int,
    at_ms: int,
    sample: Sample | None,
    severity: str | None = None,
) -> TransitionEvent:
    return TransitionEvent(
        event_id=event_id(alarm.alarm_id, transition, discriminator),
        transition=transition,
        occurred_at_ms=at_ms,
        alarm=alarm,
        severity=severity or alarm.severity or "warning",
        rule=rule_context(rule, alarm),
        reading=None
        if sample is None
        else {
            "value": sample.value,
            "unit": sample.unit,
            "timestamp": iso(sample.timestamp_ms),
            "seq": sample.seq,
        },
        device=device_context(device, alarm.device_id),
    )


def _reading_context(sample: Sample) -> dict[str, Any]:
    return {
        "value": sample.value,
        "unit": sample.unit,
        "timestamp": iso(sample.timestamp_ms),
        "seq": sample.seq,
    }


# --- the condition layer: debounce (duration / M-of-N) and hysteresis --------------------------------------


@dataclass(frozen=True, slots=True)
class _Condition:
    raised: bool
    severity: str | None
    pending: bool
    pending_since_ms: int | None
    critical_since_ms: int | None
    window: str
    cause: Any  # the Assessment that drives bound/threshold


def _condition(alarm: Alarm, rule: AlarmRule, s: Sample) -> _Condition:
    a = rule.assess(s.value, s.rate_per_minute)
    pending_since = (
        (alarm.pending_since_ms if alarm.pending_since_ms is not None else s.timestamp_ms)
        if a.rank >= WARNING
        else None
    )
    critical_since = (
        (alarm.critical_since_ms if alarm.critical_since_ms is not None else s.timestamp_ms)
        if a.rank >= CRITICAL
        else None
    )
    if rule.m_of_n is not None:
        m, n = rule.m_of_n.m, rule.m_of_n.n
        window = (alarm.window + _CODE[a.rank])[-n:]
        ranks = [_RANK_OF_CODE[c] for c in window]
        crossing = sum(r >= WARNING for r in ranks)
        critical = sum(r >= CRITICAL for r in ranks) >= m
        if alarm.raised:
            raised = sum(r >= HOLD for r in ranks) >= m  # clears once fewer than M are outside the clear band
            severity = "critical" if critical or alarm.severity == "critical" else alarm.severity
            pending = False
        else:
            raised = crossing >= m
            severity = ("critical" if critical else "warning") if raised else None
            pending = not raised and crossing > 0
        if not raised and crossing == 0:
            window = ""  # nothing in it can raise: keep NORMAL alarms unwritten
        return _Condition(raised, severity if raised else None, pending, None, None, window, a)
    hold_ms = rule.for_seconds * 1000
    held = pending_since is not None and s.timestamp_ms - pending_since >= hold_ms
    critical_held = critical_since is not None and s.timestamp_ms - critical_since >= hold_ms
    if alarm.raised:
        raised = a.rank >= HOLD
        severity = "critical" if critical_held or alarm.severity == "critical" else alarm.severity
        pending = False
    else:
        raised = held
        severity = ("critical" if critical_held else "warning") if raised else None
        pending = not raised and pending_since is not None
    if not raised and not pending:
        pending_since = critical_since = None
    return _Condition(raised, severity if raised else None, pending, pending_since, critical_since, "", a)


def step(
    alarm: Alarm, rule: AlarmRule, sample: Sample, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Apply one reading. Returns the new alarm and the transitions it caused (often none)."""
    if sample.seq <= alarm.last_seq:
        return alarm, []  # replayed, duplicated or late: the high-water mark has passed it
    seen = replace(alarm, last_seq=sample.seq, last_timestamp_ms=sample.timestamp_ms)
    if alarm.state == DISABLED:
        return seen, []

    snooze_over = alarm.state == SNOOZED and (alarm.snoozed_until_ms or 0) <= sample.arrival_ms
    c = _condition(alarm, rule, sample)
    cause = c.cause
    events: list[TransitionEvent] = []
    base = replace(
        seen,
        raised=c.raised,
        pending_since_ms=c.pending_since_ms,
        critical_since_ms=c.critical_since_ms,
        window=c.window,
    )
    if alarm.state == SNOOZED and not snooze_over:
        return _while_snoozed(alarm, base, c, rule, sample, device)
    if snooze_over:
        base = replace(base, snoozed_until_ms=None, updated_by=None)

    was_raised = alarm.raised
    if c.raised and not was_raised:
        new = replace(
            base,
            state=ACTIVE,
            severity=c.severity,
            announced=True,
            since_ms=sample.timestamp_ms,
            bound=cause.bound,
            threshold=cause.threshold,
            clear_threshold=cause.clear_threshold,
        )
        events.append(_event(RAISED, new, rule, device, sample.seq, sample.timestamp_ms, sample))
        return new, events
    if c.raised:
        escalate = alarm.severity != "critical" and c.severity == "critical"
        state = ACTIVE if escalate or snooze_over else (alarm.state if alarm.state != SNOOZED else ACTIVE)
        new = replace(base, state=state, severity=c.severity)
        if escalate:
            new = replace(
                new, bound=cause.bound, threshold=cause.threshold, clear_threshold=cause.clear_threshold
            )
            if not snooze_over:
                new = replace(new, acknowledged_by=None, acknowledged_at_ms=None)
            events.append(_event(ESCALATED, new, rule, device, sample.seq, sample.timestamp_ms, sample))
        elif snooze_over:  # a snooze only postpones: still raised when it ends, so tell again
            new = replace(new, announced=True)
            events.append(_event(RAISED, new, rule, device, sample.seq, sample.timestamp_ms, sample))
        return new, events
    # not raised (any more)
    cleared = replace(
        base,
        state=PENDING if c.pending else NORMAL,
        severity=None,
        announced=False,
        since_ms=(alarm.since_ms if alarm.state == PENDING else sample.timestamp_ms) if c.pending else None,
        bound=cause.bound if c.pending else None,
        threshold=cause.threshold if c.pending else None,
        clear_threshold=cause.clear_threshold if c.pending else None,
        acknowledged_by=None,
        acknowledged_at_ms=None,
        note=None if was_raised else alarm.note,
    )
    if was_raised and alarm.announced:
        events.append(
            _event(CLEARED, cleared, rule, device, sample.seq, sample.timestamp_ms, sample, alarm.severity)
        )
    return cleared, events


def _while_snoozed(
    alarm: Alarm, base: Alarm, c: _Condition, rule: AlarmRule, sample: Sample, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Track the condition silently; only a clear of an announced raise is told (incidents must resolve)."""
    cause = c.cause
    if c.raised:
        new = replace(base, severity=c.severity)
        if not alarm.raised:
            new = replace(
                new,
                since_ms=sample.timestamp_ms,
                bound=cause.bound,
                threshold=cause.threshold,
                clear_threshold=cause.clear_threshold,
            )
        return new, []
    new = replace(base, severity=None, announced=False, since_ms=None)
    if alarm.raised and alarm.announced:
        return new, [
            _event(CLEARED, new, rule, device, sample.seq, sample.timestamp_ms, sample, alarm.severity)
        ]
    return new, []


def expire_snooze(
    alarm: Alarm, rule: AlarmRule, now_ms: int, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """End a snooze without a reading (the heartbeat may call this): re-raise if the condition still holds."""
    if alarm.state != SNOOZED or (alarm.snoozed_until_ms or 0) > now_ms:
        return alarm, []
    until = alarm.snoozed_until_ms or now_ms
    if not alarm.raised:
        state = PENDING if alarm.pending_since_ms is not None or alarm.window else NORMAL
        return replace(alarm, state=state, snoozed_until_ms=None), []
    new = replace(alarm, state=ACTIVE, announced=True, snoozed_until_ms=None)
    return new, [_event(RAISED, new, rule, device, until, now_ms, None)]


# --- operator actions ---------------------------------------------------------------------------------------


def acknowledge(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state != ACTIVE:
        raise InvalidTransitionError(
            f"alarm {alarm.alarm_id} is {alarm.state}; only an ACTIVE alarm can be acknowledged"
        )
    new = replace(
        alarm,
        state=ACKNOWLEDGED,
        acknowledged_by=who,
        acknowledged_at_ms=now_ms,
        note=note,
        updated_by=who,
        updated_at_ms=now_ms,
    )
    return new, [_event(ACKNOWLEDGED_EVENT, new, rule, device, now_ms, now_ms, None)]


def snooze(
    alarm: Alarm,
    until_ms: int,
    who: str,
    note: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state == DISABLED:
        raise InvalidTransitionError(f"alarm {alarm.alarm_id} is DISABLED; enable it before snoozing")
    if until_ms <= now_ms:
        raise InvalidTransitionError(f"snooze end {iso(until_ms)} is not in the future")
    new = replace(
        alarm, state=SNOOZED, snoozed_until_ms=until_ms, note=note, updated_by=who, updated_at_ms=now_ms
    )
    return new, [_event(SNOOZED_EVENT, new, rule, device, now_ms, now_ms, None)]


def disable(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state == DISABLED:
        raise InvalidTransitionError(f"alarm {alarm.alarm_id} is already DISABLED")
    new = replace(
        Alarm.new(alarm.device_id, alarm.sensor_type, alarm.rule_id),
        state=DISABLED,
        last_seq=alarm.last_seq,
        last_timestamp_ms=alarm.last_timestamp_ms,
        note=note,
        updated_by=who,
        updated_at_ms=now_ms,
        version=alarm.version,
    )
    return new, [_event(DISABLED_EVENT, new, rule, device, now_ms, now_ms, None)]


def enable(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Back to NORMAL with a fresh condition: the next reading re-evaluates from scratch."""
    if alarm.state != DISABLED:
        raise InvalidTransitionError(f"alarm {alarm.alarm_id} is {alarm.state}, not DISABLED")
    new = replace(alarm, state=NORMAL, note=note, updated_by=who, updated_at_ms=now_ms)
    return new, [_event(ENABLED_EVENT, new, rule, device, now_ms, now_ms, None)]


# --- per-device state: high-water mark, last-seen times, staleness (sensorflow.core.staleness) ---


@dataclass(frozen=True, slots=True)
class SensorSeen:
    last_seen_ms: int  # newest device timestamp of the sensor (staleness is measured on device time)
    timestamp_ms: int  # its device time (rate of change)
    value: float
    seq: int
    stale_after_s: int | None = None  # the smallest stale_after_seconds of the sensor's rules


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The ``<device_id>#__device__`` item: replay guard, rate-of-change memory and staleness.

    A device is stale when any of its sensors has been silent longer than that sensor's
    ``stale_after_seconds``: one ``Device Stale`` alarm per device (``staleness.stale_alarm_id``). It clears
    on the first reading after which no sensor is past its deadline any more.

    Silence is measured from the newest *device timestamp* of each sensor, against the wall clock. That
    is what "no reading for X seconds" means to an operator, and it stays true when readings arrive in
    bursts: a gateway that uploads an hour of buffered readings at once does not look alive for the hour
    it was offline, and a replayed or delayed stream does not hide a device that went quiet. The ingest
    timestamp check bounds how far a device clock can push a deadline (+5 minutes).
    """

    device_id: str
    last_seq: int = -1
    last_seen_ms: int | None = None
    sensors: dict[str, SensorSeen] = field(default_factory=dict)
    stale_since_ms: int | None = None  # set by the heartbeat: the deadline that passed
    stale_event_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # site, location, model, owner_team
    version: int = 0

    @property
    def item_id(self) -> str:
        return staleness.device_item_key(self.device_id)

    def previous(self, sensor_type: str) -> tuple[int, float] | None:
        seen = self.sensors.get(sensor_type)
        return (seen.timestamp_ms, seen.value) if seen else None

    @property
    def stale_deadline_ms(self) -> int | None:
        """The earliest time a sensor goes stale, or None if no rule of its sensors asks for staleness."""
        deadlines = [
            s.last_seen_ms + s.stale_after_s * 1000 for s in self.sensors.values() if s.stale_after_s
        ]
        return min(deadlines, default=None)

    @property
    def stale_bucket(self) -> str | None:
        """The index bucket of the deadline, but never of a minute before the latest arrival: a deadline
        that is already past when its reading arrives (a backlog upload, a replay) goes in the bucket of
        the arrival minute, which the heartbeat has not passed yet, so it is still found."""
        deadline = self.stale_deadline_ms
        if deadline is None:
            return None
        return staleness.stale_bucket(self.device_id, max(deadline, self.last_seen_ms or deadline))

    def _stale_after_of_deadline(self) -> int | None:
        deadline = self.stale_deadline_ms
        for s in self.sensors.values():
            if s.stale_after_s and s.last_seen_ms + s.stale_after_s * 1000 == deadline:
                return s.stale_after_s
        return None

    def observe(
        self, sample: Sample, stale_after_s: int | None, device: Device | None
    ) -> tuple[DeviceState, list[TransitionEvent]]:
        """Record a reading above the high-water mark; clear a raised staleness it ends."""
        if sample.seq <= self.last_seq:
            return self, []
        sensors = dict(self.sensors)
        before = sensors.get(sample.sensor_type)
        seen_at = max(sample.timestamp_ms, before.last_seen_ms if before else sample.timestamp_ms)
        sensors[sample.sensor_type] = SensorSeen(
            seen_at, sample.timestamp_ms, sample.value, sample.seq, stale_after_s
        )
        new = replace(
            self,
            last_seq=sample.seq,
            last_seen_ms=max(self.last_seen_ms or 0, sample.arrival_ms),
            sensors=sensors,
            context=device_context(device, self.device_id) if device else self.context,
        )
        if self.stale_since_ms is None:
            return new, []
        deadline = new.stale_deadline_ms
        if deadline is not None and deadline <= sample.arrival_ms:
            return new, []  # another sensor is still silent: the device stays stale
        stale_after = self._stale_after_of_deadline()
        cleared = replace(new, stale_since_ms=None, stale_event_id=None)
        alarm = replace(self.stale_alarm(), state=NORMAL, severity=None)
        return cleared, [
            TransitionEvent(
                event_id=event_id(alarm.alarm_id, CLEARED, sample.seq),
                transition=CLEARED,
                occurred_at_ms=sample.arrival_ms,
                alarm=alarm,
                severity="warning",
                rule=_stale_rule_context(stale_after),
                reading=_reading_context(sample),
                device=device_context(device, self.device_id) if device else dict(self.context),
            )
        ]

    def stale_alarm(self) -> Alarm:
        return Alarm(
            alarm_id=staleness.stale_alarm_id(self.device_id),
            device_id=self.device_id,
            sensor_type=staleness.STALE_SENSOR_TYPE,
            rule_id=staleness.STALE_RULE_ID,
            state=ACTIVE if self.stale_since_ms is not None else NORMAL,
            severity="warning" if self.stale_since_ms is not None else None,
            raised=self.stale_since_ms is not None,
            since_ms=self.stale_since_ms,
            bound="stale",
        )


def device_staleness(state: DeviceState, now_ms: int) -> tuple[DeviceState, list[TransitionEvent]]:
    """The heartbeat's check of one device: ``Device Stale`` once a sensor's deadline has passed.

    The event id is ``staleness.stale_event_id(device_id, deadline)``, so every run that finds the same
    silence produces the same event; a reading (``DeviceState.observe``) clears it.
    """
    deadline = state.stale_deadline_ms
    if deadline is None or deadline > now_ms or state.stale_since_ms is not None:
        return state, []
    eid = staleness.stale_event_id(state.device_id, deadline)
    new = replace(state, stale_since_ms=deadline, stale_event_id=eid)
    return new, [
        TransitionEvent(
            event_id=eid,
            transition=STALE,
            occurred_at_ms=now_ms,
            alarm=new.stale_alarm(),
            severity="warning",
            rule=_stale_rule_context(state._stale_after_of_deadline()),
            reading=None,
            device=dict(state.context) or device_context(None, state.device_id),
        )
    ]


def _stale_rule_context(stale_after_s: int | None) -> dict[str, Any]:
    return {
        "rule_id": staleness.STALE_RULE_ID,
        "bound": "stale",
        "threshold": None if stale_after_s is None else float(stale_after_s),
        "clear_threshold": None,
        "for_seconds": stale_after_s,
    }


def severity_rank(severity: str | None) -> int:
    return RANK.get(severity or "", CLEAR)


__all__ = [
    "ACKNOWLEDGED",
    "ACTIVE",
    "DISABLED",
    "NORMAL",
    "PENDING",
    "SEVERITY_OF_RANK",
    "SNOOZED",
    "STATES",
    "TRANSITIONS",
    "Alarm",
    "InvalidTransitionError",
    "Sample",
    "TransitionEvent",
    "acknowledge",
    "alarm_id",
    "device_staleness",
    "disable",
    "enable",
    "event_id",
    "expire_snooze",
    "snooze",
    "step",
]
