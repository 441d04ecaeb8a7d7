"""POST a JSON message to a webhook (Slack-compatible incoming webhook), retrying what is worth retrying.

Each attempt is one guarded request (``sensorflow.adapters.webhook_http``): https only (plain http to
loopback on the local stage alone), the host's addresses vetted as public and connected to as vetted,
one deadline for the whole attempt, at most ``MAX_RESPONSE_BYTES`` read, no redirect followed.

The URL is a secret (a Slack webhook URL is its own credential), so it comes from a callable backed by
SSM and never appears in a log line, an exception message or an X-Ray trace:

- errors name the SSM parameter (``parameter``), the status or the error class, never the URL; they are
  raised outside any ``except`` block or ``from None``, so no exception that quotes the URL (such as
  ``http.client.InvalidURL``) rides along as a cause or context;
- the X-Ray SDK's ``httplib`` patch (applied by Powertools Tracer) records each request's URL, so the
  webhook host is added to its ignore list before the first request.

Outcomes: 2xx is delivered. A 3xx is a permanent failure naming the status (a redirect is never
followed: it could lead anywhere, over anything). A malformed URL is re-read once from SSM (it may just
have been fixed) and then fails; a refused scheme or address fails at once, before any connection.
Retries: 429, 5xx, timeouts and network errors, at most ``max_attempts`` attempts, while the invocation
has time left. Between two attempts the sender waits either capped exponential backoff with full jitter
or, when the server sent ``Retry-After`` (seconds or an HTTP date, RFC 9110 section 10.2.3), exactly
that long. It never waits after its last attempt. ``Retry-After`` is honoured up to ``retry_after_max_s``
(``WEBHOOK_RETRY_AFTER_MAX_SECONDS``, default 10 s) and never past the invocation's remaining time: a
server that asks for longer is not retried early (that would only be refused again) but logged with the
delay it asked for and reported as a failed delivery, which Lambda's asynchronous retry takes over
minutes later. 401/403/404/410 re-read the secret once (the URL may have been rotated) before giving up;
other 4xx are permanent.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Protocol

from sensorflow.adapters.logs import logger
from sensorflow.adapters.webhook_http import (
    MAX_RESPONSE_BYTES,
    PinnedTransport,
    WebhookResponse,
    WebhookTarget,
    WebhookUrlError,
    parse_target,
)
from sensorflow.core.backoff import jittered_delay
from sensorflow.core.errors import DeliveryError
from sensorflow.core.ports import RemainingTime

__all__ = ["MAX_RESPONSE_BYTES", "Transport", "WebhookSender"]

DEFAULT_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 5
BASE_DELAY_S = 0.2
MAX_DELAY_S = 5.0
# The longest Retry-After honoured by default (WEBHOOK_RETRY_AFTER_MAX_SECONDS): a third of the function's
# 30 s timeout, so a throttled webhook still gets a retry within the invocation.
MAX_RETRY_AFTER_S = 10.0
# Never start an attempt that could not finish before the invocation's deadline, with room to record
# the outcome in the ledger.
TIME_FLOOR_MS = 1_500
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REFRESH_STATUS = frozenset({401, 403, 404, 410})
# What error messages call a URL whose parameter the caller did not name (tests, one-off senders).
UNNAMED_PARAMETER = "(unnamed)"


class Transport(Protocol):
    def post(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str], timeout_s: float
    ) -> WebhookResponse:
        """One request, all of it within ``timeout_s``. Raises ``DeliveryError`` for a refused target,
        ``OSError`` or ``http.client.HTTPException`` for a network fault (retried)."""
        ...


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed attempt: the HTTP status (None for a network error), what to log, and Retry-After."""

    status: int | None
    error: str
    retry_after_s: float | None = None


