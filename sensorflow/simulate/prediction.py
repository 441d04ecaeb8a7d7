"""What an alarm will announce over the readings an alarm scenario shapes: the simulator's ground truth.

It exists apart from scenario planning (``planning``) because it is a model of the rules, not of the
fleet: ``Prediction`` turns each shaped reading (its timestamp, canonical value and the rank its phase
aims at) into the transitions the alarm state machine should emit, which the reading's truth carries as
``expected_transitions``. ``RANK_OF_PHASE`` is the rank each scenario phase aims at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sensorflow.simulate import scenarios as sc
from sensorflow.simulate.truth import CLEARED as _CLEARED
from sensorflow.simulate.truth import ESCALATED as _ESCALATED
from sensorflow.simulate.truth import RAISED as _RAISED
from sensorflow.simulate.truth import SensorRule

CLEAR, HOLD, WARNING, CRITICAL = 0, 1, 2, 3  # how a reading stands against its rule (as in core.rules)
RANK_OF_PHASE = {"warning": WARNING, "critical": CRITICAL, "peak": CRITICAL, "recovery": CLEAR}


@dataclass(slots=True)
class Prediction:
    """The announced transitions of one alarm over the readings an alarm scenario shapes.

    A deliberately small model of the documented rule semantics (for_seconds or M-of-N on device time,
    the clear band, rate of change), fed only with the scenario's own readings: the scenarios start on a
    quiet alarm (cooldown) and are shaped so nothing else matters. It does not use
    ``sensorflow.core.alarms``; the alarm-scenario integration test holds the real state machine to it.
    """

    rule: SensorRule
    alarm_id: str
    previous: tuple[int, float] | None  # the sensor's last reading before the scenario (rate of change)
    raised: bool = False
    severity: str | None = None
    pending_ms: int | None = None
    critical_ms: int | None = None
    ranks: list[int] = field(default_factory=list)
    latched: bool = False  # a latch rule's alarm back to normal: still told, no clear until acknowledged

    def observe(self, timestamp_ms: int, value: float, rank: int) -> list[dict[str, Any]]:
        rule = self.rule
        if rank == CLEAR and not rule.inside_clear_band(value):
            rank = HOLD
        if rule.rate_max_per_min is not None and self.previous is not None:
            elapsed = timestamp_ms - self.previous[0]
            if elapsed > 0:
                speed = abs(value - self.previous[1]) * 60_000 / elapsed
                if speed > rule.rate_max_per_min and rank < WARNING:
                    rank = WARNING  # the default rules' rate crossings are warnings
                elif rank == CLEAR and speed > (rule.rate_clear_per_min or 0.0):
                    rank = HOLD
        self.previous = (timestamp_ms, value)
        self.ranks.append(rank)
        if rule.m is not None and rule.n is not None:
            window = self.ranks[-rule.n :]
            critical = sum(r >= CRITICAL for r in window) >= rule.m
            holds = sum(r >= (HOLD if self.raised else WARNING) for r in window) >= rule.m
        else:
            self.pending_ms = (self.pending_ms or timestamp_ms) if rank >= WARNING else None
            self.critical_ms = (self.critical_ms or timestamp_ms) if rank >= CRITICAL else None
            critical = self.critical_ms is not None and timestamp_ms - self.critical_ms >= rule.for_ms
            if self.raised:
                holds = rank >= HOLD
            else:
                holds = self.pending_ms is not None and timestamp_ms - self.pending_ms >= rule.for_ms
        if not self.raised and holds and self.latched:
            # the latched episode is still open: back to active, escalating only to a worse severity
            self.raised, self.latched = True, False
            if critical and self.severity != sc.LEVEL_CRITICAL:
                self.severity = sc.LEVEL_CRITICAL
                return [self._transition(_ESCALATED, self.severity)]
            return []
        if not self.raised and holds:
            self.raised, self.severity = True, sc.LEVEL_CRITICAL if critical else sc.LEVEL_WARNING
            return [self._transition(_RAISED, self.severity)]
        if self.raised and holds and critical and self.severity != sc.LEVEL_CRITICAL:
            self.severity = sc.LEVEL_CRITICAL
            return [self._transition(_ESCALATED, self.severity)]
        if self.raised and not holds and rule.latch:
            self.raised, self.latched = False, True  # LATCHED: its "Alarm Cleared" comes with the ack
            return []
        if self.raised and not holds:
            severity, self.raised, self.severity = self.severity, False, None
            return [self._transition(_CLEARED, severity or sc.LEVEL_WARNING)]
        return []

    def _transition(self, name: str, severity: str) -> dict[str, Any]:
        return {
            "transition": name,
            "alarm_id": self.alarm_id,
            "rule_id": self.rule.rule_id,
            "severity": severity,
        }
