"""One reading applied to one alarm: the transitions between NORMAL, PENDING, ACTIVE, ACKNOWLEDGED,
LATCHED and SNOOZED, and the events they emit.

Episodes: an episode starts with the "Alarm Raised" told when none is open (``Alarm.announced`` false),
and ends with the "Alarm Cleared" (or an operator's reset or disable) that answers it. Everything between
-- escalation, acknowledgement, reminders, a snooze -- belongs to it and carries its number, so the
transitions of one alarm always alternate raise, clear, raise, clear.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sensorflow.core.alarms.condition import Condition, assess_condition
from sensorflow.core.alarms.state import (
    ACKNOWLEDGED,
    ACTIVE,
    DISABLED,
    LATCHED,
    NORMAL,
    PENDING,
    SNOOZED,
    Alarm,
    Sample,
)
from sensorflow.core.alarms.timers import intervals_elapsed
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
        transition = _while_snoozed(alarm, rule, c, sample, changes)
    else:
        if snooze_over:
            changes.update(snoozed_until_ms=None, updated_by=None)
        transition = _decide(alarm, rule, c, sample, snooze_over, changes)
    new = _evolve(alarm, changes)
    if transition is None:
        return new, []
    # A clear carries the severity the alarm had, so critical-only subscribers see it end.
    severity = alarm.severity if transition == Transition.CLEARED else None
    discriminator: int | str = sample.discriminator
    if transition == Transition.REMINDER:  # the snooze ran out: the same id as the heartbeat would give it
        discriminator = f"{new.episode}.snooze.{alarm.snoozed_until_ms}"
        new = replace(new, reminders=intervals_elapsed(new, rule, sample.arrival_ms))
    at = sample.timestamp_ms
    return new, [transition_event(transition, new, rule, device, discriminator, at, sample, severity)]


def _decide(
    alarm: Alarm, rule: AlarmRule, c: Condition, sample: Sample, snooze_over: bool, changes: dict[str, Any]
) -> Transition | None:
    """The transition (if any) and the fields it sets, for an alarm that is not silently snoozed."""
    if c.raised:
        return _raised(alarm, c, sample, snooze_over, changes)
    if alarm.announced and rule.latch and alarm.state != ACKNOWLEDGED:
        # Latched: back to normal, but it stays told (and its severity kept) until someone acknowledges.
        changes.update(state=LATCHED, since_ms=alarm.since_ms)
        return None
    cause = c.cause
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
        reminders=0,
        note=None if alarm.raised else alarm.note,
    )
    return Transition.CLEARED if alarm.announced else None


def _raised(
    alarm: Alarm, c: Condition, sample: Sample, snooze_over: bool, changes: dict[str, Any]
) -> Transition | None:
    """The condition holds. An episode starts with "Alarm Raised" whenever none is open -- also when the
    condition began silently during a snooze that has just ended, however severe it is by now."""
    cause = c.cause
    if not alarm.announced:
        changes.update(
            state=ACTIVE,
            severity=c.severity,
            announced=True,
            since_ms=alarm.since_ms if alarm.raised and alarm.since_ms is not None else sample.timestamp_ms,
            bound=cause.bound,
            threshold=cause.threshold,
            clear_threshold=cause.clear_threshold,
            episode=alarm.episode + 1,
            reminders=0,
            acknowledged_by=None,
            acknowledged_at_ms=None,
        )
        return Transition.RAISED
    escalate = alarm.severity != "critical" and c.severity == "critical"
    state = ACTIVE if escalate or alarm.state in (SNOOZED, LATCHED, PENDING, NORMAL) else alarm.state
    changes.update(state=state, severity=c.severity)
    if escalate:
        changes.update(
            bound=cause.bound,
            threshold=cause.threshold,
            clear_threshold=cause.clear_threshold,
            acknowledged_by=None,
            acknowledged_at_ms=None,
        )
        return Transition.ESCALATED
    if snooze_over:  # a snooze only postpones: the episode it hid is still open when it ends, so remind
        return Transition.REMINDER
    return None


def _while_snoozed(
    alarm: Alarm, rule: AlarmRule, c: Condition, sample: Sample, changes: dict[str, Any]
) -> Transition | None:
    """Track the condition silently; only a clear of an announced raise is told (incidents must resolve)."""
    cause = c.cause
    if c.raised:
        if not alarm.announced:
            changes.update(severity=c.severity)  # an episode that is told, if at all, when the snooze ends
        if not alarm.raised:
            changes.update(
                since_ms=sample.timestamp_ms,
                bound=cause.bound,
                threshold=cause.threshold,
                clear_threshold=cause.clear_threshold,
            )
        return None
    if alarm.announced and rule.latch:
        return None  # latched: it ends only when acknowledged, snoozed or not
    if alarm.announced:
        # The episode a snooze hid ends now (severity kept for the event, below).
        changes.update(severity=None, announced=False, since_ms=None, reminders=0)
        return Transition.CLEARED
    changes.update(severity=None, since_ms=None)
    return None


def _evolve(alarm: Alarm, changes: dict[str, Any]) -> Alarm:
    """``replace(alarm, **changes)``, or ``alarm`` itself when nothing would change."""
    if all(getattr(alarm, name) == value for name, value in changes.items()):
        return alarm
    return replace(alarm, **changes)
