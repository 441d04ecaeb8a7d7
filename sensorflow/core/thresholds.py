"""Threshold levels of a rule: warning and critical min/max, validated, with device overrides.

``sensorflow.core.rules`` builds the alarm rules (duration, hysteresis, rate, staleness) on top of
these checks; a device in the registry can override any level per rule
(``Device.thresholds[rule_id][severity][min|max]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorflow.core.errors import ConfigError

SEVERITIES = ("critical", "warning")  # most severe first: a reading raises at most one alert per rule
BOUNDS = ("min", "max")


@dataclass(frozen=True, slots=True)
class Levels:
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    rule_id: str
    sensor_type: str
    levels: Mapping[str, Levels]  # severity -> Levels

    def with_overrides(self, overrides: Mapping[str, Any] | None) -> ThresholdRule:
        if not overrides:
            return self
        levels = dict(self.levels)
        for severity, bounds in overrides.items():
            base = levels.get(severity, Levels())
            merged = {b: bounds.get(b, getattr(base, b)) for b in BOUNDS}
            levels[severity] = _levels(f"device override of {self.rule_id}", severity, merged)
        return ThresholdRule(self.rule_id, self.sensor_type, levels)


def parse_rules(doc: Mapping[str, Any], known_sensor_types: set[str] | None = None) -> list[ThresholdRule]:
    """Validate a rules document; raise ``ConfigError`` naming the rule and the field at fault."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise ConfigError("rules file: top level must be an object with a 'rules' list")
    rules: list[ThresholdRule] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc["rules"]):
        name = raw.get("id") if isinstance(raw, Mapping) else None
        where = f"rule {name!r}" if name else f"rule #{i}"
        if not isinstance(raw, Mapping) or not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: field 'id' must be a non-empty string")
        if name in seen:
            raise ConfigError(f"{where}: field 'id' is duplicated")
        seen.add(name)
        sensor_type = raw.get("sensor_type")
        if not isinstance(sensor_type, str) or (known_sensor_types and sensor_type not in known_sensor_types):
            raise ConfigError(
                f"{where}: field 'sensor_type' must be one of {sorted(known_sensor_types or [])}"
            )
        levels = {sev: _levels(where, sev, raw[sev]) for sev in SEVERITIES if sev in raw}
        if not levels:
            raise ConfigError(f"{where}: needs at least one of the fields 'warning' or 'critical'")
        _check_nesting(where, levels)
        rules.append(ThresholdRule(name, sensor_type, levels))
    return rules


def _levels(where: str, severity: str, raw: Any) -> Levels:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: field {severity!r} must be an object with 'min' and/or 'max'")
    unknown = set(raw) - set(BOUNDS)
    if unknown:
        raise ConfigError(
            f"{where}: field '{severity}.{sorted(unknown)[0]}' is not known; use 'min' or 'max'"
        )
    values: dict[str, float | None] = {}
    for b in BOUNDS:
        v = raw.get(b)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)):
            raise ConfigError(f"{where}: field '{severity}.{b}' must be a finite number, got {v!r}")
        values[b] = None if v is None else float(v)
    lo, hi = values["min"], values["max"]
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"{where}: field '{severity}.min' ({lo:g}) must be below '{severity}.max' ({hi:g})")
    return Levels(lo, hi)


def _check_nesting(where: str, levels: Mapping[str, Levels]) -> None:
    """Critical bounds must lie outside warning bounds, or a critical reading would never be reached first."""
    w, c = levels.get("warning"), levels.get("critical")
    if not (w and c):
        return
    if w.max is not None and c.max is not None and c.max < w.max:
        raise ConfigError(
            f"{where}: field 'critical.max' ({c.max:g}) must not be below 'warning.max' ({w.max:g})"
        )
    if w.min is not None and c.min is not None and c.min > w.min:
        raise ConfigError(
            f"{where}: field 'critical.min' ({c.min:g}) must not be above 'warning.min' ({w.min:g})"
        )
