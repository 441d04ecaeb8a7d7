"""Fan transition events out to every publisher, remembering which publishers each event is still owed to.

An event that SNS took and EventBridge refused must go to EventBridge again, but not to SNS: plain SNS
subscribers (an external queue, email) cannot dedupe by ``event_id``. So an outbox entry records the
publishers still owed (``StoredTransition.pending``), and a resend goes only to those.
"""

from __future__ import annotations

from collections.abc import Sequence

from sensorflow.core.ports import RemainingTime, StoredTransition, TransitionLike, TransitionPublisher


def owed_to(event: TransitionLike, publishers: Sequence[TransitionPublisher]) -> set[str]:
    pending = getattr(event, "pending", None)
    names = {p.name for p in publishers}
    return names if pending is None else names & set(pending)


def publish_all(
    events: Sequence[TransitionLike], publishers: Sequence[TransitionPublisher], remaining_ms: RemainingTime
) -> dict[str, set[str]]:
    """Publish each event to the publishers it is owed to; return event id -> publishers still owed
    (only events with something left)."""
    owed = {e.event_id: owed_to(e, publishers) for e in events}
    for publisher in publishers:
        todo = [e for e in events if publisher.name in owed[e.event_id]]
        if not todo:
            continue
        failed = publisher.publish(todo, remaining_ms)
        for e in todo:
            if e.event_id not in failed:
                owed[e.event_id].discard(publisher.name)
    return {event_id: names for event_id, names in owed.items() if names}


def still_owed(events: Sequence[TransitionLike], owed: dict[str, set[str]]) -> list[TransitionLike]:
    """The outbox to keep: the undelivered events, each marked with the publishers it still needs."""
    return [
        StoredTransition(e.event_id, e.to_message(), tuple(sorted(owed[e.event_id])))
        for e in events
        if e.event_id in owed
    ]
