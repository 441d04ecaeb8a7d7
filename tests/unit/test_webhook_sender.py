"""WebhookSender with an in-memory transport: which failures are retried, for how long, and what is said.

The guarded request itself (addresses, TLS, deadline, bounded read) is tested on loopback servers in
tests/integration/test_webhook_security.py."""

from __future__ import annotations

import pytest

from sensorflow.adapters.webhook_http import WebhookResponse, WebhookTarget
from sensorflow.adapters.webhook_sender import MAX_ATTEMPTS, MAX_RETRY_AFTER_S, TIME_FLOOR_MS, WebhookSender
from sensorflow.core.errors import DeliveryError

URL = "https://hooks.example.com/services/T000/B000/SECRETTOKEN"
PARAMETER = "/sensorflow/test/webhook-url"
WALL_CLOCK_S = 1_795_000_000.0  # Wed, 18 Nov 2026 11:06:40 GMT


class Clock:
    """The invocation's clock: ``sleep`` records each wait and takes it off the remaining time."""

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self.remaining_ms = remaining_ms
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.remaining_ms -= round(seconds * 1000)

    def remaining(self) -> int:
        return self.remaining_ms


def highest(low: float, high: float) -> float:
    """Jitter that always draws the top of the range, so the backoff is exact."""
    return high


def clocked(transport: ScriptedTransport, clock: Clock, **kwargs) -> WebhookSender:
    return WebhookSender(
        lambda refresh: URL,
        PARAMETER,
        transport=transport,
        sleep=clock.sleep,
        uniform=highest,
        wall_clock=lambda: WALL_CLOCK_S,
        **kwargs,
    )


class ScriptedTransport:
    """Answers each POST with the next scripted outcome: an int status, or an exception to raise.
    ``calls`` keeps the URL each went to (rebuilt from the target) and its timeout."""

    def __init__(self, *outcomes: int | BaseException, retry_after: str | None = None) -> None:
        self.outcomes = list(outcomes)
        self.retry_after = retry_after
        self.calls: list[tuple[str, float]] = []

    def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> WebhookResponse:
        self.calls.append((f"{target.scheme}://{target.host}{target.request_path}", timeout_s))
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, BaseException):
            raise outcome
        return WebhookResponse(outcome, self.retry_after if outcome >= 400 else None, b"ok")


def sender(
    transport: ScriptedTransport,
    urls: list[str] | None = None,
    sleeps: list[float] | None = None,
    **kwargs,
) -> WebhookSender:
    sources = list(urls or [URL])

    def url(refresh: bool) -> str:
        if refresh and len(sources) > 1:
            sources.pop(0)
        return sources[0]

    return WebhookSender(
        url,
        PARAMETER,
        transport=transport,
        sleep=(sleeps.append if sleeps is not None else lambda s: None),
        **kwargs,
    )


def plenty() -> int:
    return 60_000


def test_network_errors_and_5xx_are_retried_then_delivered():
    transport = ScriptedTransport(ConnectionRefusedError(), TimeoutError(), 503, 200)
    sender(transport).send({"text": "hi"}, plenty)
    assert len(transport.calls) == 4


def test_backoff_waits_between_attempts_and_never_after_the_last():
    # GIVEN a webhook that fails every attempt, with no Retry-After
    clock = Clock()
    transport = ScriptedTransport(*([503] * 10))
    # WHEN the sender gives up
    with pytest.raises(DeliveryError, match=rf"after {MAX_ATTEMPTS} attempt\(s\): HTTP 503"):
        clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    # THEN it waited the capped exponential backoff (0.2 s * 2**retry) before each retry, and not after
    assert clock.sleeps == [0.4, 0.8, 1.6, 3.2]
    assert len(transport.calls) == MAX_ATTEMPTS


def test_retry_after_is_honoured_exactly_instead_of_the_backoff():
    # GIVEN a webhook that throttles once and asks for 3 s
    clock = Clock()
    transport = ScriptedTransport(429, 200, retry_after="3")
    # WHEN the message is sent
    clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    # THEN the one wait is the server's 3 s, with no backoff added on top
    assert clock.sleeps == [3.0]
    assert len(transport.calls) == 2


