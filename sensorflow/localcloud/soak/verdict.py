"""Pure judgements over the soak's sampled series: does a worker's memory grow without bound, how did the
iterator lag move, and a one-line sparkline of either.

A series is a sequence of ``(seconds since the soak started, value)`` points, as ``sampler`` took them.

Memory: a Python process's RSS climbs while it warms up (imports, caches, the allocator's arenas), then
levels off; a leak keeps climbing. A worker also steps up once when a code path first runs (its first
alarm transition imports the publishing path, whenever in the run that comes). So the verdict compares
the end with the first sample after the warm-up, and takes the *sustained* rate over the second half of
what follows: the median of the rates between consecutive samples, which a leak raises (every interval
grows) and a one-off step does not (one interval of many). The growth is *unbounded* only when both are
over their tolerance: a step that then stays flat is a cache filling or a first import, not a leak; a
small rise at a steady rate is allocator noise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

Series = Sequence[tuple[float, float]]

# Warm-up: the first minute or the first fifth of the run, whichever is longer.
WARMUP_MIN_S = 60.0
WARMUP_FRACTION = 0.2
# Growth after the warm-up that is never a verdict of its own: 16 MiB or 20 % of the warm RSS.
GROWTH_TOLERANCE_MIB = 16.0
GROWTH_TOLERANCE_FRACTION = 0.2
# Sustained rate over the second half above which growth counts as still climbing.
RATE_LIMIT_MIB_PER_MIN = 1.0
# Fewer points than this in the second half: too short to say (verdict None).
MIN_SECOND_HALF_POINTS = 4
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class Growth:
    """One process's (or a total's) memory over the soak, in MiB, and whether it is bounded."""

    start_mib: float
    warm_mib: float
    end_mib: float
    peak_mib: float
    growth_mib: float  # end - warm
    rate_mib_per_min: float | None  # sustained (median) over the second half after the warm-up
    bounded: bool | None  # None: too few samples to say
    why: str


def warmup_s(duration_s: float) -> float:
    return max(WARMUP_MIN_S, WARMUP_FRACTION * duration_s)


def slope_per_min(points: Series) -> float | None:
    """Least-squares slope of ``points`` in value units per minute; None for fewer than two distinct times."""
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var_t = sum((t - mean_t) ** 2 for t, _ in points)
    if var_t == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var_t * 60.0


def sustained_rate_per_min(points: Series) -> float | None:
    """The median of the rates (per minute) between consecutive points: a steady climb's rate, about 0
    for a series that is flat but for one step. None for fewer than two points."""
    ordered = sorted(points)
    rates = sorted((v1 - v0) / (t1 - t0) * 60.0 for (t0, v0), (t1, v1) in pairwise(ordered) if t1 > t0)
    if not rates:
        return None
    middle = len(rates) // 2
    return rates[middle] if len(rates) % 2 else (rates[middle - 1] + rates[middle]) / 2


def memory_growth(series: Series, warmup: float) -> Growth:
    """The memory verdict over ``series`` (seconds, MiB) with a warm-up of ``warmup`` seconds."""
    if not series:
        return Growth(0.0, 0.0, 0.0, 0.0, 0.0, None, None, "no samples")
    points = sorted(series)
    start, end = points[0][1], points[-1][1]
    peak = max(v for _, v in points)
    after = [p for p in points if p[0] >= points[0][0] + warmup]
    if not after:
        return Growth(start, start, end, peak, end - start, None, None, "ended during the warm-up")
    warm = after[0][1]
    middle = (after[0][0] + after[-1][0]) / 2
    second_half = [p for p in after if p[0] >= middle]
    rate = sustained_rate_per_min(second_half)
    growth = end - warm
    tolerance = max(GROWTH_TOLERANCE_MIB, GROWTH_TOLERANCE_FRACTION * warm)
    if len(second_half) < MIN_SECOND_HALF_POINTS or rate is None:
        return Growth(start, warm, end, peak, growth, rate, None, "too few samples after the warm-up")
    if growth > tolerance and rate > RATE_LIMIT_MIB_PER_MIN:
        why = (
            f"grew {growth:.1f} MiB after the warm-up (tolerance {tolerance:.1f}) and still climbing "
            f"{rate:.2f} MiB/min over the second half (limit {RATE_LIMIT_MIB_PER_MIN:g})"
        )
        return Growth(start, warm, end, peak, growth, rate, False, why)
    why = (
        f"{growth:+.1f} MiB after the warm-up (tolerance {tolerance:.1f}), "
        f"{rate:+.2f} MiB/min sustained over the second half (limit {RATE_LIMIT_MIB_PER_MIN:g})"
    )
    return Growth(start, warm, end, peak, growth, rate, True, why)


@dataclass(frozen=True, slots=True)
class LagSummary:
    """Iterator age (ms) over the soak: its peak, its last value while publishing, the slope over the
    second half of the publishing (ms per minute), and the sparkline."""

    peak_ms: float
    p50_ms: float
    last_ms: float
    slope_ms_per_min: float | None
    spark: str


def lag_summary(series: Series) -> LagSummary:
    if not series:
        return LagSummary(0.0, 0.0, 0.0, None, "")
    points = sorted(series)
    values = sorted(v for _, v in points)
    middle = (points[0][0] + points[-1][0]) / 2
    return LagSummary(
        peak_ms=values[-1],
        p50_ms=values[(len(values) - 1) // 2],
        last_ms=points[-1][1],
        slope_ms_per_min=slope_per_min([p for p in points if p[0] >= middle]),
        spark=sparkline([v for _, v in points]),
    )


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """One character per value (the maximum of each bucket when there are more than ``width``), scaled
    from 0 to the series' maximum: a flat zero series is all lowest bars."""
    if not values:
        return ""
    if len(values) > width:
        size = len(values) / width
        values = [
            max(values[int(i * size) : max(int(i * size) + 1, int((i + 1) * size))]) for i in range(width)
        ]
    top = max(values)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in values)
