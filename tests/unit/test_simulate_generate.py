"""The simulation: determinism, decodability, ground truth and scenario shapes.

GIVEN a fixed seed and start, WHEN the fleet is simulated, THEN every record is exactly what its truth
says it is when run through the ingest decoder and domain checks.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from itertools import pairwise

import pytest

from sensorflow.core.checks import check_reading
from sensorflow.core.decode import ReadingDecoder
from sensorflow.core.errors import InvalidRecordError
from sensorflow.simulate import SimConfig, SimulationError, generate, load_fleet
from sensorflow.simulate.planning import spike_is_debounced
from sensorflow.simulate.truth import load_sensor_rules

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DURATION_S = 3600
END_MS = START_MS + DURATION_S * 1000
FIVE_MIN_MS = 5 * 60_000
BUSY = SimConfig(
    devices=60, duration_s=DURATION_S, seed=11, start_ms=START_MS, scenario_rate=0.03, malformed_rate=0.05
)
# Critical bounds of the default rules (project brief), canonical units.
CRITICAL = {
    "temperature": (-10.0, 45.0),
    "humidity": (None, 90.0),
    "pressure": (900.0, 1100.0),
    "vibration": (None, 11.2),
    "co2": (None, 2000.0),
}
NORMAL_BAND = {
    "temperature": (20.0, 26.0),
    "humidity": (35.0, 60.0),
    "pressure": (1000.0, 1025.0),
    "vibration": (1.0, 4.0),
    "co2": (400.0, 800.0),
}


@pytest.fixture(scope="module")
def records():
    return list(generate(BUSY))


@pytest.fixture(scope="module")
def decoder():
    return ReadingDecoder()


def _beyond_critical(sensor_type: str, value: float) -> bool:
    low, high = CRITICAL[sensor_type]
    return (high is not None and value > high) or (low is not None and value < low)


def test_same_seed_and_start_give_identical_records(records):
    again = list(generate(BUSY))

    assert again == records
    assert [r.data for r in again] == [r.data for r in records]


def test_another_seed_gives_other_records(records):
    other = list(generate(dataclasses.replace(BUSY, seed=12)))

    assert [r.data for r in other[:50]] != [r.data for r in records[:50]]


def test_default_start_is_now_minus_duration():
    now = START_MS + 123_456
    first = list(generate(SimConfig(devices=3, duration_s=600, seed=1), now_ms=now))
    explicit = list(generate(SimConfig(devices=3, duration_s=600, seed=1, start_ms=now - 600_000)))

    assert first == explicit
    assert min(r.truth["tick_ms"] for r in first) >= now - 600_000
    assert max(r.truth["tick_ms"] for r in first) < now


def test_every_kind_and_scenario_is_injected(records):
    kinds = Counter(r.truth["kind"] for r in records)
    scenarios = Counter(r.truth["scenario"] for r in records)
    malformed = Counter(r.truth.get("malformed") for r in records if r.truth["kind"] == "malformed")

    assert set(kinds) == {"valid", "late", "duplicate", "malformed", "unknown_device", "clock_skew"}
    assert set(scenarios) == {
        None,
        "excursion",
        "spike",
        "stuck",
        "dropout",
        "clock_skew",
        "late",
        "duplicate",
        "unknown_device",
        "malformed",
    }
    assert set(malformed) == {"truncated", "random_bytes", "wrong_schema", "trailing_bytes"}


def test_every_record_has_the_truth_contract_keys(records):
    for r in records:
        assert {"device_id", "seq", "kind", "scenario", "outcome", "expected_reason", "timestamp_ms"} <= set(
            r.truth
        )
        assert r.partition_key == r.truth["device_id"]
        assert 0 < len(r.data) <= 1024


def test_every_malformed_record_is_rejected_by_the_decoder_with_its_expected_reason(records, decoder):
    fixed = {
        "truncated": "decode_error",
        "random_bytes": "decode_error",
        "wrong_schema": "decode_error",
        "trailing_bytes": "trailing_bytes",
    }
    malformed = [r for r in records if r.truth["kind"] == "malformed"]
    assert len(malformed) > 200

    for r in malformed:
        with pytest.raises(InvalidRecordError) as err:
            decoder.decode(r.data)
        assert err.value.reason == r.truth["expected_reason"] == fixed[r.truth["malformed"]]
        assert r.truth["outcome"] == "quarantined"


def test_every_stored_record_decodes_to_its_truth_and_passes_the_checks(records, decoder):
    fleet_ids = {d.device_id for d in load_fleet()}
    stored = [r for r in records if r.truth["kind"] in ("valid", "late", "duplicate")]
    assert len(stored) > 10_000

    for r in stored:
        reading = decoder.decode(r.data)
        t = r.truth
        assert (reading.device_id, reading.seq, reading.sensor_type, reading.value, reading.unit) == (
            t["device_id"],
            t["seq"],
            t["sensor_type"],
            t["value"],
            t["unit"],
        )
        assert reading.timestamp_ms == t["timestamp_ms"]
        # arrival right at the end of device time, and a few minutes later
        assert check_reading(reading, END_MS) == (t["canonical_value"], t["canonical_unit"])
        assert check_reading(reading, END_MS + 4 * 60_000) == (t["canonical_value"], t["canonical_unit"])
        assert t["device_id"] in fleet_ids
        assert t["expected_reason"] is None


def test_large_clock_skew_is_out_of_range_and_small_skew_is_valid(records, decoder):
    skewed = [r for r in records if r.truth["scenario"] == "clock_skew" and r.truth["skew_ms"]]
    large = [r for r in skewed if r.truth["kind"] == "clock_skew"]
    small = [r for r in skewed if r.truth["kind"] == "valid"]
    assert large and small

    for r in large:
        assert r.truth["expected_reason"] == "timestamp_out_of_range"
        assert r.truth["timestamp_ms"] >= END_MS + 10 * 60_000
        with pytest.raises(InvalidRecordError) as err:
            check_reading(decoder.decode(r.data), END_MS + 4 * 60_000)
        assert err.value.reason == "timestamp_out_of_range"
    for r in small:
        assert r.truth["timestamp_ms"] <= END_MS + 4 * 60_000 + 40
        check_reading(decoder.decode(r.data), END_MS)


def test_timestamps_stay_within_now_plus_five_minutes_except_clock_skew(records):
    for r in records:
        if r.truth["kind"] != "clock_skew":
            assert r.truth["timestamp_ms"] <= END_MS + FIVE_MIN_MS
        if r.truth["scenario"] != "clock_skew":
            assert START_MS <= r.truth["tick_ms"] < END_MS
            assert r.truth["tick_ms"] <= r.truth["timestamp_ms"] < r.truth["tick_ms"] + 40


def test_unknown_devices_are_well_formed_ghosts(records, decoder):
    fleet_ids = {d.device_id for d in load_fleet()}
    ghosts = [r for r in records if r.truth["kind"] == "unknown_device"]
    assert ghosts

    for r in ghosts:
        assert r.partition_key.startswith("ghost-") and r.partition_key not in fleet_ids
        assert r.truth["expected_reason"] == "unknown_device"
        check_reading(decoder.decode(r.data), END_MS)
    assert len({r.partition_key for r in ghosts}) == len(ghosts)


def test_duplicates_repeat_the_bytes_of_an_earlier_valid_record(records):
    seen: dict[bytes, dict] = {}
    duplicates = 0
    for r in records:
        if r.truth["kind"] == "duplicate":
            original = seen[r.data]
            assert original["kind"] == "valid"
            assert (original["device_id"], original["seq"]) == (
                r.truth["device_id"],
                r.truth["duplicate_of_seq"],
            )
            assert r.truth["outcome"] == "duplicate"
            duplicates += 1
        else:
            seen.setdefault(r.data, r.truth)
    assert duplicates > 10


def test_late_records_arrive_after_newer_readings_of_their_device(records):
    newest_seq: dict[str, int] = {}
    late = 0
    for r in records:
        t = r.truth
        if t["kind"] == "late":
            assert newest_seq[t["device_id"]] > t["seq"]
            assert t["delay_ms"] > 0 and t["outcome"] == "stored"
            late += 1
        if t["kind"] in ("valid", "clock_skew"):
            newest_seq[t["device_id"]] = max(newest_seq.get(t["device_id"], -1), t["seq"])
    assert late > 10


def test_each_device_sequence_is_contiguous_and_unique(records):
    seqs = defaultdict(list)
    for r in records:
        if r.truth["kind"] in ("valid", "late", "clock_skew"):
            seqs[r.truth["device_id"]].append(r.truth["seq"])

    assert len(seqs) == 60
    for values in seqs.values():
        assert sorted(values) == list(range(min(values), min(values) + len(values)))


def _events(records, scenario):
    events = defaultdict(list)
    for r in records:
        if r.truth["scenario"] == scenario:
            events[r.truth["event_id"]].append(r.truth)
    return events


def test_excursions_hold_warning_then_critical_then_recover_inside_the_clear_band(records):
    rules = load_sensor_rules()
    complete = [e for e in _events(records, "excursion").values() if e[-1]["phase"] == "recovery"]
    assert len(complete) >= 10

    for event in complete:
        sensor = event[0]["sensor_type"]
        rule = rules[sensor]
        phases = [t["phase"] for t in event]
        k = phases.count("warning")
        assert phases in (
            ["warning"] * k + ["critical"] * k + ["recovery"] * phases.count("recovery"),
            ["warning"] * k + ["recovery"] * phases.count("recovery"),
        )
        assert len({t["sensor_type"] for t in event}) == 1
        for t in event:
            level = {"warning": "warning", "critical": "critical", "recovery": "normal"}[t["phase"]]
            assert t["expected_level"] == level
            assert _beyond_critical(sensor, t["canonical_value"]) == (t["phase"] == "critical")
            if t["phase"] == "recovery":
                assert rule.inside_clear_band(t["canonical_value"])
        # the warning plateau outlasts the rule's debounce: for_seconds by two readings, M-of-N by two
        span = event[k - 1]["timestamp_ms"] - event[0]["timestamp_ms"]
        assert k == rule.m + 2 if rule.m else span >= rule.for_ms + 1000
        # the way back is one step, then level
        assert len({t["value"] for t in event if t["phase"] == "recovery"}) == 1
        assert [t["seq"] for t in event] == sorted(t["seq"] for t in event)


def test_complete_excursions_predict_raise_escalate_clear_on_the_readings_that_cause_them(records):
    rules = load_sensor_rules()
    complete = [e for e in _events(records, "excursion").values() if e[-1]["phase"] == "recovery"]
    escalated = 0
    for event in complete:
        sensor = event[0]["sensor_type"]
        rule = rules[sensor]
        alarm = f"{event[0]['device_id']}#{sensor}#{rule.rule_id}"
        caused = [
            (t["phase"], e["transition"], e["severity"]) for t in event for e in t["expected_transitions"]
        ]
        critical = "critical" in [t["phase"] for t in event]
        cycle = (
            [
                ("warning", "Alarm Raised", "warning"),
                ("critical", "Alarm Escalated", "critical"),
                ("recovery", "Alarm Cleared", "critical"),
            ]
            if critical
            else [("warning", "Alarm Raised", "warning"), ("recovery", "Alarm Cleared", "warning")]
        )
        # a latch rule's alarm back to normal stays LATCHED: no clear until someone acknowledges it
        assert caused == (cycle[:-1] if rule.latch else cycle)
        escalated += critical
        assert all(
            e["alarm_id"] == alarm and e["rule_id"] == rule.rule_id
            for t in event
            for e in t["expected_transitions"]
        )
        first = event[0]["timestamp_ms"]
        raised_at = next(t for t in event if t["expected_transitions"])
        if rule.m is None:
            # raised by the first reading held for_seconds after the first crossing, not one earlier
            before = event[event.index(raised_at) - 1]
            assert raised_at["timestamp_ms"] - first >= rule.for_ms > before["timestamp_ms"] - first
        else:
            assert event.index(raised_at) == rule.m - 1
        if rule.latch:
            continue
        recovery = [t for t in event if t["phase"] == "recovery"]
        cleared_at = next(i for i, t in enumerate(recovery) if t["expected_transitions"])
        # M-of-N clears when fewer than M of the last N are out; the rate rule holds one more reading
        assert cleared_at == ((rule.n - rule.m) if rule.m else 0) + (1 if rule.rate_max_per_min else 0)
    assert escalated >= 5 and escalated < len(complete)


def test_spikes_are_one_critical_reading_the_rules_debounce(records):
    rules = load_sensor_rules()
    events = _events(records, "spike")
    assert len(events) >= 5

    for event in events.values():
        assert [t["phase"] for t in event] in (
            ["peak"],
            ["peak", "recovery"],
            ["peak", "recovery", "recovery"],
        )
        assert _beyond_critical(event[0]["sensor_type"], event[0]["canonical_value"])
        assert all(t["expected_level"] == "normal" for t in event[1:])
        assert all(t["expected_transitions"] == [] for t in event)
        interval = event[1]["tick_ms"] - event[0]["tick_ms"] if len(event) > 1 else 10_000
        assert spike_is_debounced(rules[event[0]["sensor_type"]], interval)


def test_only_alarm_scenarios_predict_transitions(records):
    for r in records:
        if r.truth["scenario"] in ("excursion", "spike") and r.truth["kind"] == "valid":
            assert isinstance(r.truth["expected_transitions"], list)
        else:
            assert "expected_transitions" not in r.truth


def test_stuck_sensors_repeat_one_value(records):
    events = defaultdict(list)
    for r in records:
        if r.truth["scenario"] == "stuck":
            events[r.truth["event_id"]].append(r.truth)
    assert events

    for event in events.values():
        assert event[0]["phase"] == "start"
        held = [t["value"] for t in event if t["phase"] in ("start", "hold")]
        assert len(set(held)) == 1
    assert max(len(e) for e in events.values()) >= 7


def test_dropouts_are_silent_between_start_and_recovery(records):
    ticks = defaultdict(set)
    for r in records:
        if r.truth["kind"] in ("valid", "clock_skew"):
            ticks[r.truth["device_id"]].add(r.truth["tick_ms"])
    events = defaultdict(list)
    for r in records:
        if r.truth["scenario"] == "dropout":
            events[r.truth["event_id"]].append(r.truth)
    complete = [e for e in events.values() if {t["phase"] for t in e} == {"start", "recovery"}]
    assert complete

    for event in complete:
        device = event[0]["device_id"]
        silent_from = max(t["tick_ms"] for t in event if t["phase"] == "start")
        back_at = min(t["tick_ms"] for t in event if t["phase"] == "recovery")
        recovery = next(t for t in event if t["phase"] == "recovery")
        assert recovery["gap_ms"] == back_at - silent_from
        assert not {tick for tick in ticks[device] if silent_from < tick < back_at}
        assert back_at - silent_from >= 6 * min(pairwise_gaps(ticks[device]))


def pairwise_gaps(ticks: set[int]) -> list[int]:
    return [b - a for a, b in pairwise(sorted(ticks))]


def test_normal_readings_stay_inside_the_normal_band(records):
    normal = [r.truth for r in records if r.truth["kind"] == "valid" and r.truth["scenario"] is None]
    inside = [
        t
        for t in normal
        if NORMAL_BAND[t["sensor_type"]][0] <= t["canonical_value"] <= NORMAL_BAND[t["sensor_type"]][1]
    ]

    assert all(t["expected_level"] == "normal" for t in normal)
    assert len(inside) / len(normal) >= 0.97


def test_rates_of_zero_turn_injection_off():
    quiet = list(generate(dataclasses.replace(BUSY, scenario_rate=0.0, malformed_rate=0.0, duration_s=600)))

    assert {(r.truth["kind"], r.truth["scenario"]) for r in quiet} == {("valid", None)}


def test_scenario_mix_selects_scenarios():
    only_spikes = dataclasses.replace(BUSY, scenario_mix={"spike": 1.0}, malformed_rate=0.0, duration_s=1200)

    assert {r.truth["scenario"] for r in generate(only_spikes)} == {None, "spike"}


def test_interval_override_sets_every_device_cadence():
    recs = list(
        generate(
            dataclasses.replace(
                BUSY, devices=5, interval_s=5, scenario_rate=0, malformed_rate=0, duration_s=60
            )
        )
    )
    ticks = defaultdict(set)
    for r in recs:
        ticks[r.partition_key].add(r.truth["tick_ms"])

    assert all(set(pairwise_gaps(t)) == {5000} and len(t) == 12 for t in ticks.values())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"devices": 201}, "devices (--devices) must be between 1 and 200"),
        ({"duration_s": 0}, "duration (--duration) must be more than 0"),
        ({"duration_s": 8 * 86_400}, "at most 601200 s"),
        ({"interval_s": 0.2}, "interval (--interval) must be at least 1 s"),
        ({"malformed_rate": 1.5}, "malformed_rate (--malformed-rate) must be a probability"),
        ({"scenario_mix": {"meteor": 1.0}}, "unknown name(s) meteor"),
        ({"scenario_mix": {"spike": 0.0}}, "at least one weight must be above 0"),
        ({"start_ms": -1}, "start (--start) must be at or after 1970"),
    ],
)
def test_bad_configs_are_rejected(overrides, message):
    with pytest.raises(SimulationError) as err:
        SimConfig(**overrides).resolved()
    assert message in str(err.value)
