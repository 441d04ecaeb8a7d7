"""Alarm rules (rules file version 2): thresholds with severities plus the lifecycle settings.

A rule is the version-1 threshold rule (``warning``/``critical`` levels, each the band form
``{"min", "max"}`` or the comparison form ``{"op", "threshold"}`` with ``>``, ``>=``, ``<``, ``<=``,
``==``, ``!=``, validated by ``sensorflow.core.thresholds``, which this module reuses rather than
copies) plus:

- ``for_seconds`` (device time) **or** ``m_of_n`` ``{"m", "n"}``: how long / how often the condition
  must hold before the alarm is raised. Neither means "raise on the first crossing reading".
- ``deadband`` (absolute, canonical unit) **or** ``clear`` ``{"min", "max"}``: hysteresis. A raised
  alarm clears only once the value is back inside the clear band, so a value hovering at the line
  does not flap. Neither applies to a rule with an ``==`` / ``!=`` level: such an alarm clears as soon
  as its condition no longer holds.
- ``rate_of_change`` ``{"max_per_minute", "severity", "clear_per_minute"?}``: a change faster than
  this (either direction, per minute of device time) is a crossing of that severity.
- ``stale_after_seconds``: no reading of this sensor for that long makes the device stale (one
  ``Device Stale`` alarm per device, see ``sensorflow.core.staleness``).
- ``latch`` (default false): a raised alarm whose condition returns to normal stays ``LATCHED`` until
  acknowledged (IoT Events' acknowledge flow).
- ``repeat_every`` (seconds, 60 to 7 days): remind of an ACTIVE, unacknowledged alarm that often.
- ``disabled_on_initialization`` (default false): an alarm seen for the first time starts DISABLED.

Escalation is implicit: a raised warning becomes critical when the critical condition holds (with the
same duration / M-of-N). Severity never drops while the alarm is raised; it clears as a whole.

A device in the registry overrides any of these fields per rule (``Device.thresholds[rule_id]``), but
not ``id`` or ``sensor_type``. A level given in the rule's own form replaces only the bounds (or ``op``
/ ``threshold``) it names; in the other form it replaces the level. An override that moves a raise
bound of a rule with an explicit ``clear`` band, and gives no ``clear`` or ``deadband`` of its own,
moves the clear bound with it, keeping the rule's margin: humidity warns above 80 and clears at 75; a
device warning above 70 clears at 65. ``deadband`` is relative already. The merged rule is validated by
the same code, and ``validate_device_overrides`` runs it when a device is written to the registry, so
a bad override is refused there, naming the device, the rule and the field.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sensorflow.core.errors import ConfigError
from sensorflow.core.records import Device
from sensorflow.core.thresholds import BOUNDS, SEVERITIES, Levels, parse_rule, parse_rules

RULES_VERSION = 2
RULE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # no '.' or '#': they delimit alarm ids

# Ranks a reading's condition is assessed at. HOLD: inside the hysteresis band (not a crossing, not clear).
CLEAR, HOLD, WARNING, CRITICAL = 0, 1, 2, 3
RANK = {"warning": WARNING, "critical": CRITICAL}
SEVERITY_OF_RANK = {WARNING: "warning", CRITICAL: "critical"}

LIFECYCLE_FIELDS = (
    "for_seconds",
    "m_of_n",
    "deadband",
    "clear",
    "rate_of_change",
    "stale_after_seconds",
    "latch",
    "repeat_every",
    "disabled_on_initialization",
)
KNOWN_FIELDS = frozenset({"id", "sensor_type", "description", *SEVERITIES, *LIFECYCLE_FIELDS})
MAX_FOR_SECONDS = 7 * 24 * 3600  # readings older than 7 days are rejected by checks anyway
MAX_WINDOW = 60  # M-of-N window length kept on the alarm item
MIN_REPEAT_EVERY, MAX_REPEAT_EVERY = 60, 7 * 24 * 3600  # reminders ride the heartbeat's one-minute schedule
NOT_OVERRIDABLE = ("id", "sensor_type")  # an override tunes a rule; it cannot make it another rule


@dataclass(frozen=True, slots=True)
class MofN:
    m: int
    n: int


@dataclass(frozen=True, slots=True)
class RateOfChange:
    max_per_minute: float
    severity: str
    clear_per_minute: float


@dataclass(frozen=True, slots=True)
class Assessment:
    """How one reading stands against a rule: a rank and, for a crossing or hold, what caused it."""

    rank: int
    bound: str | None = None  # "min" | "max" (also "<", "<=", ">", ">=") | "eq" | "ne" | "rate"
    threshold: float | None = None
    clear_threshold: float | None = None

    @property
    def severity(self) -> str | None:
        return SEVERITY_OF_RANK.get(self.rank)


@dataclass(frozen=True, slots=True)
class AlarmRule:
    rule_id: str
    sensor_type: str
    levels: Mapping[str, Levels]  # severity -> raise bounds
    clear: Levels  # the band a raised alarm must return into to clear
    for_seconds: int = 0
    m_of_n: MofN | None = None
    rate_of_change: RateOfChange | None = None
    stale_after_seconds: int | None = None
    description: str = ""
    latch: bool = False  # a raised alarm back to normal stays LATCHED until acknowledged
    repeat_every: int | None = None  # seconds between reminders of an ACTIVE, unacknowledged alarm
    disabled_on_initialization: bool = False  # an alarm seen for the first time starts DISABLED

    def assess(self, value: float, rate_per_minute: float | None = None) -> Assessment:
        """The most severe condition ``value`` (and its rate of change) meets (``Levels.crosses``, inlined:
        this runs for every reading of every rule)."""
        best = Assessment(CLEAR)
        for severity in SEVERITIES:  # most severe first
            lv = self.levels.get(severity)
            if lv is None:
                continue
            hi, lo = lv.max, lv.min
            if hi is not None and (value > hi or (value == hi and lv.inclusive)):
                best = Assessment(RANK[severity], "max", hi, self.clear.max)
                break
            if lo is not None and (value < lo or (value == lo and lv.inclusive)):
                best = Assessment(RANK[severity], "min", lo, self.clear.min)
                break
            x = lv.exact
            if x is not None and (value == x) is lv.equal:  # no hysteresis: clears once it no longer holds
                best = Assessment(RANK[severity], "eq" if lv.equal else "ne", x, x)
                break
        roc = self.rate_of_change
        if roc is not None and rate_per_minute is not None:
            speed = abs(rate_per_minute)
            if speed > roc.max_per_minute and RANK[roc.severity] > best.rank:
                best = Assessment(RANK[roc.severity], "rate", roc.max_per_minute, roc.clear_per_minute)
            elif best.rank == CLEAR and speed > roc.clear_per_minute:
                best = Assessment(HOLD, "rate", roc.max_per_minute, roc.clear_per_minute)
        if best.rank == CLEAR:
            if self.clear.max is not None and value > self.clear.max:
                best = Assessment(HOLD, "max", self._raise_bound("max"), self.clear.max)
            elif self.clear.min is not None and value < self.clear.min:
                best = Assessment(HOLD, "min", self._raise_bound("min"), self.clear.min)
        return best

    def _raise_bound(self, bound: str) -> float | None:
        lv = self.levels.get("warning") or self.levels.get("critical")
        return getattr(lv, bound) if lv else None


class RuleBook:
    """The validated rules, by sensor type, with device overrides resolved (and cached) on demand."""

    def __init__(self, rules: list[AlarmRule], raw: Mapping[str, Mapping[str, Any]]) -> None:
        self._rules = {r.rule_id: r for r in rules}
        self._raw = raw
        self._by_type: dict[str, list[AlarmRule]] = {}
        for rule in rules:
            self._by_type.setdefault(rule.sensor_type, []).append(rule)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._rules.values())

    def get(self, rule_id: str) -> AlarmRule | None:
        return self._rules.get(rule_id)

    def for_sensor(self, sensor_type: str) -> list[AlarmRule]:
        return self._by_type.get(sensor_type, [])

    def for_device(self, sensor_type: str, device: Device | None) -> list[AlarmRule]:
        """The rules for a sensor of ``device``, each with the device's overrides applied."""
        return [self.resolve(rule, device) for rule in self.for_sensor(sensor_type)]

    def resolve(self, rule: AlarmRule, device: Device | None) -> AlarmRule:
        overrides = (device.thresholds if device else {}).get(rule.rule_id)
        if not overrides:
            return rule
        key = json.dumps(overrides, sort_keys=True, default=str)
        return _resolve_cached(self, rule.rule_id, key)


