"""The alarm lifecycle as a pure state machine: one alarm per (device, sensor type, rule).

States: NORMAL, PENDING (condition seen, duration / M-of-N not met yet), ACTIVE, ACKNOWLEDGED,
SNOOZED (until a time), DISABLED. Only transitions emit events, never one per reading:

- ``Alarm Raised``     the condition held long / often enough (or a snooze ran out with it still held);
- ``Alarm Escalated``  warning -> critical while raised (an acknowledged alarm becomes ACTIVE again);
- ``Alarm Cleared``    the value is back inside the clear band (hysteresis), or a stale sensor reports;
- ``Alarm Acknowledged`` / ``Alarm Snoozed`` / ``Alarm Disabled`` / ``Alarm Enabled``: operator actions;
- ``Device Stale``     no reading for ``stale_after_seconds`` (the heartbeat calls ``staleness``).

Replays: every alarm keeps a high-water mark on the device ``seq`` (``last_seq``). A reading at or below
it changes nothing and emits nothing, so Lambda's redelivery after a partial failure, a producer's
duplicate and a late out-of-order reading are all no-ops. Event ids are deterministic
(``sha256(alarm_id|transition|seq)``, or the stale deadline / action time), so a transition that is
published twice is the same event twice and consumers dedupe on ``event_id``.

Clocks: for-duration uses device time (reading timestamps); snooze expiry and staleness use arrival /
wall time (the record's Kinesis arrival, the heartbeat's now), which a device's clock cannot skew.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

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
    return hashlib.sha256(f"{alarm_key}|{transition}|{discriminator}".encode()).hexdigest()[:32]


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
        return {
            "transition": self.transition,
            "severity": self.severity,
            "sensor_type": self.alarm.sensor_type,
            "site": str(self.device.get("site") or "unknown"),
            "device_id": self.alarm.device_id,
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
    if rule.is_stale_rule:
        return {
            "rule_id": rule.rule_id,
            "bound": "stale",
            "threshold": float(rule.stale_after_seconds or 0),
            "clear_threshold": None,
            "for_seconds": rule.stale_after_seconds,
        }
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
    if rule.is_stale_rule:
        return _resume(seen, rule, sample, device)

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


def _resume(
    seen: Alarm, rule: AlarmRule, sample: Sample, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """A reading from a sensor: a raised staleness alarm clears."""
    if not seen.raised:
        return seen, []
    state = SNOOZED if seen.state == SNOOZED and (seen.snoozed_until_ms or 0) > sample.arrival_ms else NORMAL
    new = replace(
        seen,
        state=state,
        raised=False,
        announced=False,
        severity=None,
        since_ms=None,
        acknowledged_by=None,
        acknowledged_at_ms=None,
        snoozed_until_ms=seen.snoozed_until_ms if state == SNOOZED else None,
    )
    if not seen.announced:
        return new, []
    return new, [_event(CLEARED, new, rule, device, sample.seq, sample.timestamp_ms, sample, seen.severity)]


def staleness(
    alarm: Alarm, rule: AlarmRule, last_seen_ms: int, now_ms: int, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """The heartbeat's check of one ``<rule>.stale`` alarm: raise ``Device Stale`` once the deadline passed.

    The event id is keyed on the deadline (``last_seen_ms + stale_after``), so every heartbeat run that
    finds the same silence produces the same event; a reading (``step``) clears it.
    """
    if not rule.is_stale_rule or not rule.stale_after_seconds:
        raise ValueError(f"rule {rule.rule_id!r} is not a staleness rule")
    deadline = last_seen_ms + rule.stale_after_seconds * 1000
    if now_ms < deadline or alarm.raised or alarm.state == DISABLED:
        return alarm, []
    stale = replace(alarm, bound="stale", threshold=float(rule.stale_after_seconds), clear_threshold=None)
    if alarm.state == SNOOZED and (alarm.snoozed_until_ms or 0) > now_ms:
        return replace(stale, raised=True, severity="warning", since_ms=deadline), []
    new = replace(
        stale,
        state=ACTIVE,
        raised=True,
        announced=True,
        severity="warning",
        since_ms=deadline,
        snoozed_until_ms=None,
    )
    return new, [_event(STALE, new, rule, device, deadline, now_ms, None)]


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
    transition = STALE if rule.is_stale_rule else RAISED
    return new, [_event(transition, new, rule, device, until, now_ms, None)]


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


# --- per-device state: the device high-water mark, last-seen times and the staleness deadline ---------------

STALE_BUCKET_SHARDS = 4  # spreads one minute's deadlines over this many index partitions


@dataclass(frozen=True, slots=True)
class SensorSeen:
    last_seen_ms: int  # arrival time of the sensor's latest reading
    timestamp_ms: int  # its device time (rate of change)
    value: float
    seq: int


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The ``<device_id>#__device__`` item: replay guard, rate-of-change memory and staleness deadline.

    ``stale_checks`` maps ``"<sensor_type>#<rule_id>.stale"`` to the rule's ``stale_after_seconds``;
    ``stale_raised`` holds the checks whose ``Device Stale`` is out (a reading of that sensor removes it).
    """

    device_id: str
    last_seq: int = -1
    last_seen_ms: int | None = None
    sensors: dict[str, SensorSeen] = field(default_factory=dict)
    stale_checks: dict[str, int] = field(default_factory=dict)
    stale_raised: frozenset[str] = frozenset()
    context: dict[str, Any] = field(default_factory=dict)  # site, location, model, owner_team
    version: int = 0

    @property
    def item_id(self) -> str:
        return device_item_id(self.device_id)

    def previous(self, sensor_type: str) -> tuple[int, float] | None:
        seen = self.sensors.get(sensor_type)
        return (seen.timestamp_ms, seen.value) if seen else None

    def observe(self, sample: Sample, checks: dict[str, int], device: Device | None) -> DeviceState:
        """Record a reading newer than the high-water mark (callers skip older ones)."""
        sensors = dict(self.sensors)
        sensors[sample.sensor_type] = SensorSeen(
            sample.arrival_ms, sample.timestamp_ms, sample.value, sample.seq
        )
        prefix = f"{sample.sensor_type}#"
        stale_checks = {k: v for k, v in self.stale_checks.items() if not k.startswith(prefix)} | checks
        return replace(
            self,
            last_seq=max(self.last_seq, sample.seq),
            last_seen_ms=max(self.last_seen_ms or 0, sample.arrival_ms),
            sensors=sensors,
            stale_checks=stale_checks,
            stale_raised=frozenset(k for k in self.stale_raised if not k.startswith(prefix)),
            context=device_context(device, self.device_id) if device else self.context,
        )

    def deadline(self, check: str) -> int | None:
        sensor = self.sensors.get(check.split("#", 1)[0])
        seconds = self.stale_checks.get(check)
        if sensor is None or seconds is None:
            return None
        return sensor.last_seen_ms + seconds * 1000

    @property
    def stale_deadline_ms(self) -> int | None:
        """The earliest deadline of a check not yet raised: when the heartbeat must look at this device."""
        deadlines = [self.deadline(c) for c in self.stale_checks if c not in self.stale_raised]
        return min((d for d in deadlines if d is not None), default=None)

    @property
    def stale_bucket(self) -> str | None:
        deadline = self.stale_deadline_ms
        return None if deadline is None else stale_bucket(deadline, self.device_id)

    def due(self, now_ms: int) -> list[tuple[str, str, int]]:
        """``(sensor_type, stale rule id, deadline)`` of every unraised check whose deadline has passed."""
        out = []
        for check in sorted(self.stale_checks):
            deadline = self.deadline(check)
            if check not in self.stale_raised and deadline is not None and deadline <= now_ms:
                sensor_type, rule_id = check.split("#", 1)
                out.append((sensor_type, rule_id, deadline))
        return out

    def mark_raised(self, checks: set[str]) -> DeviceState:
        return replace(self, stale_raised=self.stale_raised | checks)

    def merge(self, newer: DeviceState) -> DeviceState:
        """Combine a concurrent writer's state (``self``, freshly read) with ours (newest per sensor)."""
        sensors = dict(self.sensors)
        for name, seen in newer.sensors.items():
            if name not in sensors or seen.seq > sensors[name].seq:
                sensors[name] = seen
        raised = set()
        for state in (self, newer):
            for check in state.stale_raised:
                sensor = check.split("#", 1)[0]
                own = state.sensors.get(sensor)
                if own is not None and sensor in sensors and sensors[sensor].seq > own.seq:
                    continue  # a newer reading of that sensor resumed it
                raised.add(check)
        return replace(
            newer,
            last_seq=max(self.last_seq, newer.last_seq),
            last_seen_ms=max(self.last_seen_ms or 0, newer.last_seen_ms or 0) or None,
            sensors=sensors,
            stale_checks=self.stale_checks | newer.stale_checks,
            stale_raised=frozenset(raised),
            version=self.version,
        )


