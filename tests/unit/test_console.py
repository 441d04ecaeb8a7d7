"""The operator console over in-memory fakes: escaping, filters, the Host/Origin/CSRF guard and the routes.

The real stage source is covered in tests/integration/test_console_stage.py (moto) and the whole console
in a browser in tests/e2e/test_console_browser.py.
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.cli.console.app import SECURITY_HEADERS, ConsoleServer, NotLoopbackError
from sensorflow.cli.console.chart import svg_chart
from sensorflow.cli.console.filters import DEFAULT_STATES, apply_filters, parse_filters
from sensorflow.cli.console.html import esc
from sensorflow.cli.console.model import (
    AlarmRow,
    Health,
    QuarantineLine,
    QuarantineView,
    QueueDepth,
    ReadingPoint,
    TransitionRow,
)
from sensorflow.cli.console.routes import Console, safe_back
from sensorflow.cli.console.transition_log import incident_steps, merge
from sensorflow.cli.errors import UsageError
from sensorflow.core import alarms as am

PORT = 5999
HOST = {"Host": f"127.0.0.1:{PORT}"}
NOW = 1_790_000_000_000
EVIL = '<script>alert("x")</script>\'"'


def alarm(device: str, state: str, sensor: str = "temperature", since: int = NOW - 60_000) -> am.Alarm:
    return am.Alarm(
        am.alarm_id(device, sensor, f"{sensor}-range"),
        device,
        sensor,
        f"{sensor}-range",
        state=state,
        severity="critical" if state != am.NORMAL else None,
        since_ms=since,
    )


@dataclass
class FakeSource:
    rows: list[AlarmRow] = field(default_factory=list)
    history: list[TransitionRow] = field(default_factory=list)
    points: list[ReadingPoint] = field(default_factory=list)
    context: dict[str, str] | None = None
    stage: str = "test"
    asked: list[tuple[Any, ...]] = field(default_factory=list)

    def alarms(self, now_ms: int) -> list[AlarmRow]:
        return list(self.rows)

    def transitions(self, limit: int, device_id: str | None = None) -> list[TransitionRow]:
        rows = [t for t in self.history if device_id in (None, t.device_id)]
        return sorted(rows, key=lambda t: t.at_ms, reverse=True)[:limit]

    def readings(self, device_id: str, since_ms: int, now_ms: int) -> list[ReadingPoint]:
        self.asked.append(("readings", device_id, since_ms, now_ms))
        return list(self.points)

    def device_context(self, device_id: str) -> Mapping[str, str] | None:
        return self.context

    def quarantine(self, now_ms: int) -> QuarantineView:
        recent = [QuarantineLine("decode_error", EVIL, EVIL, "t")]
        return QuarantineView({"decode_error": 3, "unknown_device": 7}, recent, "fake", {"2026-09-21": 10})

    def health(self, now_ms: int) -> Health:
        return Health(
            1234.0, "fake lag", [QueueDepth("on-failure (ingest)", 2, 0)], NOW - 60_000, ("a note",)
        )


@dataclass
class FakeActions:
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    refuse: str | None = None

    def alarm_action(self, action: str, alarm_id: str, fields: Mapping[str, str], now_ms: int) -> str:
        self.calls.append((action, alarm_id, dict(fields), now_ms))
        if self.refuse:
            raise UsageError(self.refuse)
        return f"{alarm_id}: ACKNOWLEDGED (Alarm Acknowledged)"

    def add_silence(self, fields: Mapping[str, str], now_ms: int) -> str:
        self.calls.append(("silence", dict(fields), now_ms))
        return "s-1: silences device_id=dev-1 until ..."


def console(source: FakeSource | None = None, actions: FakeActions | None = None) -> Console:
    return Console(source or FakeSource(), actions or FakeActions(), PORT, "tok-123", clock_ms=lambda: NOW)


def get(c: Console, target: str, headers: Mapping[str, str] = HOST) -> tuple[int, str]:
    r = c.handle("GET", target, dict(headers))
    return r.status, r.body.decode()


def post(c: Console, form: Mapping[str, str], headers: Mapping[str, str] | None = None) -> Any:
    h = {**HOST, "Origin": f"http://127.0.0.1:{PORT}", **(headers or {})}
    return c.handle("POST", "/action", h, urlencode(form).encode())


# --- escaping -------------------------------------------------------------------------------------


def test_a_device_with_script_and_quotes_renders_escaped_in_text_and_attributes():
    # GIVEN an alarm whose device id, site and team carry markup and both quotes
    row = AlarmRow(alarm(EVIL, am.ACTIVE), site=EVIL, owner_team=EVIL, last_value=50.0)
    c = console(FakeSource(rows=[row], context={"site": EVIL}))
    # WHEN the alarms page and the device page are rendered
    for target in ("/", "/device?" + urlencode({"id": EVIL})):
        status, body = get(c, target)
        # THEN no markup of the device's survives: only escaped text, in text and attribute contexts
        assert status == 200
        assert "<script>alert" not in body
        assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;&quot;" in body
        assert body.count("<script") == 1  # the console's own /static/console.js, nothing else
    _, body = get(c, "/")
    assert f'data-alarm="{esc(row.alarm.alarm_id)}"' in body
    # the device link's query is percent-encoded, then escaped
    assert 'href="/device?id=%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%27%22"' in body


def test_quarantine_and_transitions_escape_what_devices_sent():
    t = TransitionRow("e1", "Alarm Raised", f"{EVIL}#t#r", NOW, note=EVIL, by=EVIL)
    c = console(FakeSource(history=[t]))
    for target in ("/quarantine", "/transitions"):
        _, body = get(c, target)
        assert "<script>alert" not in body and "&lt;script&gt;" in body


@given(st.text())
def test_esc_leaves_no_character_that_opens_markup_or_closes_an_attribute(text: str):
    out = esc(text)
    assert not set(out) & set("<>\"'")
    assert html.unescape(out) == text


def test_the_chart_leaves_out_non_finite_values_and_escapes_its_label():
    svg = svg_chart([(NOW, 1.0), (NOW + 1000, float("nan")), (NOW + 2000, 3.0)], EVIL, "C")
    assert svg.count("<circle") == 2 and "nan" not in svg.lower()
    assert "<script>alert" not in svg
    assert "no readings" in svg_chart([], "temperature")


# --- filters --------------------------------------------------------------------------------------

ROWS = [
    AlarmRow(alarm("d1", am.ACTIVE), site="a", owner_team="ops"),
    AlarmRow(alarm("d2", am.ACKNOWLEDGED), site="b", owner_team="ops"),
    AlarmRow(alarm("d3", am.NORMAL), site="a", owner_team="qa"),
    AlarmRow(alarm("d4", am.SNOOZED), site="a", owner_team="qa"),
]


@pytest.mark.parametrize(
    ("query", "devices"),
    [
        ("", ["d1", "d2", "d4"]),  # every state but NORMAL, as `alarms list`
        ("state=all", ["d1", "d2", "d3", "d4"]),
        ("state=ACTIVE&state=SNOOZED", ["d1", "d4"]),
        ("state=NOPE", ["d1", "d2", "d4"]),
        ("site=a", ["d1", "d4"]),
        ("team=qa&state=all", ["d3", "d4"]),
        ("site=b&team=qa", []),
    ],
)
def test_filters_by_state_site_and_team(query: str, devices: list[str]):
    shown = apply_filters(ROWS, parse_filters(parse_qs(query)))
    assert [r.alarm.device_id for r in shown] == devices


def test_the_page_shows_only_the_filtered_rows_and_offers_sites_and_teams():
    _, body = get(console(FakeSource(rows=ROWS)), "/?site=a")
    assert re.findall(r'data-alarm="([^"#]+)#', body) == ["d1", "d4"]
    assert '<option value="a" selected>a</option>' in body and '<option value="qa">qa</option>' in body
    assert parse_filters({}).states == DEFAULT_STATES


# --- the guard: Host, Origin, CSRF ----------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["evil.example:5999", "127.0.0.1:5998", "127.0.0.1", "", "127.0.0.1:5999.evil.example"]
)
def test_a_request_for_another_host_is_refused(host: str):
    # a DNS-rebinding page sends its own name; a page on another port is another origin
    status, body = get(console(FakeSource(rows=ROWS)), "/", {"Host": host} if host else {})
    assert status == 403 and "refused" in body and "d1" not in body


def test_localhost_is_the_same_console():
    assert get(console(), "/", {"Host": f"localhost:{PORT}"})[0] == 200


@pytest.mark.parametrize(
    ("form", "headers", "why"),
    [
        ({"action": "ack", "alarm_id": "d1#t#r"}, {}, "CSRF"),
        ({"action": "ack", "alarm_id": "d1#t#r", "csrf": "wrong"}, {}, "CSRF"),
        (
            {"action": "ack", "alarm_id": "d1#t#r", "csrf": "tok-123"},
            {"Origin": "http://evil.example"},
            "cross",
        ),
        ({"action": "ack", "alarm_id": "d1#t#r", "csrf": "tok-123"}, {"Origin": "null"}, "cross"),
        (
            {"action": "ack", "alarm_id": "d1#t#r", "csrf": "tok-123"},
            {"Origin": f"http://127.0.0.1:{PORT}", "Sec-Fetch-Site": "cross-site"},
            "cross-site",
        ),
        ({"action": "ack", "alarm_id": "d1#t#r", "csrf": "tok-123"}, {"Host": "evil.example:5999"}, "Host"),
    ],
)
def test_a_post_not_from_the_consoles_own_page_is_refused_and_does_nothing(
    form: dict[str, str], headers: dict[str, str], why: str
):
    actions = FakeActions()
    response = post(console(actions=actions), form, headers)
    assert response.status == 403 and why in response.body.decode()
    assert actions.calls == []


def test_the_csrf_token_is_in_every_action_form():
    c = console(FakeSource(rows=ROWS))
    _, body = get(c, "/")
    forms = body.count('<form method="post"')
    assert forms == 3 and body.count('name="csrf" value="tok-123"') == forms


# --- routes ---------------------------------------------------------------------------------------


def test_ack_goes_to_the_actions_and_redirects_back_with_the_outcome():
    # GIVEN the console's own page posting ack with a note
    actions = FakeActions()
    c = console(FakeSource(rows=ROWS), actions)
    form = {"action": "ack", "alarm_id": "d1#temperature#temperature-range", "csrf": "tok-123"}
    response = post(c, {**form, "note": "on it", "for": "1h", "back": "/?site=a"})
    # THEN the action is applied once, without the snooze duration, and it answers 303 to where it came from
    assert actions.calls == [
        ("ack", "d1#temperature#temperature-range", {**form, "note": "on it", "back": "/?site=a"}, NOW)
    ]
    assert response.status == 303
    location = urlsplit(response.location)
    assert location.path == "/" and parse_qs(location.query)["site"] == ["a"]
    # AND the page it redirects to says what happened
    _, body = get(c, response.location)
    assert "d1#temperature#temperature-range: ACKNOWLEDGED (Alarm Acknowledged)" in body


def test_a_refused_action_shows_the_clis_message_as_an_error():
    c = console(FakeSource(rows=ROWS), FakeActions(refuse="alarm 'x' is NORMAL; nothing to ack"))
    response = post(c, {"action": "ack", "alarm_id": "x", "csrf": "tok-123"})
    _, body = get(c, response.location)
    assert 'id="error">alarm &#x27;x&#x27; is NORMAL; nothing to ack' in body


def test_disable_sends_the_note_as_the_reason_and_silence_matches_the_device():
    actions = FakeActions()
    c = console(FakeSource(rows=ROWS), actions)
    base = {
        "alarm_id": "d1#temperature#temperature-range",
        "csrf": "tok-123",
        "note": "maintenance",
        "for": "2h",
    }
    post(c, {**base, "action": "disable"})
    post(c, {**base, "action": "silence"})
    assert actions.calls[0][2]["reason"] == "maintenance" and "note" not in actions.calls[0][2]
    assert actions.calls[1] == (
        "silence",
        {"match_device_id": "d1", "comment": "maintenance", "for": "2h"},
        NOW,
    )


@pytest.mark.parametrize("back", ["https://evil.example/", "//evil.example/", "/\\evil", "", None])
def test_the_redirect_never_leaves_the_console(back: str | None):
    assert safe_back(back) == "/"
    form = {
        "action": "ack",
        "alarm_id": "x",
        "csrf": "tok-123",
        **({"back": back} if back is not None else {}),
    }
    assert urlsplit(post(console(), form).location).path == "/"


def test_a_flash_id_nobody_issued_shows_nothing():
    _, body = get(console(), "/?flash=made-up")
    assert 'id="flash"' not in body and 'id="error"' not in body


def test_recent_transitions_are_newest_first():
    history = [
        TransitionRow("e1", "Alarm Raised", "d1#t#r", NOW - 2000),
        TransitionRow("e2", "Alarm Acknowledged", "d1#t#r", NOW - 1000, by="ana"),
        TransitionRow("e3", "Alarm Cleared", "d2#t#r", NOW - 3000),
    ]
    _, body = get(console(FakeSource(history=history)), "/transitions")
    assert re.findall(r'class="transition">([^<]+)<', body) == [
        "Alarm Acknowledged",
        "Alarm Raised",
        "Alarm Cleared",
    ]


def test_the_device_page_charts_its_readings_and_lists_its_history():
    points = [ReadingPoint(NOW - 60_000 + i * 1000, "humidity", 90.0 + i, "%RH") for i in range(5)]
    history = [
        TransitionRow("e1", "Alarm Raised", "d1#humidity#humidity-range", NOW),
        TransitionRow("e9", "Alarm Raised", "d2#t#r", NOW),
    ]
    source = FakeSource(rows=ROWS, history=history, points=points, context={"site": "a"})
    status, body = get(console(source), "/device?id=d1&hours=6")
    assert status == 200 and body.count("<svg") == 1 and body.count("<circle") == 5
    assert source.asked == [("readings", "d1", NOW - 6 * 3_600_000, NOW)]
    assert "d1#humidity#humidity-range" in body and "d2#t#r" not in body
    assert re.findall(r'data-alarm="([^"#]+)#', body) == ["d1"]


def test_the_device_window_is_capped_and_a_device_is_required():
    source = FakeSource()
    get(console(source), "/device?id=d1&hours=9999")
    assert source.asked[0][2] == NOW - 24 * 3_600_000
    assert get(console(), "/device")[0] == 400


def test_quarantine_and_health_pages():
    _, q = get(console(), "/quarantine")
    assert q.index("unknown_device") < q.index("decode_error") and "10 quarantined records" in q
    _, h = get(console(), "/health")
    assert 'id="iterator-age">1234 ms' in h and "on-failure (ingest)" in h and "a note" in h


def test_unknown_pages_and_methods():
    assert get(console(), "/nope")[0] == 404
    assert console().handle("PUT", "/", HOST).status == 405


def test_an_aws_failure_reading_the_stage_is_a_page_with_the_clis_message():
    class Failing(FakeSource):
        def alarms(self, now_ms: int) -> list[AlarmRow]:
            raise UsageError("list alarms: ResourceNotFoundException: table gone")

    status, body = get(console(Failing()), "/")
    assert status == 502 and "table gone" in body


# --- transitions merged from the incidents timelines and the notification ledger --------------------


def test_transitions_merge_incident_steps_with_the_ledger_by_event_id():
    incident = {
        "kind": "incident",
        "incident_id": "i1",
        "alarm_id": "d1#t#r",
        "device_id": "d1",
        "sensor_type": "t",
        "rule_id": "r",
        "site": "a",
        "location": "l",
        "owner_team": "ops",
        "status": "OPEN",
        "severity": "critical",
        "opened_at": "x",
        "opened_at_ms": 1,
        "opened_by_event": "e1",
        "version": 1,
        "timeline": [
            {"event_id": "e1", "transition": "Alarm Raised", "at_ms": 10, "occurred_at": "x", "value": 95}
        ],
    }
    ledger = [
        {
            "event_id": "e1",
            "transition": "Alarm Raised",
            "alarm_id": "d1#t#r",
            "status": "sent",
            "claimed_at_ms": 11,
        },
        {
            "event_id": "e2",
            "transition": "Alarm Acknowledged",
            "alarm_id": "d1#t#r",
            "status": "failed",
            "claimed_at_ms": 20,
        },
        {"event_id": "junk"},
    ]
    rows = merge(incident_steps([incident, {"kind": "tracker"}]), ledger)
    assert [(r.event_id, r.at_ms, r.delivery, r.value) for r in rows] == [
        ("e2", 20, "failed", None),
        ("e1", 10, "sent", 95.0),
    ]


# --- the server ------------------------------------------------------------------------------------


def test_the_server_listens_on_loopback_only():
    with pytest.raises(NotLoopbackError):
        ConsoleServer(console(), 0, host="0.0.0.0")


def test_the_server_answers_with_the_security_headers_and_refuses_a_foreign_host():
    server = ConsoleServer(console(FakeSource(rows=ROWS)), 0).start()
    try:
        with urllib.request.urlopen(server.url, timeout=10) as response:
            assert response.status == 200
            for name, value in SECURITY_HEADERS:
                assert response.headers[name] == value
        request = urllib.request.Request(server.url, headers={"Host": f"evil.example:{server.port}"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403
        big = urllib.request.Request(
            server.url + "action", data=b"x" * 70_000, headers={"Origin": server.url[:-1]}
        )
        with pytest.raises(urllib.error.HTTPError) as too_large:
            urllib.request.urlopen(big, timeout=10)
        assert too_large.value.code == 413
    finally:
        server.stop()


def test_local_up_prints_the_consoles_url_and_the_command_that_serves_it(capsys: pytest.CaptureFixture[str]):
    from sensorflow.cli.console import DEFAULT_PORT
    from sensorflow.cli.local_command import print_ready
    from sensorflow.localcloud.cloud import CloudInfo

    print_ready(
        CloudInfo("http://127.0.0.1:5050", "us-east-1", "local", "sensorflow-local", {}, 1, 2, "logs")
    )
    out = capsys.readouterr().out
    assert (
        f"# operator console: http://127.0.0.1:{DEFAULT_PORT}/ once `sensorflow console --stage local` runs"
        in out
    )


def test_the_referrer_policy_lets_the_browser_send_the_origin_the_post_check_needs():
    # under no-referrer a browser sends `Origin: null` on the console's own form POSTs (found in chromium)
    assert dict(SECURITY_HEADERS)["Referrer-Policy"] == "same-origin"


# --- health -----------------------------------------------------------------------------------------


class FakeCloudWatch:
    def __init__(self, points: list[dict[str, Any]]) -> None:
        self.points, self.asked = points, []

    def get_metric_statistics(self, **kwargs: Any) -> dict[str, Any]:
        self.asked.append(kwargs)
        return {"Datapoints": self.points}


class BrokenSqs:
    def get_queue_url(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetQueueUrl")


def test_health_takes_the_newest_iterator_age_and_notes_what_it_cannot_read():
    from datetime import UTC, datetime

    from sensorflow.cli.console.health import StageHealth

    old, new = datetime(2026, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    cw = FakeCloudWatch([{"Timestamp": new, "Maximum": 250.0}, {"Timestamp": old, "Maximum": 9000.0}])
    outputs = {"FailureQueueUrl": "https://sqs/123/sensorflow-s-ingest-failures"}
    health = StageHealth("s", outputs, {"cloudwatch": cw, "sqs": BrokenSqs()}).read(NOW)
    assert health.iterator_age_ms == 250.0
    assert cw.asked[0]["Dimensions"] == [{"Name": "FunctionName", "Value": "sensorflow-s-ingest"}]
    assert [(q.name, q.visible) for q in health.queues] == [("on-failure (ingest)", None)]
    assert health.notes == ("queue on-failure (ingest): AccessDenied: no",)


def test_on_the_local_cloud_health_shows_its_stream_lag():
    from sensorflow.cli.console.health import StageHealth

    status = {"streams": {"a": {"iterator_age_ms": 10.0}, "b": {"iterator_age_ms": 42.0}}}
    health = StageHealth("local", {}, {"cloudwatch": FakeCloudWatch([])}, lambda: status).read(NOW)
    assert (health.iterator_age_ms, health.iterator_age_source) == (42.0, "the local cloud's stream lag")


def test_the_local_clouds_lag_is_used_only_for_its_own_stage_and_endpoint(monkeypatch: pytest.MonkeyPatch):
    import os

    from sensorflow.cli.console.stage import local_cloud_status
    from sensorflow.localcloud import cloud

    info = cloud.CloudInfo(
        "http://127.0.0.1:5050", "us-east-1", "local", "sensorflow-local", {}, 1, os.getpid(), ""
    )
    monkeypatch.setattr(cloud, "read_state", lambda: info)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5050")
    assert local_cloud_status("local") is not None
    assert local_cloud_status("prod") is None
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://dynamodb.eu-west-1.amazonaws.com")
    assert local_cloud_status("local") is None
