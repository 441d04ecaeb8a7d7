"""``make soak``: the local cloud at a steady rate for a set time, its lag and memory sampled, its
invariants checked against the simulator's ground truth (``run``); the pure verdicts (``verdict``), the
sampler (``sampler``, ``procmem``), conservation (``conservation``) and the printout (``report``)."""

from __future__ import annotations

from sensorflow.localcloud.soak.run import SoakOptions, SoakResult, run_soak

__all__ = ["SoakOptions", "SoakResult", "run_soak"]
