"""Declarative fault plans and the injectors that apply them (tests and the local cloud only).

``FaultPlan.from_file(path)`` reads a plan (``plan``); ``BotocoreFaultInjector`` applies it in process on
botocore's ``before-send`` event (``botocore_injector``); the local cloud's fault proxy applies it on the
wire (``emulator.fault_proxy``; the plan, its wire shapes and the refusal live in the emulator beside
it: ``emulator.fault_plan``, ``fault_wire``, ``fault_guard``). Neither runs against a deployed stage
(``guard``). ``virtual_clock`` passes injected latency and botocore's backoff in virtual time for tests.
"""

from __future__ import annotations

from sensorflow.localcloud.faults.guard import FaultInjectionRefusedError, refuse_deployed
from sensorflow.localcloud.faults.plan import (
    KINDS,
    SERVICES,
    Decision,
    FaultDecider,
    FaultPlan,
    FaultPlanError,
    FaultRule,
    injected_total,
)

__all__ = [
    "KINDS",
    "SERVICES",
    "Decision",
    "FaultDecider",
    "FaultInjectionRefusedError",
    "FaultPlan",
    "FaultPlanError",
    "FaultRule",
    "injected_total",
    "refuse_deployed",
]
