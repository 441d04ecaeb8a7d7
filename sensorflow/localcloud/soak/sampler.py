"""Samples the running local cloud every N seconds: the runtime's own stream statistics (iterator age,
pending records, records delivered: ``LocalRuntime.status()``, the figures ``sensorflow local status``
shows) and the resident memory of the Lambda workers and the moto server (``procmem``).

The sampler only reads; it is told what was published so far by the publisher (``published``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sensorflow.localcloud.soak import procmem

KIB_PER_MIB = 1024.0


class RuntimeStatus(Protocol):
    def status(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Sample:
    t_s: float  # seconds since the soak started publishing
    phase: str  # "publishing" or "draining"
    published: int
    delivered: int  # records the event source mappings delivered to their functions
    pending: int  # records read from the stream and not yet checkpointed
    iterator_age_ms: float  # the oldest such record's age, over every stream
    workers: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid -> (function, RSS MiB)
    moto_mib: float | None = None
    self_mib: float | None = None

    @property
    def workers_mib(self) -> float:
        return sum(mib for _, mib in self.workers.values())

    def row(self) -> dict[str, Any]:
        """The flat row of the CSV."""
        return {
            "t_s": round(self.t_s, 1),
            "phase": self.phase,
            "published": self.published,
            "delivered": self.delivered,
            "pending": self.pending,
            "iterator_age_ms": round(self.iterator_age_ms, 1),
            "workers": len(self.workers),
            "workers_rss_mib": round(self.workers_mib, 1),
            "moto_rss_mib": None if self.moto_mib is None else round(self.moto_mib, 1),
            "soak_rss_mib": None if self.self_mib is None else round(self.self_mib, 1),
        }


def take_sample(
    runtime: RuntimeStatus,
    t_s: float,
    phase: str,
    published: int,
    processes: Callable[[], list[procmem.Process]] = procmem.local_cloud_processes,
    self_rss_kib: Callable[[], int | None] = lambda: procmem.rss_kib(os.getpid()),
) -> Sample:
    status = runtime.status()
    streams = status.get("streams", {}).values()
    mappings = status.get("mappings", {}).values()
    found = processes()
    moto = [p.rss_kib for p in found if p.role == "moto"]
    own = self_rss_kib()
    return Sample(
        t_s=t_s,
        phase=phase,
        published=published,
        delivered=sum(int(m.get("records_delivered", 0)) for m in mappings),
        pending=sum(int(s.get("pending", 0)) for s in streams),
        iterator_age_ms=max((float(s.get("iterator_age_ms", 0.0)) for s in streams), default=0.0),
        workers={p.pid: (p.function or "?", p.rss_kib / KIB_PER_MIB) for p in found if p.role == "worker"},
        moto_mib=sum(moto) / KIB_PER_MIB if moto else None,
        self_mib=None if own is None else own / KIB_PER_MIB,
    )


class Sampler:
    """A daemon thread taking a ``Sample`` every ``every_s`` seconds (and one at ``start``/``stop``)."""

    def __init__(
        self,
        runtime: RuntimeStatus,
        every_s: float,
        published: Callable[[], int],
        *,
        clock: Callable[[], float] = time.monotonic,
        take: Callable[..., Sample] = take_sample,
    ) -> None:
        self.runtime = runtime
        self.every_s = every_s
        self.published = published
        self.clock = clock
        self.take = take
        self.phase = "publishing"
        self.samples: list[Sample] = []
        self._t0 = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def sample(self) -> Sample:
        taken = self.take(self.runtime, self.clock() - self._t0, self.phase, self.published())
        with self._lock:
            self.samples.append(taken)
        return taken

    def start(self) -> None:
        self._t0 = self.clock()
        self.sample()
        self._thread.start()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join(max(5.0, self.every_s))
        self.sample()
        with self._lock:
            return list(self.samples)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()
