"""The alarm transition event (issue 5 contract) as the consumers read it, and its two Lambda envelopes.

The producer side builds events with ``sensorflow.core.alarms.TransitionView``; this module is the
reader's typed view of the JSON document it publishes (``to_message()``).

The same JSON document is the SNS ``Message`` and the EventBridge ``detail``::

    {"event_id", "transition", "occurred_at",
     "alarm": {"alarm_id", "device_id", "sensor_type", "rule_id", "state", "severity", "since",
               "acknowledged_by", "note", "snoozed_until", "episode", "updated_by", "caller_arn",
               "disabled_until"},
     "reading": {"value", "unit", "timestamp", "seq"} | null,
     "rule": {"rule_id", "bound", "threshold", "clear_threshold", "for_seconds"},
     "device": {"device_id", "site", "location", "model", "owner_team"},
     "suppressed": null | {"reason": "silenced" | "inhibited", "silence_id", "created_by", "comment",
                           "ends_at"}}

``alarm.episode`` numbers the alarm's episodes: it goes up by one on the ``Alarm Raised`` / ``Device Stale``
that starts an episode, and every later transition of the episode (escalate, acknowledge, reminder,
snooze, and the clear, reset or disable that ends it) carries the same number, so a consumer can tell
which episode an event belongs to whatever order the events arrive in. ``suppressed`` marks a transition
that is published and recorded but must notify nobody: a silence matched it, or its device is stale.

Consumers parse it with ``parse_transition`` (strict on the fields they rely on, lenient on extras, so
the producer can add fields without breaking them). Pure: no AWS SDK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sensorflow.core.clock import iso_to_ms

SOURCE = "sensorflow.alarms"


class Transition(StrEnum):
    """The transition names: the SNS ``transition`` attribute and the EventBridge ``detail-type``."""

    RAISED = "Alarm Raised"
    ESCALATED = "Alarm Escalated"
    CLEARED = "Alarm Cleared"
    ACKNOWLEDGED = "Alarm Acknowledged"
    STALE = "Device Stale"
    SNOOZED = "Alarm Snoozed"
    DISABLED = "Alarm Disabled"
    ENABLED = "Alarm Enabled"
    REMINDER = "Alarm Reminder"
    RESET = "Alarm Reset"


# The transitions that end an episode: they carry the severity the alarm had during it.
ENDING = frozenset({Transition.CLEARED, Transition.RESET, Transition.DISABLED})
SUPPRESSION_REASONS = frozenset({"silenced", "inhibited"})


TRANSITIONS = frozenset(Transition)
SEVERITIES = frozenset({"warning", "critical"})


class InvalidTransitionError(ValueError):
    """A transition event that does not follow the contract. Permanent: retrying cannot fix it."""


@dataclass(frozen=True, slots=True)
class AlarmView:
    alarm_id: str
    device_id: str
    sensor_type: str
    rule_id: str
    state: str
    severity: str | None
    since: str | None = None
    acknowledged_by: str | None = None
    note: str | None = None
    snoozed_until: str | None = None
    episode: int = 0
    updated_by: str | None = None
    caller_arn: str | None = None
    disabled_until: str | None = None


@dataclass(frozen=True, slots=True)
class SuppressionView:
    reason: str  # "silenced" | "inhibited"
    silence_id: str | None = None
    created_by: str | None = None
    comment: str | None = None
    ends_at: str | None = None


@dataclass(frozen=True, slots=True)
class ReadingView:
    value: float
    unit: str
    timestamp: str
    seq: int


@dataclass(frozen=True, slots=True)
class RuleView:
    rule_id: str
    bound: str | None = None
    threshold: float | None = None
    clear_threshold: float | None = None
    for_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceView:
    device_id: str
    site: str = "unknown"
    location: str = "unknown"
    model: str = "unknown"
    owner_team: str = "unknown"


@dataclass(frozen=True, slots=True)
class TransitionView:
    event_id: str
    transition: str
    occurred_at: str
    alarm: AlarmView
    rule: RuleView
    device: DeviceView
    reading: ReadingView | None = None
    suppressed: SuppressionView | None = None

    @property
    def severity(self) -> str | None:
        return self.alarm.severity

    @property
    def occurred_at_ms(self) -> int:
        return iso_to_ms(self.occurred_at)

    def to_message(self) -> dict[str, Any]:
        a, r, d = self.alarm, self.rule, self.device
        return {
            "event_id": self.event_id,
            "transition": self.transition,
            "occurred_at": self.occurred_at,
            "alarm": {
                "alarm_id": a.alarm_id,
                "device_id": a.device_id,
                "sensor_type": a.sensor_type,
                "rule_id": a.rule_id,
                "state": a.state,
                "severity": a.severity,
                "since": a.since,
                "acknowledged_by": a.acknowledged_by,
                "note": a.note,
                "snoozed_until": a.snoozed_until,
                "episode": a.episode,
                "updated_by": a.updated_by,
                "caller_arn": a.caller_arn,
                "disabled_until": a.disabled_until,
            },
            "reading": None
            if self.reading is None
            else {
                "value": self.reading.value,
                "unit": self.reading.unit,
                "timestamp": self.reading.timestamp,
                "seq": self.reading.seq,
            },
            "rule": {
                "rule_id": r.rule_id,
                "bound": r.bound,
                "threshold": r.threshold,
                "clear_threshold": r.clear_threshold,
                "for_seconds": r.for_seconds,
            },
            "device": {
                "device_id": d.device_id,
                "site": d.site,
                "location": d.location,
                "model": d.model,
                "owner_team": d.owner_team,
            },
            "suppressed": None if self.suppressed is None else _plain(self.suppressed),
        }


def _plain(view: SuppressionView) -> dict[str, Any]:
    return {k: getattr(view, k) for k in view.__slots__}


def parse_transition(doc: Any) -> TransitionView:
    """Validate and type a transition document (a dict, or its JSON text)."""
    if isinstance(doc, str | bytes):
        try:
            doc = json.loads(doc)
        except json.JSONDecodeError as exc:
            raise InvalidTransitionError(f"transition event is not JSON: {exc.msg}") from None
    if not isinstance(doc, Mapping):
        raise InvalidTransitionError("transition event must be a JSON object")
    event_id = _str(doc, "event_id", "event")
    where = f"event {event_id}"
    transition = _str(doc, "transition", where)
    if transition not in TRANSITIONS:
        raise InvalidTransitionError(f"{where}: unknown transition {transition!r}")
    occurred_at = _str(doc, "occurred_at", where)
    _time_ms(occurred_at, where)
    alarm = _obj(doc, "alarm", where)
    severity = _opt_str(alarm, "severity", where)
    if severity is not None and severity not in SEVERITIES:
        raise InvalidTransitionError(
            f"{where}: alarm.severity {severity!r} is not one of {sorted(SEVERITIES)}"
        )
    rule = _obj(doc, "rule", where)
    device = _obj(doc, "device", where)
    reading = doc.get("reading")
    if reading is not None and not isinstance(reading, Mapping):
        raise InvalidTransitionError(f"{where}: field 'reading' must be an object or null")
    return TransitionView(
        event_id=event_id,
        transition=transition,
        occurred_at=occurred_at,
        alarm=AlarmView(
            alarm_id=_str(alarm, "alarm_id", where),
            device_id=_str(alarm, "device_id", where),
            sensor_type=_str(alarm, "sensor_type", where),
            rule_id=_str(alarm, "rule_id", where),
            state=_str(alarm, "state", where),
            severity=severity,
            since=_opt_str(alarm, "since", where),
            acknowledged_by=_opt_str(alarm, "acknowledged_by", where),
            note=_opt_str(alarm, "note", where),
            snoozed_until=_opt_str(alarm, "snoozed_until", where),
            episode=_episode(alarm, where),
            updated_by=_opt_str(alarm, "updated_by", where),
            caller_arn=_opt_str(alarm, "caller_arn", where),
            disabled_until=_opt_str(alarm, "disabled_until", where),
        ),
        reading=None
        if reading is None
        else ReadingView(
            value=_num(reading, "value", where),
            unit=_str(reading, "unit", where),
            timestamp=_str(reading, "timestamp", where),
            seq=int(_num(reading, "seq", where)),
        ),
        rule=RuleView(
            rule_id=_str(rule, "rule_id", where),
            bound=_opt_str(rule, "bound", where),
            threshold=_opt_num(rule, "threshold", where),
            clear_threshold=_opt_num(rule, "clear_threshold", where),
            for_seconds=None if rule.get("for_seconds") is None else int(_num(rule, "for_seconds", where)),
        ),
        device=DeviceView(
            device_id=_str(device, "device_id", where),
            site=_opt_str(device, "site", where) or "unknown",
            location=_opt_str(device, "location", where) or "unknown",
            model=_opt_str(device, "model", where) or "unknown",
            owner_team=_opt_str(device, "owner_team", where) or "unknown",
        ),
        suppressed=_suppression(doc.get("suppressed"), where),
    )


def _episode(alarm: Mapping[str, Any], where: str) -> int:
    value = alarm.get("episode", 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidTransitionError(f"{where}: alarm.episode must be a whole number >= 0, got {value!r}")
    return value


def _suppression(raw: Any, where: str) -> SuppressionView | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidTransitionError(f"{where}: field 'suppressed' must be an object or null")
    reason = _str(raw, "reason", where)
    if reason not in SUPPRESSION_REASONS:
        raise InvalidTransitionError(
            f"{where}: suppressed.reason {reason!r} is not one of {sorted(SUPPRESSION_REASONS)}"
        )
    return SuppressionView(
        reason=reason,
        silence_id=_opt_str(raw, "silence_id", where),
        created_by=_opt_str(raw, "created_by", where),
        comment=_opt_str(raw, "comment", where),
        ends_at=_opt_str(raw, "ends_at", where),
    )


def _time_ms(value: str, where: str) -> int:
    try:
        return iso_to_ms(value)
    except ValueError as exc:
        raise InvalidTransitionError(f"{where}: {exc}") from None


def _obj(doc: Mapping[str, Any], name: str, where: str) -> Mapping[str, Any]:
    value = doc.get(name)
    if not isinstance(value, Mapping):
        raise InvalidTransitionError(f"{where}: field '{name}' must be an object")
    return value


def _str(doc: Mapping[str, Any], name: str, where: str) -> str:
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidTransitionError(f"{where}: field '{name}' must be a non-empty string")
    return value


def _opt_str(doc: Mapping[str, Any], name: str, where: str) -> str | None:
    value = doc.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidTransitionError(f"{where}: field '{name}' must be a string or null")
    return value


def _num(doc: Mapping[str, Any], name: str, where: str) -> float:
    value = doc.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTransitionError(f"{where}: field '{name}' must be a number")
    return float(value)


def _opt_num(doc: Mapping[str, Any], name: str, where: str) -> float | None:
    return None if doc.get(name) is None else _num(doc, name, where)
