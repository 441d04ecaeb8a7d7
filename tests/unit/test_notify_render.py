"""The human message notify sends: exact text for the transitions people see most."""

from __future__ import annotations

import pytest

from sensorflow.core.contract import InvalidTransitionError, parse_transition
from sensorflow.core.notification import duration, render
from tests.transitions import transition


def test_raise_renders_what_where_how_far_and_since():
    # GIVEN a critical temperature alarm raised at 47.3 C against a 45 C maximum
    t = parse_transition(transition("Alarm Raised"))
    # WHEN it is rendered
    message = render(t)
    # THEN the text says what, where, how far past the threshold and since when
    assert message["text"] == (
        "[CRITICAL] Alarm Raised: temperature on dev-00042\n"
        "What: temperature 47.3 C, rule temperature-range\n"
        "Where: site site-a, location hall-1, device dev-00042 (TH-200, team ops)\n"
        "How far: 2.3 C above the max threshold of 45 C (+5.1%)\n"
        "Since: 2026-11-29T10:15:00.000Z (5m 30s before this event)"
    )
    assert message["blocks"][0] == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": ":rotating_light: [CRITICAL] Alarm Raised: temperature on dev-00042",
        },
    }
    assert [f["text"] for f in message["blocks"][1]["fields"]] == [
        "*What*\ntemperature 47.3 C, rule temperature-range",
        "*Where*\nsite site-a, location hall-1, device dev-00042 (TH-200, team ops)",
        "*How far*\n2.3 C above the max threshold of 45 C (+5.1%)",
        "*Since*\n2026-11-29T10:15:00.000Z (5m 30s before this event)",
    ]
    assert message["blocks"][-1]["elements"][0]["text"] == (
        f"event {t.event_id} | alarm dev-00042#temperature#temperature-range | at 2026-11-29T10:20:30.000Z"
    )


def test_clear_renders_the_distance_back_inside_the_threshold():
    t = parse_transition(
        transition(
            "Alarm Cleared", state="NORMAL", value=41.0, seq=40, occurred_at="2026-11-29T10:42:00.000Z"
        )
    )
    assert render(t)["text"] == (
        "[CRITICAL] Alarm Cleared: temperature on dev-00042\n"
        "What: temperature 41 C, rule temperature-range\n"
        "Where: site site-a, location hall-1, device dev-00042 (TH-200, team ops)\n"
        "How far: 4 C below the max threshold of 45 C (-8.9%)\n"
        "Since: 2026-11-29T10:15:00.000Z (27m 0s before this event)"
    )


def test_stale_renders_the_silence_against_the_limit():
    t = parse_transition(
        transition(
            "Device Stale",
            sensor_type="device",
            rule_id="device-stale",
            severity="warning",
            value=None,
            bound="stale",
            threshold=300.0,
            since="2026-11-29T10:05:00.000Z",
            occurred_at="2026-11-29T10:05:42.000Z",
        )
    )
    assert render(t)["text"] == (
        "[WARNING] Device Stale: device on dev-00042\n"
        "What: no reading from dev-00042, rule device-stale\n"
        "Where: site site-a, location hall-1, device dev-00042 (TH-200, team ops)\n"
        "How far: no reading for 5m 42s (limit 5m 0s)\n"
        "Since: 2026-11-29T10:05:00.000Z (42s before this event)"
    )


def test_min_bound_and_acknowledgement_with_a_note():
    t = parse_transition(
        transition(
            "Alarm Acknowledged",
            state="ACKNOWLEDGED",
            value=-12.5,
            bound="min",
            threshold=-10.0,
            acknowledged_by="alice",
            note="door <open> & fan off",
        )
    )
    message = render(t)
    assert message["text"].splitlines()[3:] == [
        "How far: 2.5 C below the min threshold of -10 C (-25.0%)",
        "Since: 2026-11-29T10:15:00.000Z (5m 30s before this event)",
        "Acknowledged by alice: door &lt;open&gt; &amp; fan off",
    ]
    # Slack parses the top-level text as markup too: escaped there as in the blocks.
    assert message["blocks"][2]["text"]["text"] == "Acknowledged by alice: door &lt;open&gt; &amp; fan off"


def test_registry_values_cannot_ping_a_channel_or_render_a_link():
    # GIVEN registry values that are Slack control sequences (a channel ping, a disguised link, an entity)
    doc = transition()
    doc["device"].update(
        site="<!channel>", location="<https://evil.example/x|click here>", model="&lt;!here&gt;"
    )
    doc["device"]["owner_team"] = "<@U024BE7LH>"
    # WHEN it is rendered
    message = render(parse_transition(doc))
    # THEN every text Slack parses as markup shows them as typed: no "<" or ">" is left in any of them
    where = (
        "site &lt;!channel&gt;, location &lt;https://evil.example/x|click here&gt;, device dev-00042 "
        "(&amp;lt;!here&amp;gt;, team &lt;@U024BE7LH&gt;)"
    )
    assert message["text"].splitlines()[2] == f"Where: {where}"
    assert message["blocks"][1]["fields"][1]["text"] == f"*Where*\n{where}"
    markup = [message["text"]] + [
        o["text"]
        for block in message["blocks"][1:]
        for o in [*block.get("fields", []), *block.get("elements", []), block.get("text") or {}]
        if o
    ]
    assert all("<" not in text and ">" not in text for text in markup)


def test_zero_threshold_has_no_percentage():
    t = parse_transition(transition(value=-1.5, bound="min", threshold=0.0, severity="warning"))
    assert render(t)["text"].splitlines()[3] == "How far: 1.5 C below the min threshold of 0 C"


@pytest.mark.parametrize(
    ("ms", "text"), [(0, "0s"), (59_999, "59s"), (60_000, "1m 0s"), (3_723_000, "1h 2m 3s")]
)
def test_duration(ms, text):
    assert duration(ms) == text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("event_id"), "field 'event_id' must be a non-empty string"),
        (lambda d: d.update(transition="Alarm Exploded"), "unknown transition 'Alarm Exploded'"),
        (lambda d: d["alarm"].update(severity="major"), "alarm.severity 'major' is not one of"),
        (lambda d: d.update(occurred_at="yesterday"), "'yesterday' is not an ISO-8601 time"),
        (lambda d: d["reading"].update(value="hot"), "field 'value' must be a number"),
    ],
)
def test_contract_violations_are_named(mutate, message):
    doc = transition()
    mutate(doc)
    with pytest.raises(InvalidTransitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_transition(doc)


def test_round_trip_through_to_dict():
    # every field of the contract, the issue 10 additions (episode, operator identity, suppressed) included
    doc = transition("Alarm Escalated", episode=3)
    doc["alarm"].update(
        updated_by="alice", caller_arn="arn:aws:iam::123456789012:user/alice", disabled_until=None
    )
    doc["suppressed"] = {
        "reason": "silenced",
        "silence_id": "sil-1",
        "created_by": "bob",
        "comment": "maintenance",
        "ends_at": "2026-11-29T12:00:00.000Z",
    }
    assert parse_transition(doc).to_message() == doc


@pytest.mark.parametrize(
    ("name", "icon"), [("Alarm Reminder", ":repeat:"), ("Alarm Reset", ":leftwards_arrow_with_hook:")]
)
def test_reminders_and_resets_have_their_own_headline(name, icon):
    message = render(parse_transition(transition(name)))
    assert message["text"].splitlines()[0] == f"[CRITICAL] {name}: temperature on dev-00042"
    assert message["blocks"][0]["text"]["text"] == f"{icon} [CRITICAL] {name}: temperature on dev-00042"
