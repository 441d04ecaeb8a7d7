"""The simulation: a fleet's readings over device time, with injected scenarios and exact ground truth.

Device time runs from ``start_ms`` for ``duration_s``; each device reports every ``interval_s`` (one
reading per sensor type, each with its own ``seq``) from a random phase inside its first interval.
Records come out in device-time order across the fleet, so a publisher sends them the way a real
fleet would, just faster.

Reproducibility: every device draws from its own ``random.Random(f"{seed}:{device_id}")`` and the
merge order is fixed, so the same ``SimConfig`` (seed *and* ``start_ms``) gives the same bytes and
truth on every run and machine.

The pieces, lowest first: ``sim_types`` (``SimConfig``, ``SimRecord``, the run's shared state),
``prediction`` (the transitions an alarm scenario causes), ``planning`` (which scenario a device runs
when, and the forced ones), ``device_sim`` (one device's records, tick by tick); this module runs them.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

from sensorflow.simulate.device_sim import DeviceSim
from sensorflow.simulate.planning import force
from sensorflow.simulate.sim_types import (
    Shared,
    SimConfig,
    SimRecord,
)


def generate(config: SimConfig, now_ms: int | None = None) -> Iterator[SimRecord]:
    """The simulation's records in publishing order. ``config`` is resolved first.

    Validation and the forced-scenario plan happen on the call (a ``SimulationError`` raises here);
    records are produced lazily as the iterator is consumed.
    """
    cfg = config.resolved(now_ms)
    assert cfg.fleet is not None and cfg.start_ms is not None and cfg.seed is not None
    shared = Shared(cfg)
    sims = [DeviceSim(spec, cfg, shared, shared.firmware(i)) for i, spec in enumerate(cfg.fleet)]
    force([sim.plan for sim in sims], cfg)
    return _run(sims, cfg.end_ms)


def _run(sims: list[DeviceSim], end_ms: int) -> Iterator[SimRecord]:
    heap = [(sim.next_tick_ms, index) for index, sim in enumerate(sims) if sim.next_tick_ms < end_ms]
    heapq.heapify(heap)
    while heap:
        tick_ms, index = heapq.heappop(heap)
        sim = sims[index]
        yield from sim.tick(tick_ms)
        if sim.next_tick_ms < end_ms:
            heapq.heappush(heap, (sim.next_tick_ms, index))
    for sim in sims:
        yield from sim.flush()
