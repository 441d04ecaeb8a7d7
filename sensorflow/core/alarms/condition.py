"""The condition layer under the state machine: debounce (duration or M-of-N) and hysteresis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sensorflow.core.alarms.state import Alarm, Sample
from sensorflow.core.rules import CLEAR, CRITICAL, HOLD, WARNING, AlarmRule

# Window codes for M-of-N, one character per reading: its assessment rank.
_CODE = {CLEAR: "0", HOLD: "1", WARNING: "w", CRITICAL: "c"}
_RANK_OF_CODE = {v: k for k, v in _CODE.items()}


@dataclass(frozen=True, slots=True)
class Condition:
    raised: bool
    severity: str | None
    pending: bool
    pending_since_ms: int | None
    critical_since_ms: int | None
    window: str
    cause: Any  # the Assessment that drives bound/threshold


def assess_condition(alarm: Alarm, rule: AlarmRule, s: Sample) -> Condition:
    a = rule.assess(s.value, s.rate_per_minute)
    pending_since = (
        (alarm.pending_since_ms if alarm.pending_since_ms is not None else s.timestamp_ms)
        if a.rank >= WARNING
        else None
    )
    critical_since = (
        (alarm.critical_since_ms if alarm.critical_since_ms is not None else s.timestamp_ms)
        if a.rank >= CRITICAL
        else None
    )
    if rule.m_of_n is not None:
        m, n = rule.m_of_n.m, rule.m_of_n.n
        window = (alarm.window + _CODE[a.rank])[-n:]
        ranks = [_RANK_OF_CODE[c] for c in window]
        crossing = sum(r >= WARNING for r in ranks)
        critical = sum(r >= CRITICAL for r in ranks) >= m
        if alarm.raised:
            raised = sum(r >= HOLD for r in ranks) >= m  # clears once fewer than M are outside the clear band
            severity = "critical" if critical or alarm.severity == "critical" else alarm.severity
            pending = False
        else:
            raised = crossing >= m
            severity = ("critical" if critical else "warning") if raised else None
            pending = not raised and crossing > 0
        if not raised and crossing == 0:
            window = ""  # nothing in it can raise: keep NORMAL alarms unwritten
        return Condition(raised, severity if raised else None, pending, None, None, window, a)
    hold_ms = rule.for_seconds * 1000
    held = pending_since is not None and s.timestamp_ms - pending_since >= hold_ms
    critical_held = critical_since is not None and s.timestamp_ms - critical_since >= hold_ms
    if alarm.raised:
        raised = a.rank >= HOLD
        severity = "critical" if critical_held or alarm.severity == "critical" else alarm.severity
        pending = False
    else:
        raised = held
        severity = ("critical" if critical_held else "warning") if raised else None
        pending = not raised and pending_since is not None
    if not raised and not pending:
        pending_since = critical_since = None
    return Condition(raised, severity if raised else None, pending, pending_since, critical_since, "", a)
