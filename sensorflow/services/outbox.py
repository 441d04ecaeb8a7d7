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
    (only events with something left).

    Per alarm, events go out in the order given: a publisher gets at most one event of an alarm per call,
    and once it refuses one, the later events of that alarm stay owed to it too, so a subscriber never sees
    "Cleared" before the "Raised" that is still to be resent.
    """
    owed = {e.event_id: owed_to(e, publishers) for e in events}
    alarm_of = {e.event_id: _alarm_id(e) for e in events}
    for publisher in publishers:
        todo = [e for e in events if publisher.name in owed[e.event_id]]
        blocked: set[str] = set()  # alarms with an earlier event this publisher refused
        while todo:
            wave: list[TransitionLike] = []
            rest: list[TransitionLike] = []
            in_wave: set[str] = set()
            for e in todo:
                alarm = alarm_of[e.event_id]
                (rest if alarm in in_wave else wave).append(e)
                in_wave.add(alarm)
            failed = publisher.publish(wave, remaining_ms)
            for e in wave:
                if e.event_id in failed:
                    blocked.add(alarm_of[e.event_id])
                else:
                    owed[e.event_id].discard(publisher.name)
            todo = [e for e in rest if alarm_of[e.event_id] not in blocked]
    return {event_id: names for event_id, names in owed.items() if names}


def _alarm_id(event: TransitionLike) -> str:
    """The alarm an event is of (the order unit); a document without one is a unit of its own."""
    alarm = event.to_message().get("alarm") or {}
    return str(alarm.get("alarm_id") or event.event_id)


def still_owed(events: Sequence[TransitionLike], owed: dict[str, set[str]]) -> list[TransitionLike]:
    """The outbox to keep: the undelivered events, each marked with the publishers it still needs."""
    return [
        StoredTransition(e.event_id, e.to_message(), tuple(sorted(owed[e.event_id])))
        for e in events
        if e.event_id in owed
    ]
