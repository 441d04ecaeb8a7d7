"""Threshold levels of a rule: warning and critical, validated, with device overrides.

A severity level is written in one of two forms:

- the band form ``{"min": x, "max": y}`` (either or both): a crossing is ``value < min`` or
  ``value > max``, strictly;
- the comparison form ``{"op": OP, "threshold": x}`` of IoT Events' simple rules, OP one of
  ``>`` (GREATER), ``>=`` (GREATER_OR_EQUAL), ``<`` (LESS), ``<=`` (LESS_OR_EQUAL), ``==`` (EQUAL),
  ``!=`` (NOT_EQUAL): a crossing is ``value OP x``. ``>`` is ``{"max": x}`` and ``<`` is ``{"min": x}``;
  ``>=`` / ``<=`` include the threshold itself; ``==`` / ``!=`` compare for equality.

Critical must lie outside warning: every value that crosses the critical level crosses the warning
level too (a critical ``max`` not below the warning ``max``, and so on), or a warning would be skipped.

``sensorflow.core.rules`` builds the alarm rules (duration, hysteresis, rate, staleness) on top of
these checks; a device in the registry can override any level per rule
(``Device.thresholds[rule_id][severity]``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorflow.core.errors import ConfigError

SEVERITIES = ("critical", "warning")  # most severe first: a reading raises at most one alert per rule
BOUNDS = ("min", "max")
OPERATORS = (">", ">=", "<", "<=", "==", "!=")  # IoT Events simpleRule.comparisonOperator, in order
COMPARISON_KEYS = ("op", "threshold")


@dataclass(frozen=True, slots=True)
class Levels:
    """The raise bounds of one severity: ``value < min`` / ``value > max`` (``<=`` / ``>=`` when
    ``inclusive``), or, with ``exact`` set, ``value == exact`` (``equal``) / ``value != exact``."""

    min: float | None = None
    max: float | None = None
    inclusive: bool = False  # ">=" / "<=": the threshold itself crosses
    exact: float | None = None  # "==" / "!=": the threshold compared for equality
    equal: bool = True  # with ``exact``: "==" (True) or "!=" (False)

    @property
    def op(self) -> str | None:
        """The comparison-form operator this level is equivalent to; ``None`` for a two-sided band."""
        if self.exact is not None:
            return "==" if self.equal else "!="
        if (self.min is None) == (self.max is None):
            return None
        return (">" if self.max is not None else "<") + ("=" if self.inclusive else "")

    def crosses(self, value: float) -> bool:
        """Whether ``value`` crosses this level (the reference semantics ``AlarmRule.assess`` inlines)."""
        if self.exact is not None:
            return (value == self.exact) is self.equal
        if self.max is not None and (value > self.max or (self.inclusive and value == self.max)):
            return True
        return self.min is not None and (value < self.min or (self.inclusive and value == self.min))

    def describe(self) -> str:
        """``> 35``, ``>= 80``, ``== 1`` or ``< 0 or > 35``."""
        if self.exact is not None:
            return f"{self.op} {self.exact:g}"
        eq = "=" if self.inclusive else ""
        parts = [f"<{eq} {self.min:g}"] if self.min is not None else []
        parts += [f">{eq} {self.max:g}"] if self.max is not None else []
        return " or ".join(parts)


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
            comparison = any(k in bounds for k in COMPARISON_KEYS) or base.exact is not None
            merged = dict(bounds) if comparison else {b: bounds.get(b, getattr(base, b)) for b in BOUNDS}
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
        rules.append(parse_rule(where, raw, known_sensor_types))
    return rules


def parse_rule(
    where: str, raw: Mapping[str, Any], known_sensor_types: set[str] | None = None
) -> ThresholdRule:
    """One rule's sensor type and levels (its ``id`` a non-empty string); errors start with ``where``."""
    sensor_type = raw.get("sensor_type")
    if not isinstance(sensor_type, str) or (known_sensor_types and sensor_type not in known_sensor_types):
        raise ConfigError(f"{where}: field 'sensor_type' must be one of {sorted(known_sensor_types or [])}")
    levels = {sev: _levels(where, sev, raw[sev]) for sev in SEVERITIES if sev in raw}
    if not levels:
        raise ConfigError(f"{where}: needs at least one of the fields 'warning' or 'critical'")
    _check_nesting(where, levels)
    return ThresholdRule(raw["id"], sensor_type, levels)


