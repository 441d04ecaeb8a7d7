"""The ``incidents`` service: critical alarm transitions become incident records.

An incident is one critical episode of one alarm. It opens on ``Alarm Raised`` / ``Device Stale`` with
severity critical or on ``Alarm Escalated`` to critical, is updated by ``Alarm Acknowledged`` and
``Alarm Escalated``, and resolves on ``Alarm Cleared`` (or ``Alarm Disabled``).

Keys: ``incident_id = sha256(alarm_id|event_id of the opening event)[:32]``, deterministic, so a
redelivered raise names the same incident and a re-raise after a clear opens a new one. Each alarm has
a tracker item (``incident_id = "alarm#<alarm_id>"``) that points at its open incident, remembers the
event ids it has applied (idempotency) and holds events that arrived before their incident opened.

Out of order: EventBridge does not order deliveries, and a failed invocation is retried later. An
acknowledgement or clear that arrives while no incident is open waits in the tracker; when the raise
arrives, waiting events that happened at or after it are applied (so clear-before-raise yields a
resolved incident), and older ones are dropped. A clear older than the open incident is ignored.

The decision (``apply``) is pure; the store writes tracker and incident in one conditional
transaction, retried on a concurrent change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.contract import TransitionEvent
from sensorflow.observability import logger, metrics

OPEN, ACKNOWLEDGED, RESOLVED = "OPEN", "ACKNOWLEDGED", "RESOLVED"
OPENING = frozenset({"Alarm Raised", "Alarm Escalated", "Device Stale"})
APPLIED_MEMORY = 100  # event ids a tracker remembers: far more than one alarm's events in flight
PENDING_MEMORY = 20
MAX_CONFLICT_RETRIES = 5

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
    def of(cls, t: TransitionEvent) -> Step:
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
        if s.transition == "Alarm Acknowledged":
            return replace(
                new, status=ACKNOWLEDGED, acknowledged_by=s.by, acknowledged_at=s.occurred_at, note=s.note
            )
        if s.transition == "Alarm Escalated":
            # Escalation makes an acknowledged alarm active again (sensorflow.core.alarms).
            return replace(new, status=OPEN, severity=s.severity or self.severity, escalated_at=s.occurred_at)
        if s.transition in ("Alarm Cleared", "Alarm Disabled"):
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


def opens(t: TransitionEvent) -> bool:
    return t.transition in OPENING and t.severity == "critical"


def apply(tracker: Tracker, current: Incident | None, t: TransitionEvent) -> Decision:
    """Pure: the tracker and incident after event ``t``. ``current`` is the tracker's open incident."""
    if t.event_id in tracker.applied:
        return Decision("duplicate", tracker, None, changed=False)
    step = Step.of(t)
    applied = (*tracker.applied, t.event_id)[-APPLIED_MEMORY:]
    base = replace(tracker, applied=applied)
    if current is not None:
        if t.transition == "Alarm Cleared" and step.at_ms < current.opened_at_ms:
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


def _open(t: TransitionEvent, step: Step) -> Incident:
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
        escalated_at=t.occurred_at if t.transition == "Alarm Escalated" else None,
        timeline=(step,),
    )


class ConflictError(Exception):
    """The tracker or incident changed between read and write; read again and retry."""


class IncidentStore(Protocol):
    def load(self, alarm_id: str) -> tuple[Tracker, Incident | None]:
        """The alarm's tracker (a new one if absent) and its open incident, read consistently."""
        ...

    def save(self, before: Tracker, decision: Decision) -> None:
        """Write tracker and incident atomically, conditional on their versions; ``ConflictError`` if not."""
        ...


@dataclass
class IncidentService:
    store: IncidentStore
    sleep: Callable[[float], None] = field(default=lambda s: None)

    def handle(self, t: TransitionEvent) -> Outcome:
        for attempt in range(MAX_CONFLICT_RETRIES):
            tracker, current = self.store.load(t.alarm.alarm_id)
            decision = apply(tracker, current, t)
            if not decision.changed:
                break
            try:
                self.store.save(tracker, decision)
            except ConflictError:
                logger.info("incident write conflict, retrying", event_id=t.event_id, attempt=attempt + 1)
                self.sleep(0.05 * 2**attempt)
                continue
            break
        else:
            raise ConflictError(f"event {t.event_id}: tracker for {t.alarm.alarm_id} kept changing")
        incident = decision.incident
        logger.info(
            "incident event applied",
            event_id=t.event_id,
            transition=t.transition,
            alarm_id=t.alarm.alarm_id,
            outcome=decision.outcome,
            incident_id=None if incident is None else incident.incident_id,
        )
        metrics.add_metric(name=f"Incidents{decision.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
        return decision.outcome


def as_plain(value: Any) -> Any:
    """Dataclass values as plain dicts, without None fields (for storage and handler responses)."""
    if isinstance(value, Step | Incident | Tracker):
        return {k: as_plain(getattr(value, k)) for k in value.__slots__ if getattr(value, k) is not None}
    if isinstance(value, tuple | list):
        return [as_plain(v) for v in value]
    return value
