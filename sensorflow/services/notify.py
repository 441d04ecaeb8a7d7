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

Routing: the message goes to the webhook of the device's ``owner_team`` when that team has one, else to
the default webhook (``sensorflow.core.routing``). An event has one destination, so the ledger's one
item per event id is also one per event and destination; the log line names the route (the team, or
``default``), never the URL.

Suppressed transitions (top-level ``suppressed``: a silence matched, or the device is stale) notify
nobody: they are counted (``NotificationsSuppressed``, dimension ``reason``), logged with the event id
and the reason, and reported as ``suppressed``, a processed event, not a failure. The SNS filter
policies keep them from notify and the email subscription already; this is the check that does not
depend on a filter.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sensorflow.core.contract import TransitionView
from sensorflow.core.errors import DeliveryError, TransientError
from sensorflow.core.notification import render
from sensorflow.core.ports import NotificationLedger, RemainingTime
from sensorflow.core.routing import NO_TEAM, TEAM_NAME_MAX_CHARS, MessageRouter, Route, is_team_name
from sensorflow.observability import NAMESPACE, SERVICE, logger, metrics

Outcome = Literal["sent", "duplicate", "in_progress", "suppressed"]


class NotifyService:
    def __init__(
        self,
        ledger: NotificationLedger,
        routes: MessageRouter,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        new_token: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._ledger = ledger
        self._routes = routes
        self._clock_ms = clock_ms
        self._new_token = new_token

    def handle(self, transitions: Sequence[TransitionView], remaining_ms: RemainingTime) -> list[Outcome]:
        return [self.notify(t, remaining_ms) for t in transitions]

    def notify(self, t: TransitionView, remaining_ms: RemainingTime) -> Outcome:
        if t.suppressed is not None:
            return _suppressed(t, t.suppressed.reason)
        now = self._clock_ms()
        claim = self._ledger.claim(t, self._new_token(), now, lease_until_ms=now + max(0, remaining_ms()))
        if claim.status != "claimed":
            outcome: Outcome = "duplicate" if claim.status == "sent" else "in_progress"
            logger.info("notification skipped", event_id=t.event_id, outcome=outcome)
            metrics.add_metric(name="NotificationsSkipped", unit=MetricUnit.Count, value=1)
            return outcome
        route = self._route(t)
        try:
            route.sender.send(render(t), remaining_ms)
        except DeliveryError as exc:
            logger.warning(
                "notification not delivered", event_id=t.event_id, route=route.name, error=str(exc)
            )
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
            route=route.name,
        )
        metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
        return "sent"

    def _route(self, t: TransitionView) -> Route:
        team = t.device.owner_team
        if is_team_name(team):
            return self._routes.route(team)
        if team != NO_TEAM:
            logger.warning(
                "owner_team cannot name a webhook parameter: default route",
                event_id=t.event_id,
                owner_team=team[: TEAM_NAME_MAX_CHARS + 1],
            )
        return self._routes.route(None)


def _suppressed(t: TransitionView, reason: str) -> Outcome:
    logger.info(
        "notification suppressed",
        event_id=t.event_id,
        reason=reason,
        transition=t.transition,
        alarm_id=t.alarm.alarm_id,
    )
    with single_metric(
        name="NotificationsSuppressed",
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="reason", value=reason)
    return "suppressed"
