"""What time alone does to an alarm, with no reading: a snooze or a disable that runs out, and reminders.

The heartbeat calls ``due`` for the alarms of the devices whose wake-up time has come (the device item's
index bucket is the earliest of its stale deadline and its alarms' ``next_due_ms``), never on a scan:

- a **snooze** that has ended brings the alarm back: "Alarm Raised" if the condition began while it was
  snoozed (a new episode), "Alarm Reminder" if the episode it hid is still open, nothing if all is well;
- a **disable** with an end time enables the alarm again ("Alarm Enabled", by ``sensorflow``);
- a rule's ``repeat_every`` re-notifies an ACTIVE alarm nobody has acknowledged: "Alarm Reminder" once per
  interval since the episode began, with the id ``sha256(alarm_id|Alarm Reminder|<episode>.<interval>)``,
  so a heartbeat run that is retried, or two that overlap, tell each interval once.

The clock is the wall clock (the heartbeat's now). A reminder's intervals count from the episode's start
(the device time of the reading that raised it, which the ingest checks keep within minutes of arrival).
"""

from __future__ import annotations

from dataclasses import replace

from sensorflow.core.alarms.state import ACTIVE, DISABLED, LATCHED, NORMAL, SNOOZED, Alarm
from sensorflow.core.alarms.transitions import TransitionEvent, transition_event
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule

SYSTEM = "sensorflow"


def next_due_ms(alarm: Alarm, rule: AlarmRule | None) -> int | None:
    """When time alone next changes this alarm, or None."""
    if alarm.state == SNOOZED:
        return alarm.snoozed_until_ms
    if alarm.state == DISABLED:
        return alarm.disabled_until_ms
    repeat = rule.repeat_every if rule is not None else None
    if alarm.state == ACTIVE and alarm.announced and repeat and alarm.since_ms is not None:
        return alarm.since_ms + (alarm.reminders + 1) * repeat * 1000
    return None


def intervals_elapsed(alarm: Alarm, rule: AlarmRule, now_ms: int) -> int:
    """Whole ``repeat_every`` intervals since the episode began (0 without reminders)."""
    if not rule.repeat_every or alarm.since_ms is None:
        return 0
    return max(0, (now_ms - alarm.since_ms) // (rule.repeat_every * 1000))


def due(
    alarm: Alarm, rule: AlarmRule, now_ms: int, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    """The alarm at ``now_ms`` with what came due applied (often nothing: ``alarm`` itself comes back)."""
    due_at = next_due_ms(alarm, rule)
    if due_at is None or due_at > now_ms:
        return alarm, []
    if alarm.state == SNOOZED:
        return _snooze_over(alarm, rule, due_at, now_ms, device)
    if alarm.state == DISABLED:
        new = replace(
            alarm,
            state=NORMAL,
            disabled_until_ms=None,
            note=None,
            updated_by=SYSTEM,
            updated_at_ms=now_ms,
            caller_arn=None,
        )
        return new, [transition_event(Transition.ENABLED, new, rule, device, f"until.{due_at}", now_ms, None)]
    return _remind(alarm, rule, now_ms, device)


def _snooze_over(
    alarm: Alarm, rule: AlarmRule, due_at: int, now_ms: int, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    base = replace(alarm, snoozed_until_ms=None, updated_by=None)
    if not alarm.raised:
        if alarm.announced:  # a latched episode the snooze hid: latched still
            return replace(base, state=LATCHED), []
        return replace(base, state=NORMAL), []
    if not alarm.announced:  # the condition began while snoozed: a new episode, told now
        new = replace(
            base,
            state=ACTIVE,
            announced=True,
            episode=alarm.episode + 1,
            reminders=0,
            since_ms=alarm.since_ms,
        )
        return new, [transition_event(Transition.RAISED, new, rule, device, f"snooze.{due_at}", now_ms, None)]
    new = replace(base, state=ACTIVE, reminders=intervals_elapsed(alarm, rule, now_ms))
    discriminator = f"{new.episode}.snooze.{due_at}"
    return new, [transition_event(Transition.REMINDER, new, rule, device, discriminator, now_ms, None)]


def _remind(
    alarm: Alarm, rule: AlarmRule, now_ms: int, device: Device | None
) -> tuple[Alarm, list[TransitionEvent]]:
    interval = intervals_elapsed(alarm, rule, now_ms)  # >= reminders + 1: it is due
    new = replace(alarm, reminders=interval)
    discriminator = f"{alarm.episode}.{interval}"
    return new, [transition_event(Transition.REMINDER, new, rule, device, discriminator, now_ms, None)]
