"""One reading applied to one alarm: the transitions between NORMAL, PENDING, ACTIVE, ACKNOWLEDGED
and SNOOZED, and the events they emit."""

from __future__ import annotations

from dataclasses import replace

from sensorflow.core.alarms.condition import Condition, assess_condition
from sensorflow.core.alarms.state import ACTIVE, DISABLED, NORMAL, PENDING, SNOOZED, Alarm, Sample
from sensorflow.core.alarms.transitions import TransitionEvent, transition_event
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule


def step(
    alarm: Alarm, rule: AlarmRule, sample: Sample, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Apply one reading. Returns the new alarm and the transitions it caused (often none)."""
    if alarm.state == DISABLED:
        return alarm, []

    snooze_over = alarm.state == SNOOZED and (alarm.snoozed_until_ms or 0) <= sample.arrival_ms
    c = assess_condition(alarm, rule, sample)
    cause = c.cause
    events: list[TransitionEvent] = []
    base = replace(
        alarm,
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
        events.append(
            transition_event(
                Transition.RAISED, new, rule, device, sample.discriminator, sample.timestamp_ms, sample
            )
        )
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
            events.append(
                transition_event(
                    Transition.ESCALATED, new, rule, device, sample.discriminator, sample.timestamp_ms, sample
                )
            )
        elif snooze_over:  # a snooze only postpones: still raised when it ends, so tell again
            new = replace(new, announced=True)
            events.append(
                transition_event(
                    Transition.RAISED, new, rule, device, sample.discriminator, sample.timestamp_ms, sample
                )
            )
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
            transition_event(
                Transition.CLEARED,
                cleared,
                rule,
                device,
                sample.discriminator,
                sample.timestamp_ms,
                sample,
                alarm.severity,
            )
        )
    return cleared, events


def _while_snoozed(
    alarm: Alarm, base: Alarm, c: Condition, rule: AlarmRule, sample: Sample, device: Device | None
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
            transition_event(
                Transition.CLEARED,
                new,
                rule,
                device,
                sample.discriminator,
                sample.timestamp_ms,
                sample,
                alarm.severity,
            )
        ]
    return new, []