def test_no_retry_after_wait_follows_the_last_attempt():
    # GIVEN two attempts, both throttled with Retry-After 1 (bug 10: it slept 1 s after the last one)
    clock = Clock()
    transport = ScriptedTransport(429, 429, retry_after="1")
    # WHEN the sender gives up
    with pytest.raises(DeliveryError, match=r"after 2 attempt\(s\): HTTP 429"):
        clocked(transport, clock, max_attempts=2).send({"text": "hi"}, clock.remaining)
    # THEN it waited only between the two attempts
    assert clock.sleeps == [1.0]
    assert clock.remaining_ms == 59_000


def test_retry_after_above_the_cap_is_reported_not_shortened(caplog):
    # GIVEN a server asking for 60 s, above the default cap of 10 s (bug 10: it silently waited 10 s)
    clock = Clock()
    transport = ScriptedTransport(429, 200, retry_after="60")
    # WHEN the message is sent
    with pytest.raises(DeliveryError) as info:
        clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    # THEN nothing is waited or retried: the delivery fails for Lambda's asynchronous retry to take over
    assert str(info.value) == (
        "webhook delivery deferred: HTTP 429 asked to retry after 60 s, "
        "longer than this invocation may wait (10 s)"
    )
    assert (clock.sleeps, len(transport.calls)) == ([], 1)
    # AND a warning says what the server asked for and what was used
    [warning] = [r for r in caplog.records if r.message.startswith("webhook Retry-After")]
    assert (warning.levelname, warning.asked_s, warning.used_s, warning.cap_s) == ("WARNING", 60.0, 0.0, 10.0)
    assert MAX_RETRY_AFTER_S == 10.0


def test_the_retry_after_cap_is_configurable():
    clock = Clock()
    transport = ScriptedTransport(429, 200, retry_after="20")
    clocked(transport, clock, retry_after_max_s=25.0).send({"text": "hi"}, clock.remaining)
    assert clock.sleeps == [20.0]


def test_retry_after_is_bounded_by_the_time_left():
    # GIVEN 8 s left in the invocation (6.5 s above the floor) and a server asking for 7 s
    clock = Clock(remaining_ms=8_000)
    transport = ScriptedTransport(429, 200, retry_after="7")
    # WHEN the message is sent THEN the sender does not wait past the deadline: it reports the failure
    with pytest.raises(
        DeliveryError, match=r"retry after 7 s, longer than this invocation may wait \(6.5 s\)"
    ):
        clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    assert (clock.sleeps, len(transport.calls)) == ([], 1)
    assert TIME_FLOOR_MS == 1_500


def test_retry_after_as_an_http_date():
    # GIVEN Retry-After as an HTTP date 4 s after now (RFC 9110 section 10.2.3)
    clock = Clock()
    transport = ScriptedTransport(503, 200, retry_after="Wed, 18 Nov 2026 11:06:44 GMT")
    clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    assert clock.sleeps == [4.0]


def test_an_unreadable_retry_after_falls_back_to_the_backoff():
    clock = Clock()
    transport = ScriptedTransport(503, 200, retry_after="soon")
    clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    assert clock.sleeps == [0.4]


def test_a_backoff_that_would_pass_the_deadline_ends_the_delivery():
    # GIVEN 1.9 s left above the floor, instant failures, and backoffs of 0.4, 0.8 then 1.6 s
    clock = Clock(remaining_ms=TIME_FLOOR_MS + 1_900)
    transport = ScriptedTransport(*([500] * 10))
    # WHEN the sender retries
    with pytest.raises(DeliveryError, match=r"after 3 attempt\(s\): HTTP 500"):
        clocked(transport, clock).send({"text": "hi"}, clock.remaining)
    # THEN each attempt ran with what its wait left, and the fourth (1.6 s wait, 0.7 s left) never started
    assert clock.sleeps == [0.4, 0.8]
    assert [t for _, t in transport.calls] == [1.9, 1.5, 0.7]


def test_other_4xx_is_permanent_and_the_error_never_names_the_url():
    transport = ScriptedTransport(400)
    with pytest.raises(DeliveryError) as info:
        sender(transport).send({"text": "hi"}, plenty)
    assert str(info.value) == "webhook rejected the message: HTTP 400"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(transport.calls) == 1


