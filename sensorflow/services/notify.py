"""The ``notify`` service: one human message per alarm transition, delivered once.

Rendering is pure (``render``): what happened, where, how far past the threshold, and since when, as
Slack-compatible JSON (``text`` for notifications and plain clients, ``blocks`` for layout).

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
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.contract import TransitionEvent, iso_to_ms
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import RemainingTime
from sensorflow.observability import logger, metrics

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks): header text 150 characters,
# section field text 2,000 characters.
SLACK_HEADER_MAX_CHARS = 150
SLACK_FIELD_MAX_CHARS = 2_000

ClaimStatus = Literal["claimed", "sent", "busy"]
Outcome = Literal["sent", "duplicate", "in_progress"]


@dataclass(frozen=True, slots=True)
class Claim:
    status: ClaimStatus
    token: str


class NotificationLedger(Protocol):
    def claim(self, event: TransitionEvent, token: str, now_ms: int, lease_until_ms: int) -> Claim:
        """Claim the event for sending, or report that it was sent or is being sent elsewhere."""
        ...

    def mark_sent(self, event_id: str, token: str, now_ms: int) -> None: ...

    def mark_failed(self, event_id: str, token: str, error: str) -> None: ...


class MessageSender(Protocol):
    def send(self, message: dict[str, Any], remaining_ms: RemainingTime) -> None:
        """Deliver, retrying transient faults; raise ``DeliveryError`` when it cannot be delivered."""
        ...


class DeliveryError(Exception):
    """The message could not be delivered. Never carries the webhook URL."""


# --- rendering -------------------------------------------------------------------------------------

_HEADLINE_ICON = {
    "Alarm Raised": ":rotating_light:",
    "Alarm Escalated": ":arrow_double_up:",
    "Alarm Cleared": ":white_check_mark:",
    "Alarm Acknowledged": ":eyes:",
    "Device Stale": ":zzz:",
}


def headline(t: TransitionEvent) -> str:
    severity = f"[{t.severity.upper()}] " if t.severity else ""
    subject = "device" if t.transition == "Device Stale" else t.alarm.sensor_type
    return f"{severity}{t.transition}: {subject} on {t.alarm.device_id}"


def what(t: TransitionEvent) -> str:
    if t.transition == "Device Stale":
        return f"no reading from {t.alarm.device_id}, rule {t.rule.rule_id}"
    if t.reading is None:
        return f"{t.alarm.sensor_type}, rule {t.rule.rule_id}, state {t.alarm.state}"
    return f"{t.alarm.sensor_type} {_num(t.reading.value)} {t.reading.unit}, rule {t.rule.rule_id}"


def where(t: TransitionEvent) -> str:
    d = t.device
    return f"site {d.site}, location {d.location}, device {d.device_id} ({d.model}, team {d.owner_team})"


def how_far(t: TransitionEvent) -> str:
    rule, reading = t.rule, t.reading
    if rule.bound == "stale":
        limit_ms = int((rule.threshold or 0) * 1000)
        if t.alarm.since is None or rule.threshold is None:
            return "no reading within the staleness limit"
        # ``since`` is the deadline (last reading + limit): the silence is measured from the last reading.
        silent_ms = t.occurred_at_ms - (iso_to_ms(t.alarm.since) - limit_ms)
        if t.transition == "Alarm Cleared":
            return f"readings resumed after {duration(silent_ms)} of silence (limit {duration(limit_ms)})"
        return f"no reading for {duration(silent_ms)} (limit {duration(limit_ms)})"
    if rule.threshold is None or reading is None:
        return "n/a"
    unit = reading.unit
    if rule.bound == "rate":
        limit = _num(rule.threshold)
        return f"rate of change limit {limit} {unit}/min (latest value {_num(reading.value)} {unit})"
    delta = reading.value - rule.threshold
    side = "above" if delta > 0 else "below" if delta < 0 else "at"
    text = (
        f"{_num(abs(delta))} {unit} {side} the {rule.bound or ''} threshold of {_num(rule.threshold)} {unit}"
    )
    text = " ".join(text.split())  # a missing bound leaves a double space
    if rule.threshold != 0:
        text += f" ({delta / abs(rule.threshold) * 100:+.1f}%)"
    return text


def since(t: TransitionEvent) -> str:
    if t.alarm.since is None:
        return "n/a"
    elapsed = t.occurred_at_ms - iso_to_ms(t.alarm.since)
    return f"{t.alarm.since} ({duration(elapsed)} before this event)" if elapsed >= 0 else t.alarm.since


def operator_line(t: TransitionEvent) -> str | None:
    a = t.alarm
    if t.transition == "Alarm Acknowledged" or (a.acknowledged_by and t.transition != "Alarm Cleared"):
        note = f": {a.note}" if a.note else ""
        return f"Acknowledged by {a.acknowledged_by or 'unknown'}{note}"
    if a.snoozed_until:
        return f"Snoozed until {a.snoozed_until}"
    return None


def render(t: TransitionEvent) -> dict[str, Any]:
    """Slack-compatible message: plain ``text`` (also the notification preview) plus Block Kit blocks."""
    fields = [("What", what(t)), ("Where", where(t)), ("How far", how_far(t)), ("Since", since(t))]
    extra = operator_line(t)
    lines = [headline(t), *(f"{name}: {value}" for name, value in fields)]
    if extra:
        lines.append(extra)
    icon = _HEADLINE_ICON.get(t.transition, ":bell:")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{icon} {headline(t)}"[:SLACK_HEADER_MAX_CHARS]},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*{name}*\n{_escape(value)}"[:SLACK_FIELD_MAX_CHARS]}
                for name, value in fields
            ],
        },
    ]
    if extra:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _escape(extra)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _escape(f"event {t.event_id} | alarm {t.alarm.alarm_id} | at {t.occurred_at}"),
                }
            ],
        }
    )
    return {"text": "\n".join(lines), "blocks": blocks}


def duration(ms: int) -> str:
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _num(x: float) -> str:
    # Rounded first: 47.3 - 45 is 2.2999999999999972 in binary floating point.
    return f"{round(x, 4):.10g}"


def _escape(text: str) -> str:
    # Slack mrkdwn control characters (api.slack.com/reference/surfaces/formatting#escaping).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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

    def handle(self, transitions: Sequence[TransitionEvent], remaining_ms: RemainingTime) -> list[Outcome]:
        return [self.notify(t, remaining_ms) for t in transitions]

    def notify(self, t: TransitionEvent, remaining_ms: RemainingTime) -> Outcome:
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
