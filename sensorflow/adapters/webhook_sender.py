"""POST a JSON message to a webhook (Slack-compatible incoming webhook) with ``urllib.request``.

The URL is a secret (a Slack webhook URL is its own credential), so it comes from a callable backed by
SSM and never appears in a log line, an exception message or an X-Ray trace:

- errors are raised ``from None`` and name only the status or the error class;
- the X-Ray SDK's ``httplib`` patch (applied by Powertools Tracer) records each request's URL, so the
  webhook host is added to its ignore list before the first request.

Retries: 429, 5xx, timeouts and network errors, with capped exponential backoff and full jitter (or
the server's ``Retry-After``, capped), while the invocation has time left. 401/403/404/410 re-read the
secret once (the URL may have been rotated) before giving up; other 4xx are permanent.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sensorflow.adapters.logs import logger
from sensorflow.core.backoff import jittered_delay
from sensorflow.core.errors import DeliveryError
from sensorflow.core.ports import RemainingTime

DEFAULT_TIMEOUT_S = 5.0
MAX_ATTEMPTS = 5
BASE_DELAY_S = 0.2
MAX_DELAY_S = 5.0
MAX_RETRY_AFTER_S = 10.0
# Never start an attempt that could not finish before the invocation's deadline, with room to record
# the outcome in the ledger.
TIME_FLOOR_MS = 1_500
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REFRESH_STATUS = frozenset({401, 403, 404, 410})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# (url, body, headers, timeout) -> HTTP status; raises urllib.error.HTTPError for >= 400.
Opener = Callable[[str, bytes, dict[str, str], float], int]


def urllib_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:  # scheme checked in _checked
        response.read()
        return int(response.status)


class WebhookSender:
    def __init__(
        self,
        url: Callable[[bool], str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
        opener: Opener = urllib_post,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``url(refresh)`` returns the webhook URL, re-reading its source when ``refresh`` is true."""
        self._url = url
        self._timeout_s = timeout_s
        self._max_attempts = max_attempts
        self._opener = opener
        self._sleep = sleep
        self._untraced_hosts: set[str] = set()

    def send(self, message: dict[str, Any], remaining_ms: RemainingTime) -> None:
        body = json.dumps(message, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "sensorflow-notify"}
        url = self._checked(self._url(False))
        refreshed = False
        attempts = 0
        last_error = "no attempt made"
        for attempt in range(self._max_attempts):
            delay = 0.0
            if attempt:
                delay = jittered_delay(attempt, BASE_DELAY_S, MAX_DELAY_S)
            timeout = min(self._timeout_s, (remaining_ms() - TIME_FLOOR_MS) / 1000 - delay)
            if timeout <= 0:
                break
            if delay:
                self._sleep(delay)
            attempts += 1
            try:
                self._opener(url, body, headers, timeout)
                return
            except urllib.error.HTTPError as exc:
                status = exc.code
                retry_after = _retry_after(exc)
                exc.close()
            except OSError as exc:  # URLError, timeouts, refused and reset connections
                last_error = type(exc).__name__
                logger.warning("webhook attempt failed", attempt=attempt + 1, error=last_error)
                continue
            last_error = f"HTTP {status}"
            logger.warning("webhook attempt failed", attempt=attempt + 1, status=status)
            if status in REFRESH_STATUS and not refreshed:
                refreshed = True
                url = self._checked(self._url(True))
                continue
            if status not in RETRYABLE_STATUS:
                raise DeliveryError(f"webhook rejected the message: HTTP {status}") from None
            if retry_after is not None and retry_after > 0:
                wait = min(retry_after, MAX_RETRY_AFTER_S)
                if (remaining_ms() - TIME_FLOOR_MS) / 1000 < wait:
                    break
                self._sleep(wait)
        raise DeliveryError(f"webhook delivery failed after {attempts} attempt(s): {last_error}") from None

    def _checked(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme != "https" and not (parts.scheme == "http" and host in LOOPBACK_HOSTS):
            # Neither the URL nor its host goes into the message: the parameter name says where to look.
            raise DeliveryError("webhook URL must be https (plain http only to loopback)") from None
        if host not in self._untraced_hosts:
            _exclude_from_xray(host)
            self._untraced_hosts.add(host)
        return url


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    raw = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return float(raw) if raw else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _exclude_from_xray(host: str) -> None:
    try:
        from aws_xray_sdk.ext.httplib import add_ignored
    except ImportError:  # tracer extra not installed: nothing records the URL
        return
    add_ignored(hostname=host)
