"""The soak's figures from its samples (lag over the publishing, memory per worker with its verdict)
and the checks of its exit code."""

from __future__ import annotations

import math
from typing import Any

from sensorflow.localcloud.soak.sampler import Sample
from sensorflow.localcloud.soak.verdict import Growth, lag_summary, memory_growth, warmup_s


def figures(samples: list[Sample], duration_s: float) -> dict[str, Any]:
    """Lag over the publishing, and memory per worker and in total, with their verdicts."""
    publishing = [s for s in samples if s.phase == "publishing"]
    lag = lag_summary([(s.t_s, s.iterator_age_ms) for s in publishing])
    warmup = warmup_s(duration_s)
    per_worker: dict[str, dict[str, Any]] = {}
    for pid in sorted({pid for s in samples for pid in s.workers}):
        series = [(s.t_s, s.workers[pid][1]) for s in samples if pid in s.workers]
        function = next(s.workers[pid][0] for s in samples if pid in s.workers)
        per_worker[f"{function}[{pid}]"] = _growth_dict(memory_growth(series, warmup))
    total = memory_growth([(s.t_s, s.workers_mib) for s in samples if s.workers], warmup)
    moto = memory_growth([(s.t_s, s.moto_mib) for s in samples if s.moto_mib is not None], warmup)
    return {
        "lag": {
            "peak_ms": round(lag.peak_ms, 1),
            "p50_ms": round(lag.p50_ms, 1),
            "last_ms": round(lag.last_ms, 1),
            "slope_ms_per_min": None if lag.slope_ms_per_min is None else round(lag.slope_ms_per_min, 1),
            "spark": lag.spark,
        },
        "memory": {
            "warmup_s": warmup,
            "workers": per_worker,
            "workers_total": _growth_dict(total),
            # moto keeps every object the run wrote: it grows by design and is not judged.
            "moto": _growth_dict(moto) | {"bounded": None},
        },
    }


def _growth_dict(growth: Growth) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Growth.__slots__:
        value = getattr(growth, name)
        out[name] = round(value, 2) if isinstance(value, float) and math.isfinite(value) else value
    return out


def memory_bounded(workers: dict[str, dict[str, Any]]) -> bool | None:
    """False if any worker's memory grows without bound; True if at least one was judged and none does;
    None if none lived long enough to judge."""
    verdicts = [w["bounded"] for w in workers.values() if w["bounded"] is not None]
    if not verdicts:
        return None
    return all(verdicts)


def checks(summary: dict[str, Any]) -> dict[str, bool | None]:
    """The exit code's checks (``None``: could not be made)."""
    kept = summary["conservation"]
    return {
        "drained": bool(summary["drained"] and summary["settled"]),
        "published": summary["publish_failed"] == 0,
        "conservation": bool(kept["ok"]),
        "stored_once": kept["duplicates"] == 0,
        "transitions": summary["truth"]["ok"],
        "notifications": bool(summary["notifications"]["notifications_match"]),
        "memory_bounded": memory_bounded(summary["memory"]["workers"]),
    }
