"""The incidents service over an in-memory incident store (atomic, version-checked saves)."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from sensorflow.core.contract import TransitionView, parse_transition
from sensorflow.core.incident_state import (
    HELD_MEMORY,
    REMINDERS_KEPT,
    Incident,
    Tracker,
    incident_id,
    tracker_key,
)
from sensorflow.core.ports import VersionConflictError
from sensorflow.services.incidents import MAX_CONFLICT_RETRIES, IncidentService
from tests.fakes import FakeIncidentStore
from tests.transitions import EPISODE_ACKED, EPISODE_CLEARED, EPISODE_RAISED, numbered_episode, transition

ALARM = "dev-00042#temperature#temperature-range"
RAISED, ACKED, CLEARED = (parse_transition(d) for d in (EPISODE_RAISED, EPISODE_ACKED, EPISODE_CLEARED))
INCIDENT = incident_id(ALARM, RAISED.event_id)


def build() -> tuple[IncidentService, FakeIncidentStore, list[float]]:
    store = FakeIncidentStore()
    sleeps: list[float] = []
    return IncidentService(store, sleep=sleeps.append), store, sleeps


def incident(store: FakeIncidentStore) -> Incident:
    found = store.get_incident(INCIDENT)
    assert found is not None
    return found


def test_raise_ack_clear_opens_updates_and_resolves():
    svc, store, _ = build()
    # GIVEN no incident WHEN a critical raise arrives THEN an incident is opened and the tracker points at it
    assert svc.handle(RAISED) == "opened"
    opened = incident(store)
    assert (opened.status, opened.severity, opened.opened_at, opened.opened_by_event, opened.version) == (
        "OPEN",
        "critical",
        "2026-11-29T10:20:30.000Z",
        RAISED.event_id,
        1,
    )
    assert (opened.site, opened.location, opened.owner_team) == ("site-a", "hall-1", "ops")
    assert store.tracker(ALARM) == Tracker(
        ALARM,
        open_incident_id=INCIDENT,
        opened_at_ms=RAISED.occurred_at_ms,
        applied=(RAISED.event_id,),
        version=1,
    )
    # WHEN it is acknowledged THEN who, when and the note are recorded
    assert svc.handle(ACKED) == "updated"
    acked = incident(store)
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at, acked.note, acked.version) == (
        "ACKNOWLEDGED",
        "alice",
        "2026-11-29T10:25:00.000Z",
        "on it",
        2,
    )
    # WHEN it clears THEN it is resolved and the tracker points at nothing
    assert svc.handle(CLEARED) == "resolved"
    resolved = incident(store)
    assert (resolved.status, resolved.resolved_at, resolved.resolved_by_event, resolved.version) == (
        "RESOLVED",
        "2026-11-29T10:42:00.000Z",
        CLEARED.event_id,
        3,
    )
    assert [(s.transition, s.value) for s in resolved.timeline] == [
        ("Alarm Raised", 47.3),
        ("Alarm Acknowledged", None),
        ("Alarm Cleared", 41.0),
    ]
    assert store.tracker(ALARM) == Tracker(
        ALARM, applied=(RAISED.event_id, ACKED.event_id, CLEARED.event_id), version=3
    )
    # AND exactly two items exist: the tracker and the incident
    assert sorted(store.items) == sorted([tracker_key(ALARM), INCIDENT])
    assert (store.saves, store.conflicts) == (3, 0)


def test_a_duplicate_event_is_reported_and_writes_nothing():
    # GIVEN an open incident
    svc, store, _ = build()
    svc.handle(RAISED)
    before = dict(store.items)
    # WHEN the raise is delivered again THEN it is a duplicate and nothing is written
    assert svc.handle(RAISED) == "duplicate"
    assert (store.items, store.saves) == (before, 1)


def test_clear_before_raise_yields_a_resolved_incident():
    svc, store, _ = build()
    # GIVEN the clear and the acknowledgement arrive before the raise (EventBridge does not order)
    assert [svc.handle(CLEARED), svc.handle(ACKED)] == ["pending", "pending"]
    assert [s.event_id for s in store.load(ALARM)[0].pending] == [CLEARED.event_id, ACKED.event_id]
    # WHEN the raise arrives THEN the incident opens already acknowledged and resolved
    assert svc.handle(RAISED) == "resolved"
    resolved = incident(store)
    assert (resolved.status, resolved.acknowledged_by, resolved.resolved_by_event) == (
        "RESOLVED",
        "alice",
        CLEARED.event_id,
    )
    assert [s.transition for s in resolved.timeline] == [
        "Alarm Raised",
        "Alarm Acknowledged",
        "Alarm Cleared",
    ]
    tracker = store.tracker(ALARM)
    assert tracker is not None
    assert (tracker.open_incident_id, tracker.pending, tracker.version) == (None, (), 3)


def test_a_version_conflict_is_retried_on_the_fresh_state():
    # GIVEN an open incident, and another invocation that applies the acknowledgement between our read
    # and our write
    svc, store, sleeps = build()
    svc.handle(RAISED)
    store.interleave(lambda: IncidentService(store).handle(ACKED))
    # WHEN our clear is applied
    outcome = svc.handle(CLEARED)
    # THEN the first save lost the race, the retry re-read and kept both events
    assert (outcome, store.conflicts, sleeps) == ("resolved", 1, [0.05])
    resolved = incident(store)
    assert [s.transition for s in resolved.timeline] == [
        "Alarm Raised",
        "Alarm Acknowledged",
        "Alarm Cleared",
    ]
    assert (resolved.status, resolved.acknowledged_by, resolved.version) == ("RESOLVED", "alice", 3)


def test_conflicts_beyond_the_retry_limit_raise_version_conflict_error():
    # GIVEN another invocation writes the alarm's tracker before every one of our saves
    svc, store, sleeps = build()
    seqs = itertools.count(100)
    warnings: list[str] = []

    def a_warning_raise_is_applied() -> None:
        warning = parse_transition(transition("Alarm Raised", severity="warning", seq=next(seqs), value=38.0))
        warnings.append(warning.event_id)
        assert IncidentService(store).handle(warning) == "ignored"

    store.interleave(a_warning_raise_is_applied, times=MAX_CONFLICT_RETRIES)
    # WHEN a critical raise is applied THEN it gives up after the retry limit, for Lambda to retry
    with pytest.raises(
        VersionConflictError, match=f"event {RAISED.event_id}: tracker for {ALARM} kept changing"
    ):
        svc.handle(RAISED)
    assert store.conflicts == MAX_CONFLICT_RETRIES
    # with exponential backoff between the attempts
    assert sleeps[: MAX_CONFLICT_RETRIES - 1] == [0.05 * 2**i for i in range(MAX_CONFLICT_RETRIES - 1)]
    # AND none of our writes landed: only the other invocation's trackers, no incident
    assert store.tracker(ALARM) == Tracker(ALARM, applied=tuple(warnings), version=MAX_CONFLICT_RETRIES)
    assert store.get_incident(INCIDENT) is None


# --- numbered episodes (alarm.episode): bugs 3 and 4 of issue 10 ----------------------------------------

R1, C1 = (parse_transition(d) for d in numbered_episode(1))
R2, C2 = (parse_transition(d) for d in numbered_episode(2))


def incidents_by_opener(store: FakeIncidentStore) -> dict[str, tuple[str, str | None]]:
    """Every incident in the store: opening event id -> (status, resolving event id)."""
    return {
        i.opened_by_event: (i.status, i.resolved_by_event)
        for i in store.items.values()
        if isinstance(i, Incident)
    }


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))), ids=str)
def test_two_episodes_delivered_in_any_order_give_one_incident_each_resolved_by_its_own_clear(order):
    # GIVEN two critical episodes of one alarm: Raised1, Cleared1, Raised2, Cleared2
    events = [R1, C1, R2, C2]
    svc, store, _ = build()
    # WHEN EventBridge delivers them in this order, and then every one of them again
    for i in order:
        svc.handle(events[i])
    assert [svc.handle(events[i]) for i in order] == ["duplicate"] * 4
    # THEN each episode is exactly one incident, opened by its raise and resolved by its own clear
    assert incidents_by_opener(store) == {
        R1.event_id: ("RESOLVED", C1.event_id),
        R2.event_id: ("RESOLVED", C2.event_id),
    }


@pytest.mark.parametrize("end", ["Alarm Disabled", "Alarm Reset"])
@pytest.mark.parametrize("end_first", [False, True], ids=["raise-first", "end-first"])
def test_disable_and_reset_resolve_their_episodes_incident(end, end_first):
    # GIVEN a critical episode that an operator ends with a disable or a reset (carrying the episode's
    # severity, critical, so the incidents rule passes it)
    raised, ended = (parse_transition(d) for d in numbered_episode(1, end=end))
    svc, store, _ = build()
    # WHEN both are delivered, in either order
    outcomes = [svc.handle(e) for e in ((ended, raised) if end_first else (raised, ended))]
    # THEN the incident is resolved by that disable or reset
    assert outcomes == (["pending", "resolved"] if end_first else ["opened", "resolved"])
    assert incidents_by_opener(store) == {raised.event_id: ("RESOLVED", ended.event_id)}


def test_a_numbered_incident_is_keyed_by_alarm_and_episode_and_holds_its_whole_episode():
    # GIVEN episode 3 raised warning at 10:00, escalated to critical at 10:05, acknowledged at 10:07
    def event(name: str, minute: int, severity: str, **fields) -> TransitionView:
        at = f"2026-11-29T10:{minute:02d}:00.000Z"
        return parse_transition(
            transition(name, seq=300 + minute, occurred_at=at, severity=severity, episode=3, **fields)
        )

    warning = event("Alarm Raised", 0, "warning")
    escalated = event("Alarm Escalated", 5, "critical")
    acked = event("Alarm Acknowledged", 7, "critical", state="ACKNOWLEDGED", acknowledged_by="bob")
    svc, store, _ = build()
    # WHEN the acknowledgement arrives first, then the escalation, then the warning raise
    assert [svc.handle(e) for e in (acked, escalated, warning)] == ["pending", "opened", "updated"]
    # THEN the incident sha256(alarm_id|3)[:32] holds the episode in the order it happened
    found = store.get_incident(hashlib.sha256(f"{ALARM}|3".encode()).hexdigest()[:32])
    assert found is not None
    assert (found.episode, found.status, found.opened_by_event, found.opened_at, found.acknowledged_by) == (
        3,
        "ACKNOWLEDGED",
        escalated.event_id,
        "2026-11-29T10:05:00.000Z",
        "bob",
    )
    assert [s.transition for s in found.timeline] == ["Alarm Raised", "Alarm Escalated", "Alarm Acknowledged"]


def test_a_warning_episode_is_no_incident_and_held_steps_keep_to_the_newest_episodes():
    # GIVEN many warning-only episodes (their raise and clear), delivered directly rather than via the rule
    svc, store, _ = build()
    for n in range(1, 16):
        for doc in numbered_episode(n, severity="warning"):
            assert svc.handle(parse_transition(doc)) == "pending"
    # THEN none is an incident, and the tracker holds at most HELD_MEMORY steps: the newest episodes'
    assert incidents_by_opener(store) == {}
    held = store.load(ALARM)[0].held
    assert len(held) == HELD_MEMORY
    assert sorted({s.episode for s in held}) == list(range(16 - HELD_MEMORY // 2, 16))


def test_an_incident_keeps_its_latest_reminders():
    # GIVEN an open critical episode WHEN it is reminded more than REMINDERS_KEPT times
    svc, store, _ = build()
    [raised] = numbered_episode(1, end=None)
    svc.handle(parse_transition(raised))
    reminders = [
        parse_transition(
            transition(
                "Alarm Reminder",
                seq=1000 + i,
                episode=1,
                value=None,
                occurred_at=f"2026-11-29T{11 + i // 60:02d}:{i % 60:02d}:00.000Z",
            )
        )
        for i in range(REMINDERS_KEPT + 5)
    ]
    assert {svc.handle(r) for r in reversed(reminders)} == {"updated"}
    # THEN it is still open, and its timeline is the raise and the latest REMINDERS_KEPT reminders
    found = store.get_incident(incident_id(ALARM, 1))
    assert found is not None
    assert found.status == "OPEN"
    assert [s.event_id for s in found.timeline] == [
        raised["event_id"],
        *(r.event_id for r in reminders[-REMINDERS_KEPT:]),
    ]
