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
    episode: int | None = None,
) -> dict[str, Any]:
    """One transition document; ``alarm.episode`` is left out when ``episode`` is None (old producers)."""
    alarm_id = f"{device_id}#{sensor_type}#{rule_id}"
    doc: dict[str, Any] = {
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
    if episode is not None:
        doc["alarm"]["episode"] = episode
    return doc


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


def numbered_episode(
    episode: int,
    *,
    severity: str = "critical",
    end: str | None = "Alarm Cleared",
    minute: int | None = None,
    **fields: Any,
) -> list[dict[str, Any]]:
    """Episode ``episode`` of dev-00042's temperature alarm: its raise, then its end (clear, reset or
    disable; ``end=None``: still open), each carrying ``alarm.episode``. Episode n is raised at
    10:00 + 20 (n - 1) minutes (or at ``minute``) and ends 10 minutes later with the severity it had, as
    the producer sends it."""
    start = 20 * (episode - 1) if minute is None else minute
    seq = 100 * episode
    raised = transition(
        "Alarm Raised", seq=seq, severity=severity, occurred_at=_at(start), episode=episode, **fields
    )
    if end is None:
        return [raised]
    ended = transition(
        end,
        seq=seq + 1,
        severity=severity,
        state="DISABLED" if end == "Alarm Disabled" else "NORMAL",
        value=41.0 if end == "Alarm Cleared" else None,
        occurred_at=_at(start + 10),
        episode=episode,
        **fields,
    )
    return [raised, ended]


def _at(minute: int) -> str:
    return f"2026-11-29T{10 + minute // 60:02d}:{minute % 60:02d}:00.000Z"


__all__ = [
    "EPISODE_ACKED",
    "EPISODE_CLEARED",
    "EPISODE_RAISED",
    "eventbridge_event",
    "numbered_episode",
    "sns_event",
    "transition",
]
