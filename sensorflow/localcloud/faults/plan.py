"""The fault plan's public names, where tools import them from (``FaultPlan.from_file``).

The plan itself lives in the emulator (``emulator.fault_plan``), which the loopback fault proxy reads and
which must depend on nothing outside the emulator; this module keeps the stable import path.
"""

from __future__ import annotations

from sensorflow.localcloud.emulator.fault_plan import (
    ANY,
    KINDS,
    MAX_LATENCY_MS,
    PARTIAL_OPERATIONS,
    SERVICES,
    Decision,
    FaultDecider,
    FaultPlan,
    FaultPlanError,
    FaultRule,
    RuleCounter,
    injected_total,
)

__all__ = [
    "ANY",
    "KINDS",
    "MAX_LATENCY_MS",
    "PARTIAL_OPERATIONS",
    "SERVICES",
    "Decision",
    "FaultDecider",
    "FaultPlan",
    "FaultPlanError",
    "FaultRule",
    "RuleCounter",
    "injected_total",
]
