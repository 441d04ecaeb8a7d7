"""Builders for alarm transition events (the issue 5 JSON contract) and their Lambda envelopes."""

from __future__ import annotations

from typing import Any

from events.generate import eventbridge_event, sns_event
from sensorflow.core.alarms import event_id as transition_event_id


def transition(
    name: str = "Alarm Raised",
    *,
    device_id: str = "dev-00042",
    sensor_type: str = "temperature",
    rule_id: str = "temperature-range",
    severity: str | None = "critical",
    state: str = "ACTIVE",
    seq: int = 17,
    value: float | None = 47.3,
    unit: str = "C",
    bound: str | None = "max",
    threshold: float | None = 45.0,
    occurred_at: str = "2026-11-29T10:20:30.000Z",
    since: str | None = "2026-11-29T10:15:00.000Z",
    acknowledged_by: str | None = None,
    note: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    alarm_id = f"{device_id}#{sensor_type}#{rule_id}"
    return {
        "event_id": event_id or transition_event_id(alarm_id, name, seq),
        "transition": name,
        "occurred_at": occurred_at,
        "alarm": {
            "alarm_id": alarm_id,
            "device_id": device_id,
            "sensor_type": sensor_type,
            "rule_id": rule_id,
            "state": state,
            "severity": severity,
            "since": since,
            "acknowledged_by": acknowledged_by,
            "note": note,
            "snoozed_until": None,
        },
        "reading": None
        if value is None
        else {"value": value, "unit": unit, "timestamp": occurred_at, "seq": seq},
        "rule": {
            "rule_id": rule_id,
            "bound": bound,
            "threshold": threshold,
            "clear_threshold": None,
            "for_seconds": 60,
        },
        "device": {
            "device_id": device_id,
            "site": "site-a",
            "location": "hall-1",
            "model": "TH-200",
            "owner_team": "ops",
        },
    }


# One critical episode of dev-00042's temperature alarm: raised, acknowledged, cleared (the incident tests').
EPISODE_RAISED = transition("Alarm Raised", seq=17, occurred_at="2026-11-29T10:20:30.000Z")
EPISODE_ACKED = transition(
    "Alarm Acknowledged",
    seq=18,
    state="ACKNOWLEDGED",
    acknowledged_by="alice",
    note="on it",
    value=None,
    occurred_at="2026-11-29T10:25:00.000Z",
    event_id="a" * 32,
)
EPISODE_CLEARED = transition(
    "Alarm Cleared", seq=40, state="NORMAL", value=41.0, occurred_at="2026-11-29T10:42:00.000Z"
)

__all__ = [
    "EPISODE_ACKED",
    "EPISODE_CLEARED",
    "EPISODE_RAISED",
    "eventbridge_event",
    "sns_event",
    "transition",
]
