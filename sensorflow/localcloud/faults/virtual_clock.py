"""A virtual clock for fault tests: injected latency and botocore's retry backoff pass in virtual time.

``now()`` is the real monotonic clock plus every second ``sleep`` skipped, so a fake Lambda context reading
it (``DeadlineContext``) sees the time a slow dependency or a backoff would have taken, while the test
sleeps only ``scale`` of it. With ``real=False`` it counts only the sleeps: a deadline then depends on
the injected latency and backoff alone, not on how loaded the machine running the test is. Threads
share one clock: concurrent waits add up, which only makes deadlines tighter than on AWS.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any


class VirtualClock:
    def __init__(self, scale: float = 0.0, real: bool = True) -> None:
        if not 0 <= scale <= 1:
            raise ValueError(f"scale {scale} must be between 0 and 1")
        self.scale = scale
        self.real = real
        self._skipped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return (time.monotonic() if self.real else 0.0) + self._skipped

    @property
    def skipped_s(self) -> float:
        """Seconds of sleep that passed in virtual time only."""
        return self._skipped

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        real = seconds * self.scale
        with self._lock:
            self._skipped += seconds - real
        if real:
            time.sleep(real)


class DeadlineContext:
    """The parts of a Lambda context the handler uses, with a deadline ``timeout_ms`` after creation on
    ``clock``; ``overrun_ms()`` says by how much the invocation went past it (0: it returned in time)."""

    function_name = "sensorflow-test-ingest"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sensorflow-test-ingest"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-0000-0000-00000000fa17"
    log_group_name = "/aws/lambda/sensorflow-test-ingest"
    log_stream_name = "2026/12/01/[$LATEST]faults"

    def __init__(self, clock: VirtualClock, timeout_ms: int) -> None:
        self.clock = clock
        self.timeout_ms = timeout_ms
        self.deadline = clock.now() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.clock.now()) * 1000)

    def margin_ms(self) -> int:
        """Time left now (negative: past the deadline)."""
        return self.get_remaining_time_in_millis()


class _TimeWithVirtualSleep:
    def __init__(self, clock: VirtualClock) -> None:
        self.sleep = clock.sleep

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@contextlib.contextmanager
def virtual_botocore_backoff(clock: VirtualClock) -> Iterator[VirtualClock]:
    """botocore's retry backoff (``botocore.endpoint`` sleeps the delay its retry handler returns) sleeps
    on ``clock``: the retry logic itself, its attempts and quota, run unchanged."""
    import botocore.endpoint

    original = botocore.endpoint.time
    botocore.endpoint.time = _TimeWithVirtualSleep(clock)  # type: ignore[assignment]
    try:
        yield clock
    finally:
        botocore.endpoint.time = original
