"""Forced alarm scenarios and the truth API the demo checks the pipeline against.

The predictions themselves are held to the real state machine by
tests/integration/test_alarm_scenarios.py; here: what is forced, where, and how the API reads truth.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from sensorflow.core import staleness
from sensorflow.core.contract import Transition
from sensorflow.core.rules import parse_rule_book
from sensorflow.simulate import SimConfig, SimulationError, generate, manifest
from sensorflow.simulate import scenarios as sc
from sensorflow.simulate.truth import (
    DEFAULT_RULES_PATH,
    Expectation,
    expected_stale,
    expected_transitions,
    load_sensor_rules,
    stale_alarm_id,
    summary,
)

START_MS = 1_767_225_600_000
FORCED = SimConfig(
    devices=12,
    duration_s=900,
    seed=21,
    start_ms=START_MS,
    scenario_rate=0.0,
    malformed_rate=0.0,
    min_excursions=4,
    trailing_dropouts=2,
)
END_MS = START_MS + 900_000
FULL_CYCLE = [("Alarm Raised", "warning"), ("Alarm Escalated", "critical"), ("Alarm Cleared", "critical")]
# A latch rule's alarm (vibration-level) back to normal stays LATCHED: its clear comes with an ack.
LATCHED_CYCLE = FULL_CYCLE[:2]


@pytest.fixture(scope="module")
def forced():
    return list(generate(FORCED))


def _latches(alarm_id: str) -> bool:
    return load_sensor_rules()[alarm_id.split("#")[1]].latch


def test_forced_excursions_each_complete_on_their_own_device(forced):
    expected = expected_transitions(forced)
    assert len(expected) == 4
    assert all(v == (LATCHED_CYCLE if _latches(k) else FULL_CYCLE) for k, v in expected.items())
    devices = {alarm_id.split("#")[0] for alarm_id in expected}
    assert len(devices) == 4
    excursion_devices = {r.truth["device_id"] for r in forced if r.truth["scenario"] == "excursion"}
    assert excursion_devices == devices


def test_trailing_dropouts_fall_silent_stale_after_plus_a_minute_before_the_end(forced):
    rules = load_sensor_rules()
    trailing = {r.truth["device_id"] for r in forced if r.truth.get("trailing")}
    assert len(trailing) == 2
    for device_id in trailing:
        mine = [r.truth for r in forced if r.truth["device_id"] == device_id]
        stale_after = max(rules[t["sensor_type"]].stale_after_s or 0 for t in mine)
        assert max(t["timestamp_ms"] for t in mine) + (stale_after + 60) * 1000 <= END_MS
        last = [t for t in mine if t.get("trailing")]
        assert {t["phase"] for t in last} == {"start"} and last[0]["silent_from_ms"] < END_MS
    assert expected_stale(forced, END_MS) == trailing
    # the other devices report up to the end: none is stale, even a few minutes after it
    assert expected_stale(forced, END_MS + 3 * 60_000) == trailing


def test_expected_transitions_adds_device_stale_for_a_heartbeat_after_the_run(forced):
    trailing = sorted({r.truth["device_id"] for r in forced if r.truth.get("trailing")})
    with_stale = expected_transitions(forced, now_ms=END_MS)

    assert {k: v for k, v in with_stale.items() if k.endswith("#device-stale")} == {
        stale_alarm_id(d): [("Device Stale", "warning")] for d in trailing
    }
    latched = sum(_latches(k) for k in with_stale if not k.endswith("#device-stale"))
    assert summary(with_stale) == {
        "Alarm Raised": 4,
        "Alarm Escalated": 4,
        "Alarm Cleared": 4 - latched,
        "Device Stale": 2,
    }


def test_forced_scenarios_are_deterministic_and_leave_other_devices_alone(forced):
    assert list(generate(FORCED)) == forced
    plain = list(generate(dataclasses.replace(FORCED, min_excursions=0, trailing_dropouts=0)))
    forced_devices = {r.truth["device_id"] for r in forced if r.truth["scenario"] is not None}
    assert [r for r in plain if r.truth["device_id"] not in forced_devices] == [
        r for r in forced if r.truth["device_id"] not in forced_devices
    ]
    assert expected_transitions(plain, now_ms=END_MS) == {}


def test_manifest_lines_give_the_same_predictions_and_undelivered_lines_are_left_out(forced):
    lines = [manifest.to_line(r) for r in forced]
    assert expected_transitions(lines, now_ms=END_MS) == expected_transitions(forced, now_ms=END_MS)
    parsed = [json.loads(line) for line in lines]
    assert expected_transitions(parsed) == expected_transitions(forced)

    undelivered = [manifest.to_line(r, delivered=not r.truth.get("expected_transitions")) for r in forced]
    assert expected_transitions(undelivered) == {}


def test_replays_and_late_readings_behind_the_high_water_mark_are_no_sign_of_life():
    def t(seq: int, ts: int, kind: str = "valid") -> dict:
        return {
            "device_id": "dev-00001",
            "sensor_type": "temperature",
            "seq": seq,
            "timestamp_ms": ts,
            "kind": kind,
        }

    now = 1_000_000
    tally = Expectation()
    for truth in (
        t(5, now - 400_000),
        t(6, now - 350_000),
        t(4, now - 10_000, "late"),
        t(6, now, "duplicate"),
    ):
        tally.add(truth)
    assert tally.stale(now) == {"dev-00001"}  # 350 s silent against 300 s; the late and the duplicate skipped
    tally.add(t(7, now - 100_000, "clock_skew"))  # quarantined
    assert tally.stale(now) == {"dev-00001"}
    tally.add(t(8, now - 100_000, "late"))  # a late reading above the high-water mark is evaluated
    assert tally.stale(now) == set()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"min_excursions": -1}, "min_excursions (--min-excursions) must be a whole number >= 0"),
        ({"trailing_dropouts": True}, "trailing_dropouts (--trailing-dropouts) must be a whole number"),
        ({"devices": 3, "min_excursions": 2, "trailing_dropouts": 2}, "must not exceed the 3 devices"),
    ],
)
def test_bad_forced_counts_are_rejected(overrides, message):
    with pytest.raises(SimulationError) as err:
        SimConfig(**overrides).resolved()
    assert message in str(err.value)


def test_a_run_too_short_for_the_forced_scenarios_says_how_long_it_must_be():
    with pytest.raises(SimulationError) as err:
        generate(dataclasses.replace(FORCED, duration_s=120))  # raises on the call, before any record
    assert "fit in 120 s of device time" in str(err.value) and "use --duration" in str(err.value)


def test_the_simulators_vocabulary_matches_the_pipelines():
    from sensorflow.simulate import truth

    assert (truth.RAISED, truth.ESCALATED, truth.CLEARED, truth.STALE) == (
        Transition.RAISED,
        Transition.ESCALATED,
        Transition.CLEARED,
        Transition.STALE,
    )
    assert stale_alarm_id("dev-00001") == staleness.stale_alarm_id("dev-00001")
    # the thresholds the scenarios aim at are the rules file's
    book = parse_rule_book(json.loads(DEFAULT_RULES_PATH.read_text()))
    for rule in book:
        crit_low, warn_low, warn_high, crit_high = sc.THRESHOLDS[rule.sensor_type]
        assert (rule.levels["critical"].min, rule.levels["warning"].min) == (crit_low, warn_low)
        assert (rule.levels["warning"].max, rule.levels["critical"].max) == (warn_high, crit_high)
