"""The ``notify`` service: one human message per alarm transition, delivered once.

Rendering is pure (``sensorflow.core.notification.render``): what happened, where, how far past the
threshold, and since when, as Slack-compatible JSON.

Delivery is idempotent per ``event_id`` through a ledger (a DynamoDB table keyed by the raw event id):

1. **claim**  conditional write ``status=sending`` with a lease that ends with this invocation. It
   succeeds only if the event is new, its last attempt failed, or an earlier claim's lease ran out
   (the invocation that held it timed out or crashed);
2. **send**   the webhook, retried with backoff within the invocation's remaining time;
3. **mark**   ``status=sent`` on success. A failed send marks ``status=failed`` and raises, so Lambda's
   asynchronous retries and then the function's on-failure destination take over; the next attempt
   may claim again.

A redelivery of a sent event sends nothing; one that arrives while another invocation holds a live
lease sends nothing either (that invocation succeeds, or fails and is retried itself). The one window
for a second message is a crash between a successful POST and the ``sent`` write, after the lease
expired: at-least-once, never silently lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.contract import TransitionView
from sensorflow.core.errors import DeliveryError, TransientError
from sensorflow.core.notification import render
from sensorflow.core.ports import MessageSender, NotificationLedger, RemainingTime
from sensorflow.observability import logger, metrics

Outcome = Literal["sent", "duplicate", "in_progress"]


# --- rendering -------------------------------------------------------------------------------------


# --- delivery --------------------------------------------------------------------------------------


class NotifyService:
    def __init__(
        self,
        ledger: NotificationLedger,
        sender: MessageSender,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        new_token: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._ledger = ledger
        self._sender = sender
        self._clock_ms = clock_ms
        self._new_token = new_token

    def handle(self, transitions: Sequence[TransitionView], remaining_ms: RemainingTime) -> list[Outcome]:
        return [self.notify(t, remaining_ms) for t in transitions]

    def notify(self, t: TransitionView, remaining_ms: RemainingTime) -> Outcome:
        now = self._clock_ms()
        claim = self._ledger.claim(t, self._new_token(), now, lease_until_ms=now + max(0, remaining_ms()))
        if claim.status != "claimed":
            outcome: Outcome = "duplicate" if claim.status == "sent" else "in_progress"
            logger.info("notification skipped", event_id=t.event_id, outcome=outcome)
            metrics.add_metric(name="NotificationsSkipped", unit=MetricUnit.Count, value=1)
            return outcome
        try:
            self._sender.send(render(t), remaining_ms)
        except DeliveryError as exc:
            self._ledger.mark_failed(t.event_id, claim.token, str(exc))
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
            raise
        try:
            self._ledger.mark_sent(t.event_id, claim.token, self._clock_ms())
        except TransientError as exc:
            # The message is out: raising would make Lambda retry and send it again. The claim's
            # lease runs out instead, so only a later redelivery could repeat it.
            logger.error("notification sent but not recorded", event_id=t.event_id, error=str(exc))
        logger.info(
            "notification sent",
            event_id=t.event_id,
            transition=t.transition,
            alarm_id=t.alarm.alarm_id,
            severity=t.severity,
        )
        metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
        return "sent"
