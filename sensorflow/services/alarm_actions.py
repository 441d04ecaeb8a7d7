"""Operator actions on one alarm (ack, snooze, disable, enable), committed and published like a reading's.

``AlarmActions.apply``:

1. **Read** the device item that holds the alarm (strongly consistent).
2. **Decide** with the pure core (``sensorflow.core.alarms.actions``); a refused action raises
   ``ActionNotAllowedError`` with the reason, and nothing is written.
3. **Write** the device item with the alarm's new state, its event and any events an earlier attempt
   left in the outbox, conditional on the version it was read at. A lost race (a batch, the heartbeat or
   another operator wrote first) is re-read and re-decided, at most ``max_conflict_retries`` times.
4. **Publish** through the shared outbox (``sensorflow.services.outbox``): each event goes only to the
   publishers still owed it, and what a publisher refused stays in the outbox marked with that publisher
   alone, so a later resend (the next action, or the alarm's next reading) never repeats an event to a
   publisher that already took it. Plain SNS subscribers (email, an external queue) cannot dedupe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sensorflow.core import alarms as am
from sensorflow.core import staleness
from sensorflow.core.alarms import DeviceState
from sensorflow.core.alarms.stale_actions import stale_action, stale_control
from sensorflow.core.alarms.wake import with_wake
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import (
    AlarmStore,
    StoredDevice,
    TransitionLike,
    TransitionPublisher,
    VersionConflictError,
)
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.core.thresholds import Levels
from sensorflow.observability import logger
from sensorflow.services.outbox import publish_all, still_owed

DEFAULT_MAX_CONFLICT_RETRIES = 3
# Time the publishers may spend on an operator action (there is no Lambda deadline on a CLI run).
DEFAULT_PUBLISH_BUDGET_MS = 30_000

Decide = Callable[..., tuple[am.Alarm, list[am.TransitionEvent]]]
_DECIDE: dict[str, Decide] = {"ack": am.acknowledge, "enable": am.enable, "reset": am.reset}
ACTIONS = ("ack", "snooze", "disable", "enable", "reset")


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    alarm: am.Alarm  # as written
    events: list[am.TransitionEvent]  # what the action emitted
    undelivered: int  # events still in the outbox (this action's or older), to go out with the next one


class AlarmActions:
    def __init__(
        self,
        store: AlarmStore,
        rules: RuleBook,
        publishers: Sequence[TransitionPublisher],
        max_conflict_retries: int = DEFAULT_MAX_CONFLICT_RETRIES,
        publish_budget_ms: int = DEFAULT_PUBLISH_BUDGET_MS,
    ) -> None:
        self._store = store
        self._rules = rules
        self._publishers = publishers
        self._retries = max_conflict_retries
        self._budget_ms = publish_budget_ms

    def apply(
        self,
        action: str,
        alarm_key: str,
        who: str,
        note: str | None,
        now_ms: int,
        until_ms: int | None = None,
        caller_arn: str | None = None,
    ) -> ActionOutcome:
        """Read, decide, write conditionally (re-deciding on a lost race), publish, clear the outbox.

        ``note`` is the reason for ``disable`` (required there); ``until_ms`` ends a snooze (required) or a
        disable (optional). ``who`` is the operator's name, ``caller_arn`` the AWS identity that called."""
        if action not in ACTIONS:
            raise am.ActionNotAllowedError(f"unknown action {action!r}; expected one of {', '.join(ACTIONS)}")
        device_id, sensor_type, rule_id = _parse_alarm_id(alarm_key)
        if sensor_type == staleness.STALE_SENSOR_TYPE:
            return self._stale(action, device_id, who, note, now_ms, until_ms, caller_arn)
        for _ in range(self._retries + 1):
            stored = self._store.load([device_id]).get(device_id) or StoredDevice(DeviceState(device_id))
            current = stored.alarms.get(alarm_key)
            rule = self._rule_of(current is not None, alarm_key, action, rule_id, sensor_type)
            alarm = current or am.Alarm.initial(
                device_id, sensor_type, rule_id, rule.disabled_on_initialization
            )
            new, events = _decide(
                action, alarm, rule, stored.state.device(), who, note, now_ms, until_ms, caller_arn
            )
            outbox: list[TransitionLike] = [*stored.outbox, *events]
            alarms = {**stored.alarms, alarm_key: new}
            state = with_wake(stored.state, alarms, self._rule_for)
            try:
                written = self._store.put_device(state, alarms, outbox)
            except VersionConflictError:
                logger.info("alarm changed during an operator action; re-reading", alarm_id=alarm_key)
                continue
            return ActionOutcome(new, events, self._publish(written, outbox))
        raise VersionConflictError(f"alarm {alarm_key} kept changing ({self._retries} retries); try again")

    def _stale(
        self,
        action: str,
        device_id: str,
        who: str,
        note: str | None,
        now_ms: int,
        until_ms: int | None,
        caller_arn: str | None,
    ) -> ActionOutcome:
        """An action on the device's ``Device Stale`` alarm (``sensorflow.core.alarms.stale_actions``)."""
        key = staleness.stale_alarm_id(device_id)
        for _ in range(self._retries + 1):
            stored = self._store.load([device_id]).get(device_id)
            if stored is None:
                raise am.ActionNotAllowedError(
                    f"unknown alarm id {key!r}: no such device; `sensorflow alarms list` shows them"
                )
            control = stale_control(stored.alarms, device_id)
            state, new_control, events = stale_action(
                action, stored.state, control, who, note, now_ms, until_ms, caller_arn
            )
            alarms = {k: v for k, v in stored.alarms.items() if k != key}
            if new_control is not None:
                alarms[key] = new_control
            outbox: list[TransitionLike] = [*stored.outbox, *events]
            state = with_wake(state, alarms, self._rule_for)
            try:
                written = self._store.put_device(state, alarms, outbox)
            except VersionConflictError:
                logger.info("device changed during an operator action; re-reading", alarm_id=key)
                continue
            shown = events[0].alarm
            return ActionOutcome(shown, events, self._publish(written, outbox))
        raise VersionConflictError(f"alarm {key} kept changing ({self._retries} retries); try again")

    def _rule_for(self, alarm: am.Alarm) -> AlarmRule | None:
        return self._rules.get(alarm.rule_id)

    def _rule_of(
        self, exists: bool, alarm_key: str, action: str, rule_id: str, sensor_type: str
    ) -> AlarmRule:
        rule = self._rules.get(rule_id)
        if not exists and (rule is None or rule.sensor_type != sensor_type):
            raise am.ActionNotAllowedError(
                f"unknown alarm id {alarm_key!r}: no such alarm; `sensorflow alarms list` shows them"
            )
        can_enable = action == "enable" and rule is not None and rule.disabled_on_initialization
        if not exists and action in ("ack", "reset", "enable") and not can_enable:
            raise am.ActionNotAllowedError(f"alarm {alarm_key!r} has never been raised; nothing to {action}")
        # An alarm whose rule left the rules file can still be acted on (to silence or disable it).
        return rule or AlarmRule(rule_id, sensor_type, {}, Levels())

    def _publish(self, written: DeviceState, outbox: list[TransitionLike]) -> int:
        owed = publish_all(outbox, self._publishers, lambda: self._budget_ms)
        keep = still_owed(outbox, owed)
        try:
            self._store.clear_device_outbox(written, keep)
        except TransientError as exc:
            # The events keep their ids and their owed publishers; the next writer of the device resends them.
            logger.warning(
                "outbox not cleared after an operator action", device_id=written.device_id, error=str(exc)
            )
        if keep:
            logger.warning("operator action events undelivered; kept in the outbox", count=len(keep))
        return len(keep)


def _decide(
    action: str,
    alarm: am.Alarm,
    rule: AlarmRule,
    device: Device | None,
    who: str,
    note: str | None,
    now_ms: int,
    until_ms: int | None,
    caller_arn: str | None,
) -> tuple[am.Alarm, list[am.TransitionEvent]]:
    if action == "snooze":
        if until_ms is None:
            raise am.ActionNotAllowedError("snooze needs an end time")
        return am.snooze(alarm, until_ms, who, note, now_ms, rule, device, caller_arn)
    if action == "disable":
        return am.disable(alarm, who, note, now_ms, rule, device, caller_arn, until_ms)
    return _DECIDE[action](alarm, who, note, now_ms, rule, device, caller_arn)


def _parse_alarm_id(alarm_key: str) -> tuple[str, str, str]:
    parts = alarm_key.split("#")
    if len(parts) != 3 or not all(parts):
        raise am.ActionNotAllowedError(
            f"{alarm_key!r} is not an alarm id; expected <device_id>#<sensor_type>#<rule_id>"
        )
    return parts[0], parts[1], parts[2]
