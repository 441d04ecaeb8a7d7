"""Counters the runtime keeps for ``sensorflow local status`` and the demo's summary."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Invocation:
    """One invocation as the runtime saw it: which records went in and how it ended."""

    function: str
    source: str  # "kinesis", "sns", "events", "schedule"
    shard_id: str | None
    sequence_numbers: tuple[str, ...]
    outcome: str  # "ok", "partial", "error", "timeout", "invalid_response"
    error_type: str | None = None
    duration_ms: float = 0.0
    at: float = field(default_factory=time.time)


# Enough history for tests and the demo's retry count without growing forever.
INVOCATION_HISTORY = 50_000
LATENCY_HISTORY = 500_000


class RuntimeStats:
    """Thread-safe counters keyed by stream, shard, function and mapping."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: Counter[tuple[str, str, str]] = Counter()
        self.gauges: dict[tuple[str, str, str], float] = {}
        self.invocations: deque[Invocation] = deque(maxlen=INVOCATION_HISTORY)
        # Milliseconds from a record's arrival in the stream to the invocation that checkpointed it.
        self.latencies_ms: deque[float] = deque(maxlen=LATENCY_HISTORY)

    def add(self, kind: str, name: str, counter: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[(kind, name, counter)] += amount

    def set(self, kind: str, name: str, gauge: str, value: float) -> None:
        with self._lock:
            self.gauges[(kind, name, gauge)] = value

    def record_invocation(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)
            self.counters[("function", invocation.function, "invocations")] += 1
            if invocation.outcome != "ok":
                self.counters[("function", invocation.function, "failures")] += 1
            if invocation.outcome == "timeout":
                self.counters[("function", invocation.function, "timeouts")] += 1

    def record_latencies(self, values: list[float]) -> None:
        with self._lock:
            self.latencies_ms.extend(values)

    def latency_percentiles(self, *percentiles: float) -> list[float]:
        with self._lock:
            ordered = sorted(self.latencies_ms)
        if not ordered:
            return [0.0 for _ in percentiles]
        return [ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] for p in percentiles]

    def history(self, function: str | None = None) -> list[Invocation]:
        with self._lock:
            return [i for i in self.invocations if function is None or i.function == function]

    def snapshot(self) -> dict[str, Any]:
        """``{kind: {name: {counter: value}}}`` with gauges merged in."""
        with self._lock:
            out: dict[str, dict[str, dict[str, float]]] = {}
            for (kind, name, counter), value in self.counters.items():
                out.setdefault(kind, {}).setdefault(name, {})[counter] = value
            for (kind, name, gauge), reading in self.gauges.items():
                out.setdefault(kind, {}).setdefault(name, {})[gauge] = reading
            return out
