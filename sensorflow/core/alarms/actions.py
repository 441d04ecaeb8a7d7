"""Operator actions on an alarm: acknowledge, snooze, disable and enable, each with its event."""

from __future__ import annotations

from dataclasses import replace

from sensorflow.core.alarms.state import ACKNOWLEDGED, ACTIVE, DISABLED, NORMAL, SNOOZED, Alarm
from sensorflow.core.alarms.transitions import TransitionEvent, transition_event
from sensorflow.core.clock import iso
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule


class ActionNotAllowedError(ValueError):
    """An operator action that does not apply to the alarm's current state."""


def acknowledge(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state != ACTIVE:
        raise ActionNotAllowedError(
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
    return new, [transition_event(Transition.ACKNOWLEDGED, new, rule, device, now_ms, now_ms, None)]


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
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is DISABLED; enable it before snoozing")
    if until_ms <= now_ms:
        raise ActionNotAllowedError(f"snooze end {iso(until_ms)} is not in the future")
    new = replace(
        alarm, state=SNOOZED, snoozed_until_ms=until_ms, note=note, updated_by=who, updated_at_ms=now_ms
    )
    return new, [transition_event(Transition.SNOOZED, new, rule, device, now_ms, now_ms, None)]


def disable(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    if alarm.state == DISABLED:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is already DISABLED")
    new = replace(
        Alarm.new(alarm.device_id, alarm.sensor_type, alarm.rule_id),
        state=DISABLED,
        note=note,
        updated_by=who,
        updated_at_ms=now_ms,
    )
    return new, [transition_event(Transition.DISABLED, new, rule, device, now_ms, now_ms, None)]


def enable(
    alarm: Alarm, who: str, note: str | None, now_ms: int, rule: AlarmRule, device: Device | None = None
) -> tuple[Alarm, list[TransitionEvent]]:
    """Back to NORMAL with a fresh condition: the next reading re-evaluates from scratch."""
    if alarm.state != DISABLED:
        raise ActionNotAllowedError(f"alarm {alarm.alarm_id} is {alarm.state}, not DISABLED")
    new = replace(alarm, state=NORMAL, note=note, updated_by=who, updated_at_ms=now_ms)
    return new, [transition_event(Transition.ENABLED, new, rule, device, now_ms, now_ms, None)]
