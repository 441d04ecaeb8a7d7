"""Resend only the failed entries of a batch call, with capped exponential backoff and full jitter,
for as long as the invocation's remaining time allows."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from sensorflow.core.backoff import jittered_delay
from sensorflow.core.ports import RemainingTime

T = TypeVar("T")

BASE_DELAY_S = 0.05
MAX_DELAY_S = 2.0
MAX_ATTEMPTS = 6
# Never start a resend with less than this left: the caller still has writes to do.
RESEND_FLOOR_MS = 2_000


def resend_failed[T](
    entries: Sequence[T],
    send: Callable[[Sequence[T]], tuple[list[T], list[T]]],
    remaining_ms: RemainingTime,
    max_attempts: int = MAX_ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[T]:
    """Call ``send(batch) -> (retryable_failures, permanent_failures)`` until nothing retryable is left.

    Returns every entry that was not delivered: permanent failures, and retryable ones left when the
    attempts or the time ran out.
    """
    pending = list(entries)
    given_up: list[T] = []
    for attempt in range(max_attempts):
        if attempt:
            delay = jittered_delay(attempt, BASE_DELAY_S, MAX_DELAY_S)
            if remaining_ms() - delay * 1000 < RESEND_FLOOR_MS:
                break
            sleep(delay)
        retryable, permanent = send(pending)
        given_up.extend(permanent)
        pending = retryable
        if not pending:
            break
    return given_up + pending
