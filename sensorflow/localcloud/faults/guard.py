"""Fault injection never runs against a deployed stage: the refusal both injectors apply
(``emulator.fault_guard``, kept in the emulator with the fault proxy that uses it)."""

from __future__ import annotations

from sensorflow.localcloud.emulator.fault_guard import (
    LOOPBACK_HOSTS,
    FaultInjectionRefusedError,
    is_loopback,
    refuse_deployed,
)

__all__ = ["LOOPBACK_HOSTS", "FaultInjectionRefusedError", "is_loopback", "refuse_deployed"]