def _levels(where: str, severity: str, raw: Any) -> Levels:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{where}: field {severity!r} must be an object with 'min' and/or 'max', or 'op' and 'threshold'"
        )
    if any(k in raw for k in COMPARISON_KEYS):
        return _comparison(where, severity, raw)
    unknown = set(raw) - set(BOUNDS)
    if unknown:
        raise ConfigError(
            f"{where}: field '{severity}.{sorted(unknown)[0]}' is not known; use 'min' or 'max', "
            "or 'op' and 'threshold'"
        )
    values: dict[str, float | None] = {}
    for b in BOUNDS:
        v = raw.get(b)
        values[b] = None if v is None else _finite(where, f"{severity}.{b}", v)
    lo, hi = values["min"], values["max"]
    if lo is not None and hi is not None and lo >= hi:
        raise ConfigError(f"{where}: field '{severity}.min' ({lo:g}) must be below '{severity}.max' ({hi:g})")
    return Levels(lo, hi)


def _comparison(where: str, severity: str, raw: Mapping[str, Any]) -> Levels:
    unknown = sorted(set(raw) - set(COMPARISON_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: field '{severity}.{unknown[0]}' cannot be combined with 'op' and 'threshold'; "
            "a level is {'min', 'max'} or {'op', 'threshold'}"
        )
    for key in COMPARISON_KEYS:
        if key not in raw:
            raise ConfigError(
                f"{where}: field '{severity}.{key}' is required in the form {{'op', 'threshold'}}"
            )
    op = raw["op"]
    if op not in OPERATORS:
        raise ConfigError(f"{where}: field '{severity}.op' must be one of {', '.join(OPERATORS)}; got {op!r}")
    x = _finite(where, f"{severity}.threshold", raw["threshold"])
    if op in ("==", "!="):
        return Levels(exact=x, equal=op == "==")
    inclusive = op.endswith("=")
    return Levels(max=x, inclusive=inclusive) if op[0] == ">" else Levels(min=x, inclusive=inclusive)


def _finite(where: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}: field '{name}' must be a finite number, got {v!r}")
    return float(v)


def _check_nesting(where: str, levels: Mapping[str, Levels]) -> None:
    """Critical must lie outside warning, or a critical reading would never be a warning one first."""
    w, c = levels.get("warning"), levels.get("critical")
    if not (w and c):
        return
    if w.exact is not None or c.exact is not None:
        _check_exact_nesting(where, w, c)
        return
    if w.max is not None and c.max is not None and c.max < w.max:
        raise ConfigError(
            f"{where}: field 'critical.max' ({c.max:g}) must not be below 'warning.max' ({w.max:g})"
        )
    if w.min is not None and c.min is not None and c.min > w.min:
        raise ConfigError(
            f"{where}: field 'critical.min' ({c.min:g}) must not be above 'warning.min' ({w.min:g})"
        )
    # At the same threshold a critical ">=" reaches inside a warning ">".
    same = any(getattr(w, b) is not None and getattr(w, b) == getattr(c, b) for b in BOUNDS)
    if same and c.inclusive and not w.inclusive:
        _outside_error(where, w, c)


def _check_exact_nesting(where: str, w: Levels, c: Levels) -> None:
    """With ``==`` / ``!=`` on either side: every value crossing critical must cross warning."""
    if c.exact is not None:
        # critical is one value: warning must cross there; all but one value: only the same '!=' holds it
        ok = w.crosses(c.exact) if c.equal else (w.exact == c.exact and not w.equal)
    elif w.equal:  # a band or one-sided critical level is never inside one warning value
        ok = False
    else:  # warning is all but w.exact: critical must not cross there
        ok = w.exact is not None and not c.crosses(w.exact)
    if not ok:
        _outside_error(where, w, c)


def _outside_error(where: str, w: Levels, c: Levels) -> None:
    raise ConfigError(
        f"{where}: field 'critical' ({c.describe()}) must lie outside 'warning' ({w.describe()}): "
        "every critical value must cross the warning level too"
    )
