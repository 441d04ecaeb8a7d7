"""Incidents, the pure half: what one critical transition does to an alarm's tracker and open incident.

See ``sensorflow.services.incidents`` for the keys, the ordering rules and the store; ``apply`` decides,
the service reads, calls it and writes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import Any, Literal

from sensorflow.core.contract import Transition, TransitionView

OPEN, ACKNOWLEDGED, RESOLVED = "OPEN", "ACKNOWLEDGED", "RESOLVED"
OPENING = frozenset({Transition.RAISED, Transition.ESCALATED, Transition.STALE})
APPLIED_MEMORY = 100  # event ids a tracker remembers: far more than one alarm's events in flight
PENDING_MEMORY = 20

Outcome = Literal["opened", "updated", "resolved", "pending", "ignored", "duplicate"]


def tracker_key(alarm_id: str) -> str:
    return f"alarm#{alarm_id}"


def incident_id(alarm_id: str, opening_event_id: str) -> str:
    return hashlib.sha256(f"{alarm_id}|{opening_event_id}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Step:
    """What one event did to an incident: a line of its timeline."""

    event_id: str
    transition: str
    at_ms: int
    occurred_at: str
    severity: str | None = None
    by: str | None = None
    note: str | None = None
    value: float | None = None
    unit: str | None = None

    @classmethod
    def of(cls, t: TransitionView) -> Step:
        return cls(
            event_id=t.event_id,
            transition=t.transition,
            at_ms=t.occurred_at_ms,
            occurred_at=t.occurred_at,
            severity=t.severity,
            by=t.alarm.acknowledged_by,
            note=t.alarm.note,
            value=None if t.reading is None else t.reading.value,
            unit=None if t.reading is None else t.reading.unit,
        )


@dataclass(frozen=True, slots=True)
class Incident:
    incident_id: str
    alarm_id: str
    device_id: str
    sensor_type: str
    rule_id: str
    site: str
    location: str
    owner_team: str
    status: str
    severity: str
    opened_at: str
    opened_at_ms: int
    opened_by_event: str
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    note: str | None = None
    escalated_at: str | None = None
    resolved_at: str | None = None
    resolved_by_event: str | None = None
    timeline: tuple[Step, ...] = ()
    version: int = 0

    def with_step(self, s: Step) -> Incident:
        """Apply one later event (acknowledge, escalate, clear, ...) to this incident."""
        new = replace(self, timeline=(*self.timeline, s))
        if self.status == RESOLVED:
            return new
        if s.transition == Transition.ACKNOWLEDGED:
            return replace(
                new, status=ACKNOWLEDGED, acknowledged_by=s.by, acknowledged_at=s.occurred_at, note=s.note
            )
        if s.transition == Transition.ESCALATED:
            # Escalation makes an acknowledged alarm active again (sensorflow.core.alarms).
            return replace(new, status=OPEN, severity=s.severity or self.severity, escalated_at=s.occurred_at)
        if s.transition in (Transition.CLEARED, Transition.DISABLED):
            return replace(new, status=RESOLVED, resolved_at=s.occurred_at, resolved_by_event=s.event_id)
        return new


@dataclass(frozen=True, slots=True)
class Tracker:
    alarm_id: str
    open_incident_id: str | None = None
    opened_at_ms: int | None = None
    applied: tuple[str, ...] = ()
    pending: tuple[Step, ...] = ()
    version: int = 0


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    tracker: Tracker
    incident: Incident | None = None  # the incident to write (new when its version is 0)
    changed: bool = True


def opens(t: TransitionView) -> bool:
    return t.transition in OPENING and t.severity == "critical"


def apply(tracker: Tracker, current: Incident | None, t: TransitionView) -> Decision:
    """Pure: the tracker and incident after event ``t``. ``current`` is the tracker's open incident."""
    if t.event_id in tracker.applied:
        return Decision("duplicate", tracker, None, changed=False)
    step = Step.of(t)
    applied = (*tracker.applied, t.event_id)[-APPLIED_MEMORY:]
    base = replace(tracker, applied=applied)
    if current is not None:
        if t.transition == Transition.CLEARED and step.at_ms < current.opened_at_ms:
            return Decision("ignored", base)  # the end of an earlier episode, delivered late
        updated = current.with_step(step)
        if updated.status == RESOLVED:
            return Decision("resolved", replace(base, open_incident_id=None, opened_at_ms=None), updated)
        return Decision("updated", base, updated)
    if opens(t):
        incident = _open(t, step)
        for waiting in sorted(tracker.pending, key=lambda s: s.at_ms):
            if waiting.at_ms >= step.at_ms:
                incident = incident.with_step(waiting)
        if incident.status == RESOLVED:
            return Decision("resolved", replace(base, pending=()), incident)
        return Decision(
            "opened",
            replace(base, pending=(), open_incident_id=incident.incident_id, opened_at_ms=step.at_ms),
            incident,
        )
    if t.transition in OPENING:
        return Decision("ignored", base)  # a warning raise: not an incident
    return Decision("pending", replace(base, pending=(*tracker.pending, step)[-PENDING_MEMORY:]))


def _open(t: TransitionView, step: Step) -> Incident:
    d = t.device
    return Incident(
        incident_id=incident_id(t.alarm.alarm_id, t.event_id),
        alarm_id=t.alarm.alarm_id,
        device_id=t.alarm.device_id,
        sensor_type=t.alarm.sensor_type,
        rule_id=t.alarm.rule_id,
        site=d.site,
        location=d.location,
        owner_team=d.owner_team,
        status=OPEN,
        severity=t.severity or "critical",
        opened_at=t.occurred_at,
        opened_at_ms=step.at_ms,
        opened_by_event=t.event_id,
        escalated_at=t.occurred_at if t.transition == Transition.ESCALATED else None,
        timeline=(step,),
    )


def as_plain(value: Any) -> Any:
    """Dataclass values as plain dicts, without None fields (for storage and handler responses)."""
    if isinstance(value, Step | Incident | Tracker):
        return {k: as_plain(getattr(value, k)) for k in value.__slots__ if getattr(value, k) is not None}
    if isinstance(value, tuple | list):
        return [as_plain(v) for v in value]
    return value
