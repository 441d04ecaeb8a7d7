"""Operator actions on a device's ``Device Stale`` alarm (``<device_id>#device#device-stale``).

The stale alarm is not stepped by readings like a value alarm: the heartbeat raises it and the device's
next reading clears it (``DeviceState``). What an operator decides about it is kept in a *control* record,
an ``Alarm`` stored under the stale alarm's id beside the device's other alarms:

- ``ack``      an open stale episode: ACKNOWLEDGED, by whom ("Alarm Acknowledged"); it still clears on the
               device's next reading;
- ``snooze``   no ``Device Stale`` is raised until the snooze ends (an open episode stays open, and clears
               as usual); the heartbeat raises one then if the device is still silent;
- ``disable``  (a reason, optionally until a time) no ``Device Stale`` at all; an open episode ends now
               ("Alarm Disabled");
- ``enable``   back to normal: the heartbeat raises again if the device is silent;
- ``reset``    ends an open episode now ("Alarm Reset"); the heartbeat raises a new one if it stays silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from sensorflow.core import staleness
from sensorflow.core.alarms.actions import MAX_NOTE, ActionNotAllowedError
from sensorflow.core.alarms.device import DeviceState, stale_rule_context
from sensorflow.core.alarms.state import ACKNOWLEDGED, DISABLED, NORMAL, SNOOZED, Alarm
from sensorflow.core.alarms.transitions import TransitionEvent, event_id
from sensorflow.core.clock import iso
from sensorflow.core.contract import Transition


def stale_control(alarms: Mapping[str, Alarm], device_id: str) -> Alarm | None:
    return alarms.get(staleness.stale_alarm_id(device_id))


def suppresses_raise(control: Alarm | None, now_ms: int) -> bool:
    """Does the operator's decision hold the heartbeat back from raising ``Device Stale`` now?"""
    if control is None:
        return False
    if control.state == DISABLED:
        return control.disabled_until_ms is None or control.disabled_until_ms > now_ms
    return control.state == SNOOZED and (control.snoozed_until_ms or 0) > now_ms


def stale_action(
    action: str,
    state: DeviceState,
    control: Alarm | None,
    who: str,
    note: str | None,
    now_ms: int,
    until_ms: int | None = None,
    caller_arn: str | None = None,
) -> tuple[DeviceState, Alarm | None, list[TransitionEvent]]:
    """The device state, the new control record (None: none kept) and the event of one action."""
    decide = _ACTIONS.get(action)
    if decide is None:
        raise ActionNotAllowedError(f"unknown action {action!r}")
    note = None if note is None else note[:MAX_NOTE]
    if control is not None and control.state == ACKNOWLEDGED and control.episode != state.stale_episode:
        control = None  # the acknowledgement of an episode that is over
    base = control or replace(state.stale_alarm(), state=NORMAL, severity=None, raised=False, announced=False)
    stamp = replace(
        base,
        note=note,
        updated_by=who,
        updated_at_ms=now_ms,
        caller_arn=caller_arn,
        episode=state.stale_episode,
    )
    stale = state.stale_since_ms is not None
    new_control, transition = decide(stamp, control, stale, now_ms, until_ms)
    ending = stale and transition in (Transition.DISABLED, Transition.RESET)
    new_state = replace(state, stale_since_ms=None, stale_event_id=None) if ending else state
    shown = replace(
        new_control or replace(stamp, state=NORMAL),
        episode=state.stale_episode,
        since_ms=state.stale_since_ms,
    )
    event = TransitionEvent(
        event_id=event_id(base.alarm_id, transition, now_ms),
        transition=transition,
        occurred_at_ms=now_ms,
        alarm=shown,
        severity="warning",
        rule=stale_rule_context(None),
        reading=None,
        device=dict(state.context) or {"device_id": state.device_id},
    )
    return new_state, new_control, [event]


_Decision = tuple[Alarm | None, Transition]


def _ack(stamp: Alarm, control: Alarm | None, stale: bool, now_ms: int, until_ms: int | None) -> _Decision:
    if not stale or (control is not None and control.state == ACKNOWLEDGED):
        raise ActionNotAllowedError(
            f"{stamp.alarm_id}: the device is not stale, or it is already acknowledged"
        )
    who = stamp.updated_by
    return replace(
        stamp, state=ACKNOWLEDGED, acknowledged_by=who, acknowledged_at_ms=now_ms
    ), Transition.ACKNOWLEDGED


def _snooze(stamp: Alarm, control: Alarm | None, stale: bool, now_ms: int, until_ms: int | None) -> _Decision:
    if until_ms is None or until_ms <= now_ms:
        raise ActionNotAllowedError(f"snooze end {iso(until_ms)} is not in the future")
    return replace(stamp, state=SNOOZED, snoozed_until_ms=until_ms), Transition.SNOOZED


def _disable(
    stamp: Alarm, control: Alarm | None, stale: bool, now_ms: int, until_ms: int | None
) -> _Decision:
    if control is not None and control.state == DISABLED:
        raise ActionNotAllowedError(f"alarm {stamp.alarm_id} is already DISABLED")
    if not stamp.note or not stamp.note.strip():
        raise ActionNotAllowedError("disable needs a reason (--reason TEXT): it is recorded with the alarm")
    if until_ms is not None and until_ms <= now_ms:
        raise ActionNotAllowedError(f"disable end {iso(until_ms)} is not in the future")
    return replace(stamp, state=DISABLED, disabled_until_ms=until_ms), Transition.DISABLED


def _enable(stamp: Alarm, control: Alarm | None, stale: bool, now_ms: int, until_ms: int | None) -> _Decision:
    if control is None or control.state != DISABLED:
        raise ActionNotAllowedError(f"alarm {stamp.alarm_id} is not DISABLED")
    return None, Transition.ENABLED


def _reset(stamp: Alarm, control: Alarm | None, stale: bool, now_ms: int, until_ms: int | None) -> _Decision:
    if not stale:
        raise ActionNotAllowedError(
            f"alarm {stamp.alarm_id}: the device is not stale; there is nothing to reset"
        )
    return None, Transition.RESET


_ACTIONS = {"ack": _ack, "snooze": _snooze, "disable": _disable, "enable": _enable, "reset": _reset}
