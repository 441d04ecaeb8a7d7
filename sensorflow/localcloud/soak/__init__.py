"""``make soak``: the local cloud at a steady rate for a set time, its lag and memory sampled, its
invariants checked against the simulator's ground truth (``run``). What it publishes (``publisher``), the
sampler (``sampler``, ``procmem``), the pure verdicts (``verdict``), conservation (``conservation``),
the figures and exit checks (``figures``) and the printout (``printout``)."""

from __future__ import annotations

from sensorflow.localcloud.soak.options import SoakOptions, SoakResult
from sensorflow.localcloud.soak.run import run_soak

__all__ = ["SoakOptions", "SoakResult", "run_soak"]
