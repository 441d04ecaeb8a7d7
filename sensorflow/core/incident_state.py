"""Incidents, the pure half: what one critical transition does to an alarm's tracker and its incidents.

An incident is one critical episode of one alarm. Events that carry ``alarm.episode`` (>= 1) belong to
the incident ``incident_id(alarm_id, episode)`` whatever order they arrive in: the incident is the
episode's events replayed in the order they happened (``_replay``), so every delivery order of the same
events gives the same incident. It exists once any opening event of the episode (``Alarm Raised``,
``Alarm Escalated``, ``Device Stale``) is critical; until then the episode's events wait in the tracker's
``held`` steps. Events with no episode (``alarm.episode`` 0 or absent: producers before issue 10) keep
the earlier, time-ordered rules through the tracker's one open incident (``_apply_unnumbered``).

See ``sensorflow.services.incidents`` for the keys and the store; ``apply`` decides, the service reads,
calls it and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from sensorflow.core.contract import Transition, TransitionView

OPEN, ACKNOWLEDGED, RESOLVED = "OPEN", "ACKNOWLEDGED", "RESOLVED"
OPENING = frozenset({Transition.RAISED, Transition.ESCALATED, Transition.STALE})
ENDING = frozenset({Transition.CLEARED, Transition.RESET, Transition.DISABLED})
APPLIED_MEMORY = 100  # event ids a tracker remembers: far more than one alarm's events in flight
PENDING_MEMORY = 20  # steps of unnumbered events waiting for an incident to open
HELD_MEMORY = 20  # steps of numbered episodes with no incident yet (the newest episodes are kept)
# Reminders kept in a timeline, the latest ones: a week-long episode reminded every minute would
# otherwise outgrow DynamoDB's 400 KB item.
REMINDERS_KEPT = 20

Outcome = Literal["opened", "updated", "resolved", "pending", "ignored", "duplicate"]


def tracker_key(alarm_id: str) -> str:
    return f"alarm#{alarm_id}"


def incident_id(alarm_id: str, key: int | str) -> str:
    """``sha256(alarm_id|key)[:32]``: ``key`` is the episode number, or for an unnumbered event the id of
    the event that opened the incident."""
    return hashlib.sha256(f"{alarm_id}|{key}".encode()).hexdigest()[:32]


def episode_of(t: TransitionView) -> int | None:
    """The event's episode; None for an event of a producer that does not number them (episode 0)."""
    return t.alarm.episode or None


def incident_for(t: TransitionView) -> str | None:
    """The incident a numbered event belongs to; None: the tracker's open incident (unnumbered events)."""
    episode = episode_of(t)
    return None if episode is None else incident_id(t.alarm.alarm_id, episode)


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
    episode: int | None = None

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
            episode=episode_of(t),
        )

    @property
    def opens(self) -> bool:
        return self.transition in OPENING and self.severity == "critical"


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
    episode: int | None = None
    timeline: tuple[Step, ...] = ()
    version: int = 0

    def with_step(self, s: Step) -> Incident:
        """Apply one later event (acknowledge, escalate, reminder, clear, ...) to this incident."""
        new = replace(self, timeline=_latest_reminders((*self.timeline, s)))
        if self.status == RESOLVED:
            return new
        if s.transition == Transition.ACKNOWLEDGED:
            return replace(
                new, status=ACKNOWLEDGED, acknowledged_by=s.by, acknowledged_at=s.occurred_at, note=s.note
            )
        if s.transition == Transition.ESCALATED:
            # Escalation makes an acknowledged alarm active again (sensorflow.core.alarms).
            return replace(new, status=OPEN, severity=s.severity or self.severity, escalated_at=s.occurred_at)
        if s.transition in ENDING:
            return replace(new, status=RESOLVED, resolved_at=s.occurred_at, resolved_by_event=s.event_id)
        return new  # a reminder, or anything else informational: a line of the timeline

    def has(self, event_id: str) -> bool:
        return any(s.event_id == event_id for s in self.timeline)


