"""A small time-series chart as inline SVG, drawn on the server: one polyline per series, the value range
on the left and the time range below. Only numbers the code computes and escaped labels go into it."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sensorflow.cli.console.html import esc
from sensorflow.core.clock import iso

WIDTH, HEIGHT = 640, 160
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 56, 8, 8, 20


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def svg_chart(points: Sequence[tuple[int, float]], label: str, unit: str = "") -> str:
    """The chart of ``(epoch ms, value)`` points (non-finite values are left out); an empty note when none."""
    pts = sorted((t, v) for t, v in points if math.isfinite(v))
    if not pts:
        return f'<p class="empty">no readings of {esc(label)} in this window</p>'
    t0, t1 = pts[0][0], pts[-1][0]
    lo, hi = min(v for _, v in pts), max(v for _, v in pts)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    span_t = max(t1 - t0, 1)
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: int) -> float:
        return PAD_LEFT + (t - t0) / span_t * plot_w if t1 > t0 else PAD_LEFT + plot_w / 2

    def y(v: float) -> float:
        return PAD_TOP + (hi - v) / (hi - lo) * plot_h

    line = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
    dots = "".join(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2"/>' for t, v in pts[-200:])
    bottom = HEIGHT - PAD_BOTTOM
    return (
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'aria-label="{esc(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(label)} ({len(pts)} readings)</title>"
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="#fafafa" stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{line}"/>'
        f'<g fill="#1f6feb">{dots}</g>'
        f'<g font-size="10" fill="#444" font-family="sans-serif">'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 10}" text-anchor="end">{esc(_fmt(hi))} {esc(unit)}</text>'
        f'<text x="{PAD_LEFT - 4}" y="{bottom}" text-anchor="end">{esc(_fmt(lo))} {esc(unit)}</text>'
        f'<text x="{PAD_LEFT}" y="{HEIGHT - 4}">{esc(iso(t0))}</text>'
        f'<text x="{WIDTH - PAD_RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{esc(iso(t1))}</text>'
        "</g></svg>"
    )
