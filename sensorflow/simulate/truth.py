"""What the alarm pipeline should emit for a simulated run, read off the ground truth.

Design: the generator shapes every alarm scenario (excursion, spike) so its outcome under the rules is
unambiguous, and writes the predicted transitions onto the reading that causes each one:

    truth["expected_transitions"] = [
        {"transition": "Alarm Raised", "alarm_id": "dev-00003#temperature#temperature-range",
         "rule_id": "temperature-range", "severity": "warning"}]

Every reading an alarm scenario shaped carries the key (an empty list: this reading changes nothing that
is announced); other readings do not carry it, which means the same. ``Device Stale`` is not a reading's
doing: it depends on when the heartbeat looks, so ``expected_stale(records, now_ms)`` derives it from
the newest device timestamp of each sensor the pipeline will accept.

The predictions come from the scenario design and the rule parameters (``SensorRule``: for_seconds or
M-of-N, clear band, rate of change, stale_after), never from running ``sensorflow.core.alarms`` -- the
integration test holds the real state machine to them.

Assumptions (all true for ``sensorflow simulate`` and the demo against a fresh stack):

- records reach the pipeline in the order given (per device), shortly after the end of device time;
- the alarms table holds no earlier state for these devices (a fresh stack or a fresh fleet);
- the heartbeat runs after the records are ingested (a heartbeat run in the middle of a fast replay
  of device time sees every device as silent: it measures device timestamps against the wall clock),
  and its first-run lookback (60 min by default) reaches the stale deadlines;
- registry items carry no per-device threshold overrides (``fleet.registry_items`` has none).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorflow.core.errors import ConfigError
from sensorflow.core.rules import parse_rule_book
from sensorflow.simulate.errors import SimulationError

RAISED = "Alarm Raised"
ESCALATED = "Alarm Escalated"
CLEARED = "Alarm Cleared"
STALE = "Device Stale"
PREDICTED = (RAISED, ESCALATED, CLEARED, STALE)  # the transitions the truth predicts
STALE_SENSOR_TYPE = "device"  # sensorflow.core.staleness.stale_alarm_id: "<device_id>#device#device-stale"
STALE_RULE_ID = "device-stale"
DEFAULT_RULES_PATH = Path(__file__).resolve().parent.parent / "rules.json"

# Truth kinds the pipeline enriches and hands to the alarm evaluator (the rest are quarantined or
# duplicates, which the device high-water mark skips).
_INGESTED_KINDS = frozenset({"valid", "late"})


@dataclass(frozen=True, slots=True)
class SensorRule:
    """The parameters of a sensor type's alarm rule that the scenario design and predictions use."""

    rule_id: str
    sensor_type: str
    for_ms: int  # 0 with M-of-N
    m: int | None  # M-of-N, or None for for_seconds
    n: int | None
    clear_min: float | None  # the clear band (hysteresis): a raised alarm clears only inside it
    clear_max: float | None
    rate_max_per_min: float | None  # rate of change: a crossing above this ...
    rate_clear_per_min: float | None  # ... and a hold (no clear) above this
    stale_after_s: int | None
    latch: bool = False  # back to normal, a raised alarm stays LATCHED (no clear) until acknowledged

    def alarm_id(self, device_id: str) -> str:
        return f"{device_id}#{self.sensor_type}#{self.rule_id}"

    def inside_clear_band(self, value: float) -> bool:
        return (self.clear_max is None or value <= self.clear_max) and (
            self.clear_min is None or value >= self.clear_min
        )


def load_sensor_rules(path: str | Path | None = None) -> dict[str, SensorRule]:
    """The rules file (default: the committed ``sensorflow/rules.json``) as one ``SensorRule`` per type."""
    return dict(_load(str(Path(path) if path is not None else DEFAULT_RULES_PATH)))


@functools.cache
def _load(path: str) -> tuple[tuple[str, SensorRule], ...]:
    try:
        book = parse_rule_book(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, ConfigError) as exc:
        raise SimulationError(f"rules file {path}: {exc}") from None
    rules: dict[str, SensorRule] = {}
    for rule in book:
        if rule.sensor_type in rules:
            raise SimulationError(
                f"rules file {path}: sensor type {rule.sensor_type} has more than one rule; the simulator's "
                "predictions assume one rule per sensor type"
            )
        roc = rule.rate_of_change
        rules[rule.sensor_type] = SensorRule(
            rule_id=rule.rule_id,
            sensor_type=rule.sensor_type,
            for_ms=rule.for_seconds * 1000,
            m=rule.m_of_n.m if rule.m_of_n else None,
            n=rule.m_of_n.n if rule.m_of_n else None,
            clear_min=rule.clear.min,
            clear_max=rule.clear.max,
            rate_max_per_min=roc.max_per_minute if roc else None,
            rate_clear_per_min=roc.clear_per_minute if roc else None,
            stale_after_s=rule.stale_after_seconds,
            latch=rule.latch,
        )
    return tuple(rules.items())


