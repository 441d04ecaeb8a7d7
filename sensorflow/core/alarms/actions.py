"""Operator actions on an alarm: acknowledge, snooze, disable, enable and reset, each with its event.

Every action records who did it: ``who`` (the operator's ``--by``) and ``caller_arn`` (the AWS identity
that made the call, from STS ``GetCallerIdentity``). An action that ends an open episode (acknowledging a
LATCHED alarm, reset, disable) emits the event that ends it with the severity the episode had, so
critical-only consumers (incidents) see it end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sensorflow.core.alarms.state import ACKNOWLEDGED, ACTIVE, DISABLED, LATCHED, NORMAL, SNOOZED, Alarm
from sensorflow.core.alarms.transitions import TransitionEvent, transition_event
from sensorflow.core.clock import iso
from sensorflow.core.contract import Transition
from sensorflow.core.limits import NOTE_MAX_CHARS
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule

MAX_NOTE = NOTE_MAX_CHARS  # characters of a note or reason kept (the CLI refuses longer ones)


class ActionNotAllowedError(ValueError):
    """An operator action that does not apply to the alarm's current state."""


def acknowledge(
    alarm: Alarm,
    who: str,
    note: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
    caller_arn: str | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    """ACTIVE -> ACKNOWLEDGED ("Alarm Acknowledged"); LATCHED -> NORMAL ("Alarm Cleared": a latched
    alarm's episode ends only when someone acknowledges it)."""
    if alarm.state not in (ACTIVE, LATCHED):
        raise ActionNotAllowedError(
            f"alarm {alarm.alarm_id} is {alarm.state}; only an ACTIVE or LATCHED alarm can be acknowledged"
        )
    stamp: dict[str, Any] = {"updated_by": who, "updated_at_ms": now_ms, "caller_arn": caller_arn}
    if alarm.state == LATCHED:
        new = replace(
            _ended(alarm), acknowledged_by=who, acknowledged_at_ms=now_ms, note=_note(note), **stamp
        )
        event = transition_event(
            Transition.CLEARED, new, rule, device, f"ack.{now_ms}", now_ms, None, alarm.severity
        )
        return replace(new, acknowledged_by=None, acknowledged_at_ms=None), [event]
    new = replace(
        alarm, state=ACKNOWLEDGED, acknowledged_by=who, acknowledged_at_ms=now_ms, note=_note(note), **stamp
    )
    return new, [transition_event(Transition.ACKNOWLEDGED, new, rule, device, now_ms, now_ms, None)]


def snooze(
    alarm: Alarm,
    until_ms: int,
    who: str,
    note: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
    caller_arn: str | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state == DISABLED:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is DISABLED; enable it before snoozing")
    if until_ms <= now_ms:
        raise ActionNotAllowedError(f"snooze end {iso(until_ms)} is not in the future")
    new = replace(
        alarm,
        state=SNOOZED,
        snoozed_until_ms=until_ms,
        note=_note(note),
        updated_by=who,
        updated_at_ms=now_ms,
        caller_arn=caller_arn,
    )
    return new, [transition_event(Transition.SNOOZED, new, rule, device, now_ms, now_ms, None)]


def disable(
    alarm: Alarm,
    who: str,
    reason: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
    caller_arn: str | None = None,
    until_ms: int | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    """Stop evaluating the alarm (until ``until_ms``, if given). A reason is required. It ends an open
    episode: the event carries the severity the episode had."""
    if alarm.state == DISABLED:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is already DISABLED")
    if not reason or not reason.strip():
        raise ActionNotAllowedError("disable needs a reason (--reason TEXT): it is recorded with the alarm")
    if until_ms is not None and until_ms <= now_ms:
        raise ActionNotAllowedError(f"disable end {iso(until_ms)} is not in the future")
    new = replace(
        _ended(alarm),
        state=DISABLED,
        note=_note(reason),
        updated_by=who,
        updated_at_ms=now_ms,
        caller_arn=caller_arn,
        disabled_until_ms=until_ms,
    )
    severity = alarm.severity if alarm.announced else None
    return new, [transition_event(Transition.DISABLED, new, rule, device, now_ms, now_ms, None, severity)]


def enable(
    alarm: Alarm,
    who: str,
    note: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
    caller_arn: str | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    """Back to NORMAL with a fresh condition: the next reading re-evaluates from scratch."""
    if alarm.state != DISABLED:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is {alarm.state}, not DISABLED")
    new = replace(
        alarm,
        state=NORMAL,
        note=_note(note),
        updated_by=who,
        updated_at_ms=now_ms,
        caller_arn=caller_arn,
        disabled_until_ms=None,
    )
    return new, [transition_event(Transition.ENABLED, new, rule, device, now_ms, now_ms, None)]


def reset(
    alarm: Alarm,
    who: str,
    note: str | None,
    now_ms: int,
    rule: AlarmRule,
    device: Device | None = None,
    caller_arn: str | None = None,
) -> tuple[Alarm, list[TransitionEvent]]:
    """IoT Events' reset: back to NORMAL now, with a fresh condition, ending any open episode
    ("Alarm Reset", with the severity it had). A condition that still holds raises again, as a new
    episode, once it has held for the rule's duration again."""
    if alarm.state in (NORMAL, DISABLED) and not alarm.announced:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is {alarm.state}; there is nothing to reset")
    new = replace(
        _ended(alarm), note=_note(note), updated_by=who, updated_at_ms=now_ms, caller_arn=caller_arn
    )
    severity = alarm.severity if alarm.announced else None
    return new, [transition_event(Transition.RESET, new, rule, device, now_ms, now_ms, None, severity)]


def _ended(alarm: Alarm) -> Alarm:
    """The alarm with its episode and condition over: a fresh alarm that keeps its episode count."""
    return replace(Alarm.new(alarm.device_id, alarm.sensor_type, alarm.rule_id), episode=alarm.episode)


def _note(note: str | None) -> str | None:
    return None if note is None else note[:MAX_NOTE]
