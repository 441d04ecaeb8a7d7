"""A per-container TTL cache for device registry lookups (negative results cached too, for less time)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sensorflow.core.ports import DeviceRegistry
from sensorflow.core.records import Device


class CachingRegistry:
    """Wraps a ``DeviceRegistry``; warm Lambda invocations reuse lookups for ``ttl_s`` seconds."""

    def __init__(
        self,
        registry: DeviceRegistry,
        ttl_s: float = 300.0,
        negative_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
    ) -> None:
        self._registry = registry
        self._ttl = ttl_s
        self._negative_ttl = negative_ttl_s
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[float, Device | None]] = {}

    def get(self, device_id: str) -> Device | None:
        now = self._clock()
        hit = self._entries.get(device_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        device = self._registry.get(device_id)  # TransientError propagates and caches nothing
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[device_id] = (now + (self._ttl if device else self._negative_ttl), device)
        return device