def test_404_re_reads_the_url_once():
    rotated = "https://hooks.example.com/services/T000/B000/ROTATED"
    transport = ScriptedTransport(404, 200)
    sender(transport, urls=[URL, rotated]).send({"text": "hi"}, plenty)
    assert [u for u, _ in transport.calls] == [URL, rotated]


def test_gives_up_after_max_attempts():
    transport = ScriptedTransport(*([500] * 10))
    with pytest.raises(DeliveryError, match=rf"after {MAX_ATTEMPTS} attempt\(s\): HTTP 500"):
        sender(transport).send({"text": "hi"}, plenty)
    assert len(transport.calls) == MAX_ATTEMPTS


def test_no_attempt_starts_without_time_to_finish():
    transport = ScriptedTransport(500, 500, 500)
    left = iter([60_000, 1_500, 1_500, 1_500])  # after the first failure, nothing above the floor
    with pytest.raises(DeliveryError, match=r"after 1 attempt\(s\)"):
        sender(transport).send({"text": "hi"}, lambda: next(left))
    # the attempt that ran was bounded by the configured timeout
    assert transport.calls[0][1] == 5.0


def test_plain_http_is_refused_unless_the_stage_allows_loopback():
    # GIVEN a production sender (the default) and plain http URLs, loopback included
    for url in ("http://hooks.example.com/x", "http://127.0.0.1:8080/x"):
        transport = ScriptedTransport()
        # WHEN it sends THEN it refuses before any request, naming the parameter and not the URL
        with pytest.raises(DeliveryError, match="is plain http: https only") as info:
            sender(transport, urls=[url]).send({"text": "hi"}, plenty)
        assert PARAMETER in str(info.value) and "127.0.0.1" not in str(info.value)
        assert transport.calls == []
    # AND on the local stage's setting, http to loopback goes out (the address check is the transport's)
    transport = ScriptedTransport(200)
    sender(transport, urls=["http://127.0.0.1:8080/x"], allow_loopback_http=True).send({"text": "hi"}, plenty)
    assert len(transport.calls) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_a_permanent_failure_naming_the_status(status):
    transport = ScriptedTransport(status, 200)
    with pytest.raises(DeliveryError) as info:
        sender(transport).send({"text": "hi"}, plenty)
    assert str(info.value) == f"webhook answered HTTP {status}: redirects are not followed"
    assert len(transport.calls) == 1


def test_a_malformed_url_is_re_read_once_then_fails_naming_the_parameter():
    # GIVEN a parameter holding a URL with a space, then (after the re-read) still a bad one
    reads: list[bool] = []
    values = iter(["https://hooks.example.com/services/T0/B0/SE CRET", "https://hooks.example.com/\x00"])

    def url(refresh: bool) -> str:
        reads.append(refresh)
        return next(values)

    transport = ScriptedTransport()
    # WHEN it sends
    with pytest.raises(DeliveryError) as info:
        WebhookSender(url, PARAMETER, transport=transport).send({"text": "hi"}, plenty)
    # THEN the value was read, re-read once, and the error names the parameter, nothing of the URL
    assert reads == [False, True]
    assert str(info.value) == (
        f"SSM parameter {PARAMETER} does not hold a valid webhook URL: it contains a space, "
        "a control character or a non-ASCII character"
    )
    assert info.value.__cause__ is None and info.value.__context__ is None
    assert transport.calls == []


def test_a_url_fixed_since_it_was_cached_is_used_after_the_re_read():
    values = iter(["https://hooks.example.com/services/T0/B0/SE CRET", URL])
    transport = ScriptedTransport(200)
    WebhookSender(lambda refresh: next(values), PARAMETER, transport=transport).send({"text": "hi"}, plenty)
    assert [u for u, _ in transport.calls] == [URL]


def test_a_network_error_is_logged_by_its_class_only(caplog):
    # GIVEN a transport error whose message quotes the request (as some http.client errors do)
    transport = ScriptedTransport(ConnectionResetError(f"reset while sending POST {URL}"), 200)
    sender(transport).send({"text": "hi"}, plenty)
    [warning] = [r for r in caplog.records if r.message == "webhook attempt failed"]
    assert warning.error == "ConnectionResetError"
    assert "SECRETTOKEN" not in caplog.text
