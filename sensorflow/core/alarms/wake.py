"""The heartbeat's visit to one due device: staleness, and every alarm timer that came due (``timers``).

A device item comes due (its index bucket, ``DeviceState.stale_bucket_at``) at the earliest of its stale
deadline and ``wake_ms``, the earliest ``timers.next_due_ms`` of its alarms (a snooze or a disable that
ends, the next reminder). Whoever writes the item with the rules at hand -- the alarm evaluator, an
operator action, the heartbeat -- sets ``wake_ms`` with ``wake_ms_of``, so the heartbeat finds reminders and
snooze ends by the same minute buckets it finds silent devices by, never by a fleet scan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sensorflow.core import staleness
from sensorflow.core.alarms.device import DeviceState, device_staleness
from sensorflow.core.alarms.stale_actions import suppresses_raise
from sensorflow.core.alarms.state import DISABLED, SNOOZED, Alarm
from sensorflow.core.alarms.suppression import suppress
from sensorflow.core.alarms.timers import due, next_due_ms
from sensorflow.core.alarms.transitions import TransitionEvent
from sensorflow.core.rules import AlarmRule
from sensorflow.core.silences import Silence

RuleOf = Callable[[Alarm], AlarmRule | None]


@dataclass(slots=True)
class Woken:
    state: DeviceState
    alarms: dict[str, Alarm]
    events: list[TransitionEvent] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.events)


def wake_ms_of(alarms: Mapping[str, Alarm], rule_of: RuleOf) -> int | None:
    """The earliest time one of ``alarms`` changes by the clock alone, or None."""
    times = [t for a in alarms.values() if (t := next_due_ms(a, rule_of(a))) is not None]
    return min(times, default=None)


def with_wake(state: DeviceState, alarms: Mapping[str, Alarm], rule_of: RuleOf) -> DeviceState:
    """``state`` with the due time its alarms give it: ``wake_ms``, and whether an operator's snooze or
    disable of ``Device Stale`` holds its deadline back (the control's end, if any, is in ``wake_ms``)."""
    wake = wake_ms_of(alarms, rule_of)
    control = alarms.get(staleness.stale_alarm_id(state.device_id))
    held = control is not None and control.state in (SNOOZED, DISABLED)
    if wake == state.wake_ms and held == state.stale_held:
        return state
    return replace(state, wake_ms=wake, stale_held=held)


def wake_device(
    state: DeviceState,
    alarms: Mapping[str, Alarm],
    rule_of: RuleOf,
    now_ms: int,
    silences: Sequence[Silence] = (),
) -> Woken:
    """What ``now_ms`` does to a device: ``Device Stale`` if a deadline passed (unless an operator snoozed
    or disabled it), and the timers of its alarms that came due. Pure and deterministic: a retried or
    overlapping run decides the same events with the same ids."""
    out = Woken(state, dict(alarms))
    device = state.device()
    control_key = staleness.stale_alarm_id(state.device_id)
    control = out.alarms.get(control_key)
    for key, alarm in sorted(alarms.items()):
        rule = rule_of(alarm)
        if key == control_key:
            ends = next_due_ms(alarm, None)
            if ends is not None and ends <= now_ms:
                out.alarms.pop(key)  # the operator's snooze or disable of staleness ran out
                control = None
            continue
        if rule is None:
            continue  # its rule left the rules file: nothing times it any more
        new, events = due(alarm, rule, now_ms, device)
        if new is not alarm:
            out.alarms[key] = new
        out.events += events
    if not suppresses_raise(control, now_ms):
        out.state, stale_events = device_staleness(out.state, now_ms)
        out.events += stale_events
    stale = out.state.stale_since_ms is not None
    if out.events and (silences or stale):
        out.events = [suppress(ev, silences, stale) for ev in out.events]
    out.state = with_wake(out.state, out.alarms, rule_of)
    return out
