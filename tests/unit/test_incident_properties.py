"""Property-based tests of ``sensorflow.core.incident_state`` under every order EventBridge can deliver in.

An *alarm history* is 1 to 4 numbered episodes of one alarm, one after another. Each is raised (warning or
critical), maybe escalated (a warning raise, to critical), maybe acknowledged, maybe reminded, and ended by
a clear, a reset or a disable; the last one may still be open. Every event carries ``alarm.episode``, and an
end carries the severity the alarm had in its episode, as the producer sends them.

A *delivery* is every event of the history (or, as the incidents rule routes them, only the critical
ones) in a random order, with random duplicates anywhere.

Properties, checked over a tracker and an incident table driven by ``apply`` alone:

- each critical episode is exactly one incident, keyed ``incident_id(alarm_id, episode)``; a warning-only
  episode is none;
- an incident is resolved iff its episode ended, by its own episode's end; it is opened by its episode's
  first critical opening event; its timeline holds exactly its episode's delivered events;
- the second and later deliveries of an event are duplicates that change nothing;
- the final incidents and tracker (its held steps, the set of applied ids) are the same for every delivery
  order: those of the in-order delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.core.contract import TransitionView, parse_transition
from sensorflow.core.incident_state import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    Incident,
    Outcome,
    Tracker,
    apply,
    incident_for,
    incident_id,
)
from tests.transitions import transition

ALARM = "dev-00042#temperature#temperature-range"
ENDS = ("Alarm Cleared", "Alarm Reset", "Alarm Disabled")


@dataclass(frozen=True)
class Episode:
    number: int
    raised: str  # the raise's severity
    escalated: bool
    acknowledged: bool
    reminded: bool
    end: str | None

    @property
    def critical(self) -> bool:
        return self.raised == "critical" or self.escalated

    def events(self) -> list[TransitionView]:
        """Raise at +0 min, escalation +2, acknowledgement +4, reminder +6, end +10; 20 minutes apart."""
        start, seq = 20 * (self.number - 1), 100 * self.number
        severity = self.raised

        def event(name: str, minute: int, **fields: Any) -> TransitionView:
            at = f"2026-11-29T{10 + (start + minute) // 60:02d}:{(start + minute) % 60:02d}:00.000Z"
            doc = transition(
                name, seq=seq + minute, occurred_at=at, episode=self.number, severity=severity, **fields
            )
            return parse_transition(doc)

        out = [event("Alarm Raised", 0)]
        if self.escalated:
            severity = "critical"
            out.append(event("Alarm Escalated", 2))
        if self.acknowledged:
            out.append(event("Alarm Acknowledged", 4, state="ACKNOWLEDGED", acknowledged_by="alice"))
        if self.reminded:
            out.append(event("Alarm Reminder", 6, value=None))
        if self.end is not None:
            out.append(event(self.end, 10, state="DISABLED" if self.end == "Alarm Disabled" else "NORMAL"))
        return out


@st.composite
def histories(draw: st.DrawFn) -> list[Episode]:
    count = draw(st.integers(1, 4))
    episodes = []
    for number in range(1, count + 1):
        raised = draw(st.sampled_from(["warning", "critical"]))
        last = number == count
        episodes.append(
            Episode(
                number=number,
                raised=raised,
                escalated=raised == "warning" and draw(st.booleans()),
                acknowledged=draw(st.booleans()),
                reminded=draw(st.booleans()),
                end=draw(st.sampled_from((*ENDS, None) if last else ENDS)),
            )
        )
    return episodes


@dataclass
class IncidentTable:
    """What the store holds, driven by ``apply`` the way ``IncidentService.handle`` drives it."""

    tracker: Tracker = field(default_factory=lambda: Tracker(ALARM))
    incidents: dict[str, Incident] = field(default_factory=dict)

    def deliver(self, t: TransitionView) -> Outcome:
        key = incident_for(t) or self.tracker.open_incident_id
        decision = apply(self.tracker, self.incidents.get(key) if key else None, t)
        if decision.changed:
            self.tracker = replace(decision.tracker, version=self.tracker.version + 1)
            if decision.incident is not None:
                self.incidents[decision.incident.incident_id] = replace(
                    decision.incident, version=decision.incident.version + 1
                )
        return decision.outcome

    def final_state(self) -> tuple[dict[str, Incident], tuple[Any, ...], frozenset[str]]:
        """Everything but the write counts and the arrival order of the applied ids."""
        incidents = {k: replace(v, version=0) for k, v in self.incidents.items()}
        return incidents, self.tracker.held, frozenset(self.tracker.applied)


def deliver_all(events: list[TransitionView]) -> tuple[IncidentTable, list[Outcome]]:
    table = IncidentTable()
    return table, [table.deliver(t) for t in events]


@settings(max_examples=300, deadline=None)
@given(history=histories(), through_rule=st.booleans(), data=st.data())
def test_any_delivery_order_gives_one_incident_per_critical_episode_and_the_same_state(
    history: list[Episode], through_rule: bool, data: st.DataObject
):
    # GIVEN an alarm history, its events as the incidents rule routes them (critical only) or all of them
    per_episode = {
        e.number: [t for t in e.events() if not through_rule or t.severity == "critical"] for e in history
    }
    events = [t for e in history for t in per_episode[e.number]]
    # WHEN they are delivered in a random order with random duplicates
    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=8) if events else st.just([]))
    delivery = data.draw(st.permutations(events + duplicates))
    table, outcomes = deliver_all(delivery)

    # THEN every delivery after an event's first is a duplicate
    seen: set[str] = set()
    for t, outcome in zip(delivery, outcomes, strict=True):
        assert (outcome == "duplicate") == (t.event_id in seen), (t.transition, t.alarm.episode, outcome)
        seen.add(t.event_id)
    # AND each critical episode is exactly one incident, a warning-only one none
    critical = [e for e in history if e.critical]
    assert set(table.incidents) == {incident_id(ALARM, e.number) for e in critical}
    for e in critical:
        incident, own = table.incidents[incident_id(ALARM, e.number)], per_episode[e.number]
        ended = own[-1] if e.end is not None else None
        # resolved iff its episode ended, by its own end
        assert incident.status == (RESOLVED if ended else ACKNOWLEDGED if e.acknowledged else OPEN)
        assert incident.resolved_by_event == (ended.event_id if ended else None)
        # opened by the episode's first critical opening event, and its timeline is its episode's events
        opener = next(
            t for t in own if t.transition in ("Alarm Raised", "Alarm Escalated") and t.severity == "critical"
        )
        assert (incident.opened_by_event, incident.episode) == (opener.event_id, e.number)
        assert [s.event_id for s in incident.timeline] == [t.event_id for t in own]
    # AND only the events of warning-only episodes are still held
    assert {s.event_id for s in table.tracker.held} == {
        t.event_id for e in history if not e.critical for t in per_episode[e.number]
    }
    # AND the final state is the in-order delivery's
    in_order, _ = deliver_all(events)
    assert table.final_state() == in_order.final_state()