def stale_alarm_id(device_id: str) -> str:
    return f"{device_id}#{STALE_SENSOR_TYPE}#{STALE_RULE_ID}"


# --- the API the demo checks the pipeline against -------------------------------------------------------


class Expectation:
    """Accumulates the truth of records in publishing order (streaming: the CLI feeds it as it sends)."""

    def __init__(self, rules: Mapping[str, SensorRule] | None = None) -> None:
        self._rules = rules if rules is not None else load_sensor_rules()
        self._transitions: dict[str, list[tuple[str, str]]] = {}
        self._high_water: dict[str, int] = {}
        self._newest: dict[tuple[str, str], int] = {}
        self.formats: Counter[str] = Counter()  # records by wire format (``simulate.wire``)

    def add(self, truth: Mapping[str, Any]) -> None:
        self.formats[truth.get("format", "raw")] += 1
        kind = truth.get("kind")
        if kind not in _INGESTED_KINDS:
            return
        device_id, seq = truth["device_id"], truth["seq"]
        if seq <= self._high_water.get(device_id, -1):
            return  # the pipeline's replay guard skips it: no transition, no sign of life
        self._high_water[device_id] = seq
        key = (device_id, truth["sensor_type"])
        self._newest[key] = max(self._newest.get(key, truth["timestamp_ms"]), truth["timestamp_ms"])
        for e in truth.get("expected_transitions") or ():
            self._transitions.setdefault(e["alarm_id"], []).append((e["transition"], e["severity"]))

    def stale(self, now_ms: int) -> set[str]:
        out = set()
        for (device_id, sensor_type), ts in self._newest.items():
            rule = self._rules.get(sensor_type)
            if rule is not None and rule.stale_after_s and ts + rule.stale_after_s * 1000 <= now_ms:
                out.add(device_id)
        return out

    def transitions(self, now_ms: int | None = None) -> dict[str, list[tuple[str, str]]]:
        out = {k: list(v) for k, v in self._transitions.items()}
        if now_ms is not None:
            for device_id in sorted(self.stale(now_ms)):
                out[stale_alarm_id(device_id)] = [(STALE, "warning")]
        return out


def expected_transitions(
    records: Iterable[Any], now_ms: int | None = None, rules: Mapping[str, SensorRule] | None = None
) -> dict[str, list[tuple[str, str]]]:
    """``alarm_id -> [(transition, severity), ...]`` in order, for the alarms the run should touch.

    ``records``: ``SimRecord``s, manifest lines (str) or their parsed objects, in publishing order.
    Reading-caused transitions come from ``truth["expected_transitions"]`` of the readings the pipeline
    evaluates (valid or late, above the device's high-water mark on ``seq``); with ``now_ms`` (when the
    heartbeat runs, after ingest) each device of ``expected_stale`` adds ``[("Device Stale", "warning")]``
    under ``<device_id>#device#device-stale``. A manifest line with ``"delivered": false`` is left out.
    """
    return _tally(records, rules).transitions(now_ms)


def expected_stale(
    records: Iterable[Any], now_ms: int, rules: Mapping[str, SensorRule] | None = None
) -> set[str]:
    """Devices a heartbeat at ``now_ms`` (after the records are ingested) finds stale.

    A device is stale when one of its sensors' newest accepted device timestamp plus that sensor's
    ``stale_after_seconds`` is at or before ``now_ms``. Accepted: valid and late readings above the
    device's high-water mark on ``seq`` when they arrive (duplicates, replays and late readings behind
    newer ones are skipped by the pipeline; quarantined records never count).
    """
    return _tally(records, rules).stale(now_ms)


def _tally(records: Iterable[Any], rules: Mapping[str, SensorRule] | None) -> Expectation:
    tally = Expectation(rules)
    for truth in _truths(records):
        tally.add(truth)
    return tally


def _truths(records: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for r in records:
        if isinstance(r, str):
            if not r.strip():
                continue
            r = json.loads(r)
        if isinstance(r, Mapping):
            if r.get("delivered") is False:
                continue
            yield r["truth"]
        else:
            yield r.truth


def summary(expected: Mapping[str, list[tuple[str, str]]]) -> dict[str, int]:
    """Counts per transition name of an ``expected_transitions`` result."""
    counts: dict[str, int] = {}
    for transitions in expected.values():
        for name, _ in transitions:
            counts[name] = counts.get(name, 0) + 1
    return counts
