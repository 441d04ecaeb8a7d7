"""Fan-out remembers which publishers each event is still owed to, so a resend skips the ones that took it."""

from __future__ import annotations

from collections.abc import Sequence

from sensorflow.core.ports import RemainingTime, StoredTransition, TransitionLike
from sensorflow.services.outbox import publish_all, still_owed


class Publisher:
    def __init__(self, name: str, refuse: set[str] | None = None) -> None:
        self.name, self.refuse, self.got = name, refuse or set(), []

    def publish(self, events: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        self.got += [e.event_id for e in events]
        return {e.event_id for e in events if e.event_id in self.refuse}


def event(event_id: str, pending: tuple[str, ...] | None = None) -> StoredTransition:
    return StoredTransition(event_id, {"event_id": event_id, "transition": "Alarm Raised"}, pending)


def test_a_refused_event_is_owed_only_to_the_publisher_that_refused_it():
    sns, bus = Publisher("sns"), Publisher("eventbridge", refuse={"b"})
    events = [event("a"), event("b")]
    owed = publish_all(events, [sns, bus], lambda: 60_000)
    assert owed == {"b": {"eventbridge"}}
    [kept] = still_owed(events, owed)
    assert (kept.event_id, kept.pending) == ("b", ("eventbridge",))
    # WHEN the outbox is published again, only EventBridge gets it
    sns2, bus2 = Publisher("sns"), Publisher("eventbridge")
    assert publish_all([kept], [sns2, bus2], lambda: 60_000) == {}
    assert (sns2.got, bus2.got) == ([], ["b"])


def test_everything_delivered_leaves_nothing_owed():
    assert publish_all([event("a")], [Publisher("sns"), Publisher("eventbridge")], lambda: 1) == {}


def alarm_event(event_id: str, alarm_id: str) -> StoredTransition:
    return StoredTransition(event_id, {"event_id": event_id, "alarm": {"alarm_id": alarm_id}})


def test_per_alarm_order_holds_when_an_earlier_event_is_refused():
    # GIVEN alarm A's Raised and Cleared, and alarm B's Raised; SNS refuses A's Raised
    events = [alarm_event("a1", "A"), alarm_event("b1", "B"), alarm_event("a2", "A")]
    sns = Publisher("sns", refuse={"a1"})
    # WHEN they are published
    owed = publish_all(events, [sns], lambda: 60_000)
    # THEN B goes out, but A's Cleared is held back with its Raised: never Cleared before Raised
    assert owed == {"a1": {"sns"}, "a2": {"sns"}}
    assert sns.got == ["a1", "b1"]
    # WHEN the outbox is published again THEN A's events go out in order, one per call
    sns2 = Publisher("sns")
    assert publish_all(still_owed(events, owed), [sns2], lambda: 60_000) == {}
    assert sns2.got == ["a1", "a2"]
