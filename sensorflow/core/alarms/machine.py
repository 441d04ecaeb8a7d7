"""One reading applied to one alarm: the transitions between NORMAL, PENDING, ACTIVE, ACKNOWLEDGED
and SNOOZED, and the events they emit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sensorflow.core.alarms.condition import Condition, assess_condition
from sensorflow.core.alarms.state import ACTIVE, DISABLED, NORMAL, PENDING, SNOOZED, Alarm, Sample
from sensorflow.core.alarms.transitions import TransitionEvent, transition_event
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule


def step(
    alarm: Alarm, rule: AlarmRule, sample: Sample, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Apply one reading. Returns the new alarm and the transitions it caused (often none).

    The changes are gathered first and applied once, and an alarm they leave as it was is returned as it
    is: most readings change nothing, and this runs for every reading of every rule.
    """
    if alarm.state == DISABLED:
        return alarm, []
    snooze_over = alarm.state == SNOOZED and (alarm.snoozed_until_ms or 0) <= sample.arrival_ms
    c = assess_condition(alarm, rule, sample)
    changes: dict[str, Any] = {
        "raised": c.raised,
        "pending_since_ms": c.pending_since_ms,
        "critical_since_ms": c.critical_since_ms,
        "window": c.window,
    }
    if alarm.state == SNOOZED and not snooze_over:
        transition = _while_snoozed(alarm, c, sample, changes)
    else:
        if snooze_over:
            changes.update(snoozed_until_ms=None, updated_by=None)
        transition = _decide(alarm, c, sample, snooze_over, changes)
    new = _evolve(alarm, changes)
    if transition is None:
        return new, []
    # A clear carries the severity the alarm had, so critical-only subscribers see it end.
    severity = alarm.severity if transition == Transition.CLEARED else None
    at = sample.timestamp_ms
    return new, [transition_event(transition, new, rule, device, sample.discriminator, at, sample, severity)]


def _decide(
    alarm: Alarm, c: Condition, sample: Sample, snooze_over: bool, changes: dict[str, Any]
) -> Transition | None:
    """The transition (if any) and the fields it sets, for an alarm that is not silently snoozed."""
    cause = c.cause
    if c.raised and not alarm.raised:
        changes.update(
            state=ACTIVE,
            severity=c.severity,
            announced=True,
            since_ms=sample.timestamp_ms,
            bound=cause.bound,
            threshold=cause.threshold,
            clear_threshold=cause.clear_threshold,
        )
        return Transition.RAISED
    if c.raised:
        escalate = alarm.severity != "critical" and c.severity == "critical"
        state = ACTIVE if escalate or snooze_over else (alarm.state if alarm.state != SNOOZED else ACTIVE)
        changes.update(state=state, severity=c.severity)
        if escalate:
            changes.update(
                bound=cause.bound, threshold=cause.threshold, clear_threshold=cause.clear_threshold
            )
            if not snooze_over:
                changes.update(acknowledged_by=None, acknowledged_at_ms=None)
            return Transition.ESCALATED
        if snooze_over:  # a snooze only postpones: still raised when it ends, so tell again
            changes.update(announced=True)
            return Transition.RAISED
        return None
    # not raised (any more)
    changes.update(
        state=PENDING if c.pending else NORMAL,
        severity=None,
        announced=False,
        since_ms=(alarm.since_ms if alarm.state == PENDING else sample.timestamp_ms) if c.pending else None,
        bound=cause.bound if c.pending else None,
        threshold=cause.threshold if c.pending else None,
        clear_threshold=cause.clear_threshold if c.pending else None,
        acknowledged_by=None,
        acknowledged_at_ms=None,
        note=None if alarm.raised else alarm.note,
    )
    return Transition.CLEARED if alarm.raised and alarm.announced else None


def _while_snoozed(alarm: Alarm, c: Condition, sample: Sample, changes: dict[str, Any]) -> Transition | None:
    """Track the condition silently; only a clear of an announced raise is told (incidents must resolve)."""
    cause = c.cause
    if c.raised:
        changes.update(severity=c.severity)
        if not alarm.raised:
            changes.update(
                since_ms=sample.timestamp_ms,
                bound=cause.bound,
                threshold=cause.threshold,
                clear_threshold=cause.clear_threshold,
            )
        return None
    changes.update(severity=None, announced=False, since_ms=None)
    return Transition.CLEARED if alarm.raised and alarm.announced else None


def _evolve(alarm: Alarm, changes: dict[str, Any]) -> Alarm:
    """``replace(alarm, **changes)``, or ``alarm`` itself when nothing would change."""
    if all(getattr(alarm, name) == value for name, value in changes.items()):
        return alarm
    return replace(alarm, **changes)