def device_item_id(device_id: str) -> str:
    return f"{device_id}#__device__"


def stale_check_key(sensor_type: str, stale_rule_id: str) -> str:
    return f"{sensor_type}#{stale_rule_id}"


def _shard(device_id: str, shards: int) -> int:
    return int(hashlib.sha256(device_id.encode()).hexdigest()[:8], 16) % shards


def stale_bucket(deadline_ms: int, device_id: str, shards: int = STALE_BUCKET_SHARDS) -> str:
    """``"<UTC minute of the deadline>#<shard>"``, e.g. ``"2026-11-29T04:12#3"``: the index partition key."""
    minute = datetime.fromtimestamp(deadline_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")
    return f"{minute}#{_shard(device_id, shards)}"


def stale_buckets(from_ms: int, to_ms: int, shards: int = STALE_BUCKET_SHARDS) -> list[str]:
    """Every bucket whose minute lies in ``[from_ms, to_ms]``: what one heartbeat run queries."""
    out = []
    minute = from_ms - from_ms % 60_000
    while minute <= to_ms:
        label = datetime.fromtimestamp(minute / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M")
        out += [f"{label}#{i}" for i in range(shards)]
        minute += 60_000
    return out


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
    "disable",
    "enable",
    "event_id",
    "expire_snooze",
    "snooze",
    "staleness",
    "step",
]
