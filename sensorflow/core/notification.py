"""The human message for one alarm transition, pure: what happened, where, how far past the threshold,
and since when, as Slack-compatible JSON (``text`` for notifications and plain clients, ``blocks`` for
layout).

Every value may come from the device registry or an operator (site, location, model, owner team, a
note), so every text Slack parses as markup (the top-level ``text`` and each ``mrkdwn`` object) has
``&``, ``<`` and ``>`` escaped as Slack documents (api.slack.com/reference/surfaces/formatting#escaping):
a registry value such as ``<!channel>`` or ``<https://evil.example|click>`` shows as typed instead of
paging the channel or rendering a link. The header is a ``plain_text`` object, which Slack does not parse
for mentions or links, so it is left as it is (escaping it would show ``&lt;``)."""

from __future__ import annotations

from typing import Any

from sensorflow.core.clock import iso_to_ms
from sensorflow.core.contract import Transition, TransitionView

# Slack Block Kit limits (api.slack.com/reference/block-kit/blocks): header text 150 characters,
# section field text 2,000 characters.
SLACK_HEADER_MAX_CHARS = 150


SLACK_FIELD_MAX_CHARS = 2_000


_HEADLINE_ICON: dict[str, str] = {
    Transition.RAISED: ":rotating_light:",
    Transition.ESCALATED: ":arrow_double_up:",
    Transition.CLEARED: ":white_check_mark:",
    Transition.ACKNOWLEDGED: ":eyes:",
    Transition.STALE: ":zzz:",
    Transition.REMINDER: ":repeat:",
    Transition.RESET: ":leftwards_arrow_with_hook:",
}


def headline(t: TransitionView) -> str:
    severity = f"[{t.severity.upper()}] " if t.severity else ""
    subject = "device" if t.transition == Transition.STALE else t.alarm.sensor_type
    return f"{severity}{t.transition}: {subject} on {t.alarm.device_id}"


def what(t: TransitionView) -> str:
    if t.transition == Transition.STALE:
        return f"no reading from {t.alarm.device_id}, rule {t.rule.rule_id}"
    if t.reading is None:
        return f"{t.alarm.sensor_type}, rule {t.rule.rule_id}, state {t.alarm.state}"
    return f"{t.alarm.sensor_type} {_num(t.reading.value)} {t.reading.unit}, rule {t.rule.rule_id}"


def where(t: TransitionView) -> str:
    d = t.device
    return f"site {d.site}, location {d.location}, device {d.device_id} ({d.model}, team {d.owner_team})"


def how_far(t: TransitionView) -> str:
    rule, reading = t.rule, t.reading
    if rule.bound == "stale":
        limit_ms = int((rule.threshold or 0) * 1000)
        if t.alarm.since is None or rule.threshold is None:
            return "no reading within the staleness limit"
        # ``since`` is the deadline (last reading + limit): the silence is measured from the last reading.
        silent_ms = t.occurred_at_ms - (iso_to_ms(t.alarm.since) - limit_ms)
        if t.transition == Transition.CLEARED:
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


def since(t: TransitionView) -> str:
    if t.alarm.since is None:
        return "n/a"
    elapsed = t.occurred_at_ms - iso_to_ms(t.alarm.since)
    return f"{t.alarm.since} ({duration(elapsed)} before this event)" if elapsed >= 0 else t.alarm.since


def operator_line(t: TransitionView) -> str | None:
    a = t.alarm
    if t.transition == Transition.ACKNOWLEDGED or (a.acknowledged_by and t.transition != Transition.CLEARED):
        note = f": {a.note}" if a.note else ""
        return f"Acknowledged by {a.acknowledged_by or 'unknown'}{note}"
    if a.snoozed_until:
        return f"Snoozed until {a.snoozed_until}"
    return None


def render(t: TransitionView) -> dict[str, Any]:
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
                {"type": "mrkdwn", "text": f"*{name}*\n{escape(value)}"[:SLACK_FIELD_MAX_CHARS]}
                for name, value in fields
            ],
        },
    ]
    if extra:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": escape(extra)}})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": escape(f"event {t.event_id} | alarm {t.alarm.alarm_id} | at {t.occurred_at}"),
                }
            ],
        }
    )
    return {"text": "\n".join(escape(line) for line in lines), "blocks": blocks}


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


def escape(text: str) -> str:
    """``text`` safe in Slack markup: ``&`` first, so an escape is never escaped twice
    (api.slack.com/reference/surfaces/formatting#escaping)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
