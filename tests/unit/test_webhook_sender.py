"""WebhookSender with an in-memory opener: which failures are retried, for how long, and what is said."""

from __future__ import annotations

import email.message
import urllib.error

import pytest

from sensorflow.adapters.webhook_sender import MAX_ATTEMPTS, WebhookSender
from sensorflow.core.errors import DeliveryError

URL = "https://hooks.example.com/services/T000/B000/SECRETTOKEN"


class ScriptedOpener:
    """Answers each POST with the next scripted outcome: an int status, or an exception to raise."""

    def __init__(self, *outcomes: int | BaseException, retry_after: str | None = None) -> None:
        self.outcomes = list(outcomes)
        self.retry_after = retry_after
        self.calls: list[tuple[str, float]] = []

    def __call__(self, url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
        self.calls.append((url, timeout))
        outcome = self.outcomes.pop(0) if self.outcomes else 200
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome >= 400:
            hdrs = email.message.Message()
            if self.retry_after:
                hdrs["Retry-After"] = self.retry_after
            raise urllib.error.HTTPError(url, outcome, "error", hdrs, None)
        return outcome


def sender(
    opener: ScriptedOpener, urls: list[str] | None = None, sleeps: list[float] | None = None
) -> WebhookSender:
    sources = list(urls or [URL])

    def url(refresh: bool) -> str:
        if refresh and len(sources) > 1:
            sources.pop(0)
        return sources[0]

    return WebhookSender(url, opener=opener, sleep=(sleeps.append if sleeps is not None else lambda s: None))


def plenty() -> int:
    return 60_000


def test_network_errors_and_5xx_are_retried_then_delivered():
    opener = ScriptedOpener(urllib.error.URLError("refused"), TimeoutError(), 503, 200)
    sender(opener).send({"text": "hi"}, plenty)
    assert len(opener.calls) == 4


def test_retry_after_is_honoured_and_capped():
    sleeps: list[float] = []
    opener = ScriptedOpener(429, 200, retry_after="60")
    sender(opener, sleeps=sleeps).send({"text": "hi"}, plenty)
    assert sleeps[0] == 10.0  # MAX_RETRY_AFTER_S
    assert len(opener.calls) == 2


def test_other_4xx_is_permanent_and_the_error_never_names_the_url():
    opener = ScriptedOpener(400)
    with pytest.raises(DeliveryError) as info:
        sender(opener).send({"text": "hi"}, plenty)
    assert str(info.value) == "webhook rejected the message: HTTP 400"
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert len(opener.calls) == 1


def test_404_re_reads_the_url_once():
    rotated = "https://hooks.example.com/services/T000/B000/ROTATED"
    opener = ScriptedOpener(404, 200)
    sender(opener, urls=[URL, rotated]).send({"text": "hi"}, plenty)
    assert [u for u, _ in opener.calls] == [URL, rotated]


def test_gives_up_after_max_attempts():
    opener = ScriptedOpener(*([500] * 10))
    with pytest.raises(DeliveryError, match=rf"after {MAX_ATTEMPTS} attempt\(s\): HTTP 500"):
        sender(opener).send({"text": "hi"}, plenty)
    assert len(opener.calls) == MAX_ATTEMPTS


def test_no_attempt_starts_without_time_to_finish():
    opener = ScriptedOpener(500, 500, 500)
    left = iter([60_000, 1_500, 1_500, 1_500])  # after the first failure, nothing above the floor
    with pytest.raises(DeliveryError, match=r"after 1 attempt\(s\)"):
        sender(opener).send({"text": "hi"}, lambda: next(left))
    # the attempt that ran was bounded by the configured timeout
    assert opener.calls[0][1] == 5.0


def test_plain_http_is_refused_except_on_loopback():
    with pytest.raises(DeliveryError, match="must be https"):
        sender(ScriptedOpener(), urls=["http://hooks.example.com/x"]).send({"text": "hi"}, plenty)
    opener = ScriptedOpener(200)
    sender(opener, urls=["http://127.0.0.1:8080/x"]).send({"text": "hi"}, plenty)
    assert len(opener.calls) == 1