class WebhookSender:
    def __init__(
        self,
        url: Callable[[bool], str],
        parameter: str = UNNAMED_PARAMETER,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        allow_loopback_http: bool = False,
        transport: Transport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_after_max_s: float = MAX_RETRY_AFTER_S,
        uniform: Callable[[float, float], float] = random.uniform,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``url(refresh)`` returns the webhook URL, re-reading its source when ``refresh`` is true;
        ``parameter`` names that source (the SSM parameter) in error messages.

        ``allow_loopback_http`` is the stage's setting (``WEBHOOK_ALLOW_LOOPBACK_HTTP``, the local stage
        only): plain http, to loopback only. ``uniform`` draws the backoff jitter and ``wall_clock``
        (epoch seconds) reads an HTTP-date ``Retry-After``; tests pass fixed ones."""
        self._url = url
        self._parameter = parameter
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._allow_loopback_http = allow_loopback_http
        self._transport = transport or PinnedTransport(allow_loopback=allow_loopback_http)
        self._sleep = sleep
        self._retry_after_max_s = retry_after_max_s
        self._uniform = uniform
        self._wall_clock = wall_clock
        self._untraced_hosts: set[str] = set()

    def send(self, message: dict[str, Any], remaining_ms: RemainingTime) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "sensorflow-notify"}
        target, refreshed = self._target()
        attempts = 0
        last_error = "no attempt made"
        delay = 0.0
        while attempts < self._max_attempts:
            timeout = min(self._timeout_s, _budget_s(remaining_ms) - delay)
            if timeout <= 0:
                break
            if delay:
                self._sleep(delay)
            attempts += 1
            failure = self._attempt(target, body, headers, timeout)
            if failure is None:
                return
            last_error = failure.error
            logger.warning(
                "webhook attempt failed", attempt=attempts, status=failure.status, error=failure.error
            )
            if failure.status in REFRESH_STATUS and not refreshed:
                refreshed = True
                target = self._checked(self._url(True))
            elif failure.status is not None and 300 <= failure.status < 400:
                raise DeliveryError(
                    f"webhook answered HTTP {failure.status}: redirects are not followed"
                ) from None
            elif failure.status is not None and failure.status not in RETRYABLE_STATUS:
                raise DeliveryError(f"webhook rejected the message: HTTP {failure.status}") from None
            if attempts >= self._max_attempts:
                break  # nothing follows the last attempt, so nothing to wait for
            delay = self._delay_before_retry(attempts, failure, remaining_ms)
        raise DeliveryError(f"webhook delivery failed after {attempts} attempt(s): {last_error}") from None

    def _target(self) -> tuple[WebhookTarget, bool]:
        """The checked URL, and whether it was re-read: a malformed value is read again once from its
        source (it may have been fixed since it was cached) before the delivery fails."""
        try:
            return self._checked(self._url(False)), False
        except WebhookUrlError:
            pass
        return self._checked(self._url(True)), True

    def _attempt(
        self, target: WebhookTarget, body: bytes, headers: dict[str, str], timeout: float
    ) -> _Failure | None:
        try:
            response = self._transport.post(target, body, headers, timeout)
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refused and reset connections
            # The class only: some messages quote what was sent or received.
            return _Failure(None, type(exc).__name__)
        if 200 <= response.status < 300:
            return None
        return _Failure(response.status, f"HTTP {response.status}", self._retry_after(response.retry_after))

    def _delay_before_retry(self, retry: int, failure: _Failure, remaining_ms: RemainingTime) -> float:
        """Seconds to wait before retry number ``retry``: the server's Retry-After when it sent one we
        can honour, our own backoff when it sent none; a Retry-After past the cap or past the time this
        invocation has left ends the delivery instead of being shortened (the server would refuse an
        early retry again)."""
        asked = failure.retry_after_s
        if asked is None or asked <= 0:
            return jittered_delay(retry, BASE_DELAY_S, MAX_DELAY_S, self._uniform)
        time_left_s = _budget_s(remaining_ms)
        if asked <= self._retry_after_max_s and asked < time_left_s:
            return asked
        limit_s = max(0.0, min(self._retry_after_max_s, time_left_s))
        logger.warning(
            "webhook Retry-After longer than this invocation may wait: delivery left to Lambda's retry",
            status=failure.status,
            asked_s=asked,
            used_s=0.0,
            cap_s=self._retry_after_max_s,
            time_left_s=round(time_left_s, 3),
        )
        raise DeliveryError(
            f"webhook delivery deferred: {failure.error} asked to retry after {asked:g} s, "
            f"longer than this invocation may wait ({limit_s:g} s)"
        ) from None

    def _retry_after(self, header: str | None) -> float | None:
        """Retry-After in seconds: delay-seconds, or an HTTP date relative to ``wall_clock``."""
        raw = (header or "").strip()
        if not raw:
            return None
        try:
            return float(raw)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None  # neither form: fall back to our own backoff
        if when.tzinfo is None:  # "-0000": still GMT, as every HTTP date is
            when = when.replace(tzinfo=UTC)
        return when.timestamp() - self._wall_clock()

    def _checked(self, url: str) -> WebhookTarget:
        target = parse_target(url, self._parameter, self._allow_loopback_http)
        if target.host not in self._untraced_hosts:
            _exclude_from_xray(target.host)
            self._untraced_hosts.add(target.host)
        return target


def _budget_s(remaining_ms: RemainingTime) -> float:
    """Seconds this invocation can still spend on the webhook (its remaining time minus the floor)."""
    return (remaining_ms() - TIME_FLOOR_MS) / 1000


def _exclude_from_xray(host: str) -> None:
    try:
        from aws_xray_sdk.ext.httplib import add_ignored
    except ImportError:  # tracer extra not installed: nothing records the URL
        return
    add_ignored(hostname=host)
