"""Fan transition events out to every publisher, remembering which publishers each event is still owed to.

An event that SNS took and EventBridge refused must go to EventBridge again, but not to SNS: plain SNS
subscribers (an external queue, email) cannot dedupe by ``event_id``. So an outbox entry records the
publishers still owed (``StoredTransition.pending``), and a resend goes only to those.

An event too large for a publisher is not owed to it any more: no resend could deliver it, and while it
was owed, every later event of its alarm waited behind it, failing each batch that touched the alarm
(issue 12). ``QuarantiningPublisher`` (wired by ``bootstrap``) writes such an event to the quarantine with
reason ``transition_too_large`` and counts it as done, so ``publish_all`` drops it from the owed set and
``still_owed`` leaves it out of the outbox. If the quarantine cannot take it, it stays owed (transient).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.errors import TransientError
from sensorflow.core.limits import TRANSITION_TOO_LARGE
from sensorflow.core.ports import RemainingTime, StoredTransition, TransitionLike, TransitionPublisher
from sensorflow.observability import logger, metrics


class CheckedPublisher(TransitionPublisher, Protocol):
    """A publisher that tells the events it can never deliver apart from those to resend later
    (``adapters.sns_transitions`` and ``adapters.eventbridge_transitions``)."""

    def publish_checked(
        self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        """The event ids not delivered (transient), and the ids rejected unsent, each with why."""
        ...


class TransitionQuarantine(Protocol):
    """Where refused transitions are kept (``adapters.s3_quarantine.S3QuarantineSink``)."""

    def write_transition(self, event: TransitionLike, publisher: str, reason: str, detail: str) -> None:
        """Keep ``event`` with why ``publisher`` refused it. Raises TransientError if it could not."""
        ...


class QuarantiningPublisher:
    """``inner`` (a ``TransitionPublisher``), except that an event it rejects is quarantined, then reported
    delivered."""

    def __init__(self, inner: CheckedPublisher, quarantine: TransitionQuarantine) -> None:
        self.inner = inner
        self.name = inner.name
        self._quarantine = quarantine

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        undelivered, rejected = self.inner.publish_checked(transitions, remaining_ms)
        by_id = {t.event_id: t for t in transitions}
        for event_id, why in rejected.items():
            try:
                self._quarantine.write_transition(by_id[event_id], self.name, TRANSITION_TOO_LARGE, why)
            except TransientError as exc:
                logger.warning(
                    "transition too large, quarantine failed; kept owed",
                    event_id=event_id,
                    publisher=self.name,
                    error=str(exc),
                )
                undelivered.add(event_id)
                continue
            logger.error(
                "transition quarantined",
                reason=TRANSITION_TOO_LARGE,
                detail=why,
                event_id=event_id,
                publisher=self.name,
            )
            metrics.add_metric(name="TransitionsQuarantined", unit=MetricUnit.Count, value=1)
        return undelivered


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