def validate_device_overrides(book: RuleBook, device: Device) -> None:
    """Refuse a registry entry whose overrides do not merge into valid rules: ``ConfigError`` naming the
    device, the rule and the field. Call it before writing ``device`` to the registry."""
    where = f"device {device.device_id!r}"
    thresholds = device.thresholds
    if not isinstance(thresholds, Mapping):
        raise ConfigError(f"{where}: field 'thresholds' must be an object of rule id -> overrides")
    for rule_id in thresholds:
        rule = book.get(rule_id)
        if rule is None:
            known = sorted(r.rule_id for r in book)
            raise ConfigError(f"{where}: field 'thresholds.{rule_id}' names no rule; rules: {known}")
        try:
            book.resolve(rule, device)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _resolve_cached(book: RuleBook, rule_id: str, overrides_json: str) -> AlarmRule:
    where = f"device override of rule {rule_id!r}"
    overrides = json.loads(overrides_json)
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"{where}: must be an object")
    merged = _merge(where, book._raw[rule_id], overrides)
    return _parse_one(where, _move_clear(book._rules[rule_id], merged, overrides), None)


_EXCLUSIVE = {"clear": "deadband", "deadband": "clear", "m_of_n": "for_seconds", "for_seconds": "m_of_n"}


def _merge(where: str, raw: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The rule with the override's fields over its own. A level given in the same form as the rule's
    replaces only the bounds (or op / threshold) it names; in the other form it replaces the level."""
    merged = dict(raw)
    for name, value in overrides.items():
        if name in NOT_OVERRIDABLE:
            raise ConfigError(f"{where}: field {name!r} cannot be overridden per device")
        base = merged.get(name)
        if (
            name in SEVERITIES
            and isinstance(value, Mapping)
            and isinstance(base, Mapping)
            and _comparison_form(value) == _comparison_form(base)
        ):
            merged[name] = {**base, **value}
        else:
            merged[name] = value
        if name in _EXCLUSIVE:
            merged.pop(_EXCLUSIVE[name], None)
    return merged


def _comparison_form(level: Mapping[str, Any]) -> bool:
    return "op" in level or "threshold" in level


def _move_clear(rule: AlarmRule, merged: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """An explicit rule ``clear`` keeps its margin from the raise bound an override moves (see the module
    docstring); an override that gives its own ``clear`` or ``deadband`` is taken as written."""
    if "clear" not in merged or "clear" in overrides or not any(sev in overrides for sev in SEVERITIES):
        return merged
    try:
        levels = parse_rule("", {**merged, "id": rule.rule_id}).levels
    except ConfigError:
        return merged  # _parse_one reports it, naming the override
    old, new, clear = _lowest(rule.levels), _lowest(levels), merged["clear"]
    if not isinstance(clear, Mapping):
        return merged
    moved = dict(clear)
    for bound in BOUNDS:
        before, after = getattr(old, bound), getattr(new, bound)
        if bound in clear and before is not None and after is not None:
            moved[bound] = clear[bound] + (after - before)
    return {**merged, "clear": moved}


def parse_rule_book(doc: Mapping[str, Any], known_sensor_types: set[str] | None = None) -> RuleBook:
    """Validate a version-2 rules document; raise ``ConfigError`` naming the rule and the field at fault.

    Version-1 documents (thresholds only) are accepted too: every rule then raises on the first crossing.
    """
    parse_rules(doc, known_sensor_types)  # ids, sensor types, levels and their nesting (version 1 checks)
    version = doc.get("version", 1)
    if version not in (1, RULES_VERSION):
        raise ConfigError(f"rules file: field 'version' must be 1 or {RULES_VERSION}, got {version!r}")
    rules, raw_by_id = [], {}
    for raw in doc["rules"]:
        where = f"rule {raw['id']!r}"
        rules.append(_parse_one(where, raw, known_sensor_types))
        raw_by_id[raw["id"]] = dict(raw)
    return RuleBook(rules, raw_by_id)


def _parse_one(where: str, raw: Mapping[str, Any], known: set[str] | None) -> AlarmRule:
    if not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ConfigError(f"{where}: field 'id' must be a non-empty string")
    base = parse_rule(where, raw, known)
    if not RULE_ID.fullmatch(base.rule_id):
        raise ConfigError(f"{where}: field 'id' must match {RULE_ID.pattern} (lower case, no '.' or '#')")
    unknown = sorted(set(raw) - KNOWN_FIELDS)
    if unknown:
        raise ConfigError(f"{where}: field {unknown[0]!r} is not known; known fields: {sorted(KNOWN_FIELDS)}")
    if "for_seconds" in raw and "m_of_n" in raw:
        raise ConfigError(f"{where}: fields 'for_seconds' and 'm_of_n' are exclusive; use one")
    if "deadband" in raw and "clear" in raw:
        raise ConfigError(f"{where}: fields 'deadband' and 'clear' are exclusive; use one")
    for_seconds = _int(where, "for_seconds", raw.get("for_seconds", 0), 0, MAX_FOR_SECONDS)
    m_of_n = _m_of_n(where, raw["m_of_n"]) if "m_of_n" in raw else None
    clear = _clear_band(where, raw, base.levels)
    roc = _rate(where, raw["rate_of_change"]) if "rate_of_change" in raw else None
    stale = raw.get("stale_after_seconds")
    if stale is not None:
        stale = _int(where, "stale_after_seconds", stale, 1, MAX_FOR_SECONDS)
    repeat_every = raw.get("repeat_every")
    if repeat_every is not None:
        repeat_every = _int(where, "repeat_every", repeat_every, MIN_REPEAT_EVERY, MAX_REPEAT_EVERY)
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where}: field 'description' must be a string")
    return AlarmRule(
        rule_id=base.rule_id,
        sensor_type=base.sensor_type,
        levels=base.levels,
        clear=clear,
        for_seconds=for_seconds,
        m_of_n=m_of_n,
        rate_of_change=roc,
        stale_after_seconds=stale,
        description=description,
        latch=_bool(where, "latch", raw.get("latch", False)),
        repeat_every=repeat_every,
        disabled_on_initialization=_bool(
            where, "disabled_on_initialization", raw.get("disabled_on_initialization", False)
        ),
    )


def _number(where: str, name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ConfigError(f"{where}: field {name!r} must be a finite number, got {v!r}")
    return float(v)


def _bool(where: str, name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ConfigError(f"{where}: field {name!r} must be true or false, got {v!r}")
    return v


def _int(where: str, name: str, v: Any, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or not lo <= v <= hi:
        raise ConfigError(f"{where}: field {name!r} must be a whole number from {lo} to {hi}, got {v!r}")
    return int(v)


def _m_of_n(where: str, raw: Any) -> MofN:
    if not isinstance(raw, Mapping) or set(raw) != {"m", "n"}:
        raise ConfigError(f"{where}: field 'm_of_n' must be an object with exactly 'm' and 'n'")
    n = _int(where, "m_of_n.n", raw["n"], 1, MAX_WINDOW)
    m = _int(where, "m_of_n.m", raw["m"], 1, MAX_WINDOW)
    if m > n:
        raise ConfigError(f"{where}: field 'm_of_n.m' ({m}) must not exceed 'm_of_n.n' ({n})")
    return MofN(m, n)


def _lowest(levels: Mapping[str, Levels]) -> Levels:
    """The innermost raise bounds over all severities: what the clear band is measured from."""
    return Levels(
        min=max((lv.min for lv in levels.values() if lv.min is not None), default=None),
        max=min((lv.max for lv in levels.values() if lv.max is not None), default=None),
    )


def _clear_band(where: str, raw: Mapping[str, Any], levels: Mapping[str, Levels]) -> Levels:
    """The clear band: inside the lowest raise bounds by ``deadband``, or given explicitly."""
    lowest = _lowest(levels)
    for name in ("deadband", "clear"):
        exact = next((sev for sev in SEVERITIES if sev in levels and levels[sev].exact is not None), None)
        if name in raw and exact is not None:
            raise ConfigError(
                f"{where}: field {name!r} does not apply to the {levels[exact].op!r} level {exact!r}: "
                "an equality alarm clears as soon as its condition no longer holds"
            )
    if "clear" in raw:
        c = raw["clear"]
        if not isinstance(c, Mapping) or not c or set(c) - {"min", "max"}:
            raise ConfigError(f"{where}: field 'clear' must be an object with 'min' and/or 'max'")
        band = Levels(
            min=_number(where, "clear.min", c["min"]) if "min" in c else lowest.min,
            max=_number(where, "clear.max", c["max"]) if "max" in c else lowest.max,
        )
        for bound in ("min", "max"):
            if bound in c and getattr(lowest, bound) is None:
                raise ConfigError(f"{where}: field 'clear.{bound}' has no '{bound}' threshold to clear")
        if band.max is not None and lowest.max is not None and band.max > lowest.max:
            raise ConfigError(
                f"{where}: field 'clear.max' ({band.max:g}) must not be above the raise max ({lowest.max:g})"
            )
        if band.min is not None and lowest.min is not None and band.min < lowest.min:
            raise ConfigError(
                f"{where}: field 'clear.min' ({band.min:g}) must not be below the raise min ({lowest.min:g})"
            )
    else:
        d = _number(where, "deadband", raw.get("deadband", 0.0))
        if d < 0:
            raise ConfigError(f"{where}: field 'deadband' must not be negative, got {d:g}")
        band = Levels(
            min=None if lowest.min is None else lowest.min + d,
            max=None if lowest.max is None else lowest.max - d,
        )
    if band.min is not None and band.max is not None and band.min >= band.max:
        raise ConfigError(f"{where}: the clear band is empty (min {band.min:g} >= max {band.max:g})")
    return band


def _rate(where: str, raw: Any) -> RateOfChange:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: field 'rate_of_change' must be an object")
    unknown = sorted(set(raw) - {"max_per_minute", "severity", "clear_per_minute"})
    if unknown:
        raise ConfigError(f"{where}: field 'rate_of_change.{unknown[0]}' is not known")
    if "max_per_minute" not in raw:
        raise ConfigError(f"{where}: field 'rate_of_change.max_per_minute' is required")
    limit = _number(where, "rate_of_change.max_per_minute", raw["max_per_minute"])
    if limit <= 0:
        raise ConfigError(f"{where}: field 'rate_of_change.max_per_minute' must be positive")
    severity = raw.get("severity", "warning")
    if severity not in RANK:
        raise ConfigError(f"{where}: field 'rate_of_change.severity' must be 'warning' or 'critical'")
    clear = _number(where, "rate_of_change.clear_per_minute", raw.get("clear_per_minute", limit))
    if not 0 <= clear <= limit:
        raise ConfigError(
            f"{where}: field 'rate_of_change.clear_per_minute' must be from 0 to max_per_minute ({limit:g})"
        )
    return RateOfChange(limit, severity, clear)