@dataclass(frozen=True, slots=True)
class Tracker:
    alarm_id: str
    open_incident_id: str | None = None  # unnumbered events only
    opened_at_ms: int | None = None
    applied: tuple[str, ...] = ()
    pending: tuple[Step, ...] = ()  # unnumbered events waiting for an incident to open
    held: tuple[Step, ...] = ()  # numbered episodes' events waiting for their incident to open
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
    """Pure: the tracker and incident after event ``t``. ``current`` is the incident ``incident_for(t)``
    names (None if absent) for a numbered event, else the tracker's open incident."""
    if (
        t.event_id in tracker.applied
        or (current is not None and current.has(t.event_id))
        or any(s.event_id == t.event_id for s in tracker.held)
    ):
        return Decision("duplicate", tracker, None, changed=False)
    step = Step.of(t)
    base = replace(tracker, applied=(*tracker.applied, t.event_id)[-APPLIED_MEMORY:])
    if step.episode is None:
        return _apply_unnumbered(base, current, t, step)
    if current is not None:
        updated = _replay(current, (*current.timeline, step))
        resolved = updated.status == RESOLVED and current.status != RESOLVED
        return Decision("resolved" if resolved else "updated", base, updated)
    if not step.opens:
        # Its episode has no incident yet: an end, acknowledgement or reminder that overtook the raise,
        # or a warning episode (an incident if it escalates).
        return Decision("pending", replace(base, held=_newest_episodes((*base.held, step))))
    own = tuple(s for s in base.held if s.episode == step.episode)
    incident = _replay(_open(t, step), (step, *own))
    rest = replace(base, held=tuple(s for s in base.held if s.episode != step.episode))
    return Decision("resolved" if incident.status == RESOLVED else "opened", rest, incident)


def _apply_unnumbered(base: Tracker, current: Incident | None, t: TransitionView, step: Step) -> Decision:
    """Events with no episode number: the tracker's one open incident, ordered by time."""
    if current is not None:
        if t.transition in ENDING and step.at_ms < current.opened_at_ms:
            return Decision("ignored", base)  # the end of an earlier episode, delivered late
        updated = current.with_step(step)
        if updated.status == RESOLVED:
            return Decision("resolved", replace(base, open_incident_id=None, opened_at_ms=None), updated)
        return Decision("updated", base, updated)
    if opens(t):
        incident = _open(t, step)
        for waiting in sorted(base.pending, key=lambda s: s.at_ms):
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
    return Decision("pending", replace(base, pending=(*base.pending, step)[-PENDING_MEMORY:]))


def _open(t: TransitionView, step: Step) -> Incident:
    d = t.device
    return Incident(
        incident_id=incident_id(t.alarm.alarm_id, t.event_id if step.episode is None else step.episode),
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
        episode=step.episode,
        timeline=(step,),
    )


def _replay(incident: Incident, steps: Iterable[Step]) -> Incident:
    """A numbered episode's incident from its steps, applied in the order they happened (time, then opening
    before update before end, then event id), so it does not depend on the order they arrived in. The
    earliest critical opening step opens it; its identity fields are kept from ``incident``."""
    ordered = sorted(steps, key=_happened)
    opening = next((s for s in ordered if s.opens), None)
    if opening is None:  # cannot happen for a numbered incident; keep what it was
        return incident
    out = replace(
        incident,
        status=OPEN,
        severity=opening.severity or "critical",
        opened_at=opening.occurred_at,
        opened_at_ms=opening.at_ms,
        opened_by_event=opening.event_id,
        acknowledged_by=None,
        acknowledged_at=None,
        note=None,
        escalated_at=None,
        resolved_at=None,
        resolved_by_event=None,
        timeline=(),
    )
    for s in ordered:
        out = out.with_step(s)
    return out


def _rank(transition: str) -> int:
    return 0 if transition in OPENING else 2 if transition in ENDING else 1


def _happened(s: Step) -> tuple[int, int, str]:
    return (s.at_ms, _rank(s.transition), s.event_id)


def _newest_episodes(steps: Iterable[Step]) -> tuple[Step, ...]:
    """Held steps within ``HELD_MEMORY``: an old episode whose opening never came is dropped first."""
    return tuple(sorted(steps, key=lambda s: (s.episode or 0, *_happened(s))))[-HELD_MEMORY:]


def _latest_reminders(steps: tuple[Step, ...]) -> tuple[Step, ...]:
    reminders = [i for i, s in enumerate(steps) if s.transition == Transition.REMINDER]
    if len(reminders) <= REMINDERS_KEPT:
        return steps
    dropped = set(reminders[: len(reminders) - REMINDERS_KEPT])
    return tuple(s for i, s in enumerate(steps) if i not in dropped)


def as_plain(value: Any) -> Any:
    """Dataclass values as plain dicts, without None fields (for storage and handler responses)."""
    if isinstance(value, Step | Incident | Tracker):
        return {k: as_plain(getattr(value, k)) for k in value.__slots__ if getattr(value, k) is not None}
    if isinstance(value, tuple | list):
        return [as_plain(v) for v in value]
    return value
