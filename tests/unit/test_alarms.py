"""The alarm state machine, table-driven: readings in, exact transitions and states out."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sensorflow.core import alarms as am
from sensorflow.core import staleness
from sensorflow.core.clock import iso
from sensorflow.core.contract import Transition
from sensorflow.core.errors import ConfigError
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.rules import parse_rule_book
from tests.factories import NOW_MS, SHARD, device, seq_number

TYPES = {"temperature", "humidity", "pressure", "vibration", "co2"}
T0 = NOW_MS - 3_600_000
DEV = device("dev-00001")


def book(**fields):
    rule = {"id": "t", "sensor_type": "temperature", "warning": {"max": 35.0}, "critical": {"max": 45.0}}
    rule.update(fields)
    return parse_rule_book({"version": 2, "rules": [rule]}, TYPES)


def run(rule, values, every_s=10, start=None, first_seq=1):
    """Step one alarm through ``values`` (one reading every ``every_s`` seconds of device time).

    Returns (final alarm, [(reading index, transition, severity)], states after each reading).
    """
    alarm = start or am.Alarm.new("dev-00001", "temperature", rule.rule_id)
    out, states, prev = [], [], None
    for i, v in enumerate(values):
        ts = T0 + i * every_s * 1000
        sample = am.Sample(
            "dev-00001", "temperature", first_seq + i, ts, ts + 500, v, "C", *(prev or (None, None))
        )
        alarm, events = am.step(alarm, rule, sample, DEV)
        out += [(i, e.transition, e.severity) for e in events]
        states.append(alarm.state)
        prev = (ts, v)
    return alarm, out, states


R, E, C = Transition.RAISED, Transition.ESCALATED, Transition.CLEARED


@pytest.mark.parametrize(
    ("name", "fields", "values", "expected", "final"),
    [
        ("plain raise and clear", {}, [20, 36, 37, 20], [(1, R, "warning"), (3, C, "warning")], "NORMAL"),
        ("on the line is not over it", {}, [35, 35, 35], [], "NORMAL"),
        # for_seconds=30 with a reading every 10 s: the 4th crossing reading is 30 s after the first
        ("duration met", {"for_seconds": 30}, [36, 36, 36, 36, 36], [(3, R, "warning")], "ACTIVE"),
        ("duration not met", {"for_seconds": 30}, [36, 36, 36, 20, 36, 36, 36], [], "PENDING"),
        (
            "duration: a dip resets the clock",
            {"for_seconds": 30},
            [36, 36, 20, 36, 36, 36, 36],
            [(6, R, "warning")],
            "ACTIVE",
        ),
        ("M-of-N met", {"m_of_n": {"m": 3, "n": 5}}, [36, 20, 36, 20, 36], [(4, R, "warning")], "ACTIVE"),
        ("M-of-N not met", {"m_of_n": {"m": 3, "n": 5}}, [36, 20, 20, 20, 36, 20, 20, 20, 36], [], "PENDING"),
        (
            "M-of-N clears when fewer than M stay out",
            {"m_of_n": {"m": 2, "n": 3}},
            [36, 36, 20, 20],
            [(1, R, "warning"), (3, C, "warning")],
            "NORMAL",
        ),
        (
            "hysteresis: hovering at the line does not flap",
            {"deadband": 2.0},  # clears below 33
            [36, 34.5, 35.5, 34.0, 35.2, 33.5, 32.5, 35.5],
            [(0, R, "warning"), (6, C, "warning"), (7, R, "warning")],
            "ACTIVE",
        ),
        (
            "without hysteresis the same values flap",
            {},
            [36, 34.5, 35.5, 34.0, 35.2, 33.5, 35.5],
            [
                (0, R, "warning"),
                (1, C, "warning"),
                (2, R, "warning"),
                (3, C, "warning"),
                (4, R, "warning"),
                (5, C, "warning"),
                (6, R, "warning"),
            ],
            "ACTIVE",
        ),
        (
            "explicit clear band",
            {"clear": {"max": 30.0}},
            [36, 31, 32, 29.9],
            [(0, R, "warning"), (3, C, "warning")],
            "NORMAL",
        ),
        (
            "escalation warning -> critical",
            {},
            [36, 46, 47, 20],
            [(0, R, "warning"), (1, E, "critical"), (3, C, "critical")],
            "NORMAL",
        ),
        (
            "severity does not drop while raised",
            {},
            [46, 36, 46, 20],
            [(0, R, "critical"), (3, C, "critical")],
            "NORMAL",
        ),
        (
            "escalation waits for the duration too",
            {"for_seconds": 20},
            [36, 36, 36, 46, 46, 46, 20],
            [(2, R, "warning"), (5, E, "critical"), (6, C, "critical")],
            "NORMAL",
        ),
        (
            # 20 -> 22 in 10 s is 12 C/min: over 5, a warning; back to 1 C/min is under clear_per_minute
            "rate of change",
            {"rate_of_change": {"max_per_minute": 5.0, "severity": "warning", "clear_per_minute": 2.0}},
            [20, 20.1, 22, 22.1, 22.2],
            [(2, R, "warning"), (3, C, "warning")],
            "NORMAL",
        ),
        (
            "rate hysteresis holds between clear and max per minute",
            {"rate_of_change": {"max_per_minute": 5.0, "severity": "critical", "clear_per_minute": 2.0}},
            [20, 22, 22.5, 23.0, 23.1],
            [(1, R, "critical"), (4, C, "critical")],
            "NORMAL",
        ),
    ],
)
def test_transitions(name, fields, values, expected, final):
    alarm, events, _ = run(book(**fields).get("t"), values)
    assert events == expected, name
    assert alarm.state == final, name


def device_run(rule, values, *, seqs=None, first=0, every_s=10, state=None, alarms=None, start_ts=T0):
    """``apply_readings`` over one device's temperature readings: reading i has device time
    ``start_ts + i * every_s`` s, Kinesis sequence number ``first + i`` and device seq ``seqs[i]``.

    Returns the ``Applied`` result and [(reading index, transition, severity)].
    """
    planned = []
    for i, v in enumerate(values):
        ts = start_ts + i * every_s * 1000
        r = Reading("dev-00001", "temperature", v, "C", ts, (seqs or list(range(1, len(values) + 1)))[i])
        e = EnrichedReading(r, DEV, v, "C", ts + 500, SHARD, seq_number(first + i))
        planned.append(am.PlannedReading(i, e, [rule]))
    applied = am.apply_readings(state or am.DeviceState("dev-00001"), alarms or {}, planned)
    return applied, [(i, ev.transition, ev.severity) for i, ev in applied.events]


def test_replayed_and_late_readings_emit_nothing():
    rule = book().get("t")
    # GIVEN a device whose alarm was raised by its 2nd reading and cleared by its 3rd
    done, events = device_run(rule, [20, 36, 20])
    assert [e[1] for e in events] == [R, C]
    # WHEN the same records come again (a Lambda rewind), and a late reading (older device time) with 50 C
    again, replayed = device_run(rule, [20, 36, 20], state=done.state, alarms=done.alarms)
    late, late_events = device_run(
        rule, [50], first=9, state=done.state, alarms=done.alarms, start_ts=T0 + 5_000
    )
    # THEN nothing changes, nothing is emitted, and each is counted for what it is
    assert (again.changed, replayed, again.replayed, again.late) == (False, [], 3, 0)
    assert (late.changed, late_events, late.replayed, late.late) == (False, [], 0, 1)


def test_a_producer_retry_of_the_same_payload_is_a_duplicate_not_a_second_reading():
    rule = book().get("t")
    done, _ = device_run(rule, [20, 36])
    # WHEN the producer resends the last payload (same device time, new sequence number)
    dup, events = device_run(rule, [36], first=5, state=done.state, alarms=done.alarms, start_ts=T0 + 10_000)
    assert (dup.changed, events, dup.late) == (False, [], 1)


def test_a_device_that_restarts_its_seq_keeps_raising_and_clearing():
    rule = book().get("t")
    # GIVEN a device raised and cleared with seq 1000..1002
    done, events = device_run(rule, [20, 36, 20], seqs=[1000, 1001, 1002])
    assert [e[1] for e in events] == [R, C]
    # WHEN it reboots and counts from 1 again, with newer device times
    rebooted, events = device_run(
        rule, [36, 20], seqs=[1, 2], first=3, state=done.state, alarms=done.alarms, start_ts=T0 + 30_000
    )
    # THEN its readings still drive the alarm, with event ids of their own
    assert [e[1] for e in events] == [R, C]
    ids = {ev.event_id for _, ev in done.events} | {ev.event_id for _, ev in rebooted.events}
    assert len(ids) == 4


def test_an_absurd_seq_changes_nothing_for_the_readings_that_follow():
    rule = book().get("t")
    # GIVEN a reading with seq 2**62 (forged or corrupt) among genuine ones
    _, events = device_run(rule, [20, 36, 20, 50, 20], seqs=[1, 2**62, 3, 4, 5])
    # THEN every later reading still counts: raised, cleared, raised (critical), cleared
    assert [(e[1], e[2]) for e in events] == [
        (R, "warning"),
        (C, "warning"),
        (R, "critical"),
        (C, "critical"),
    ]


def test_event_ids_are_deterministic_and_the_message_has_the_contract_shape():
    rule = book(for_seconds=0, deadband=1.0).get("t")
    a = am.Alarm.new("dev-00001", "temperature", "t")
    s = am.Sample("dev-00001", "temperature", 7, T0, T0 + 250, 36.5, "C")
    _, [ev1] = am.step(a, rule, s, DEV)
    _, [ev2] = am.step(a, rule, s, DEV)
    assert ev1 == ev2
    assert ev1.event_id == am.event_id("dev-00001#temperature#t", "Alarm Raised", 7)
    assert len(ev1.event_id) == 32
    msg = json.loads(json.dumps(ev1.to_message()))
    assert msg == {
        "event_id": ev1.event_id,
        "transition": "Alarm Raised",
        "occurred_at": iso(T0),
        "alarm": {
            "alarm_id": "dev-00001#temperature#t",
            "device_id": "dev-00001",
            "sensor_type": "temperature",
            "rule_id": "t",
            "state": "ACTIVE",
            "severity": "warning",
            "since": iso(T0),
            "acknowledged_by": None,
            "note": None,
            "snoozed_until": None,
            "episode": 1,
            "updated_by": None,
            "caller_arn": None,
            "disabled_until": None,
        },
        "reading": {"value": 36.5, "unit": "C", "timestamp": iso(T0), "seq": 7},
        "rule": {
            "rule_id": "t",
            "bound": "max",
            "threshold": 35.0,
            "clear_threshold": 34.0,
            "for_seconds": None,
        },
        "device": {
            "device_id": "dev-00001",
            "site": "site-a",
            "location": "line-1/press-3",
            "model": "TH-200",
            "owner_team": "plant-ops",
        },
        "suppressed": None,
    }
    assert ev1.attributes() == {
        "transition": "Alarm Raised",
        "severity": "warning",
        "sensor_type": "temperature",
        "site": "site-a",
        "device_id": "dev-00001",
        "owner_team": "plant-ops",
        "suppressed": "none",
    }


def test_acknowledge_then_clear():
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    acked, [ack] = am.acknowledge(active, "ana", "on it", T0 + 1_000, rule, DEV)
    assert (acked.state, acked.acknowledged_by, acked.note) == ("ACKNOWLEDGED", "ana", "on it")
    assert ack.transition == "Alarm Acknowledged"
    assert ack.to_message()["alarm"]["acknowledged_by"] == "ana"
    # still over the line: stays acknowledged, silently
    still, events, _ = run(rule, [37, 38], start=acked, first_seq=2)
    assert (still.state, events) == ("ACKNOWLEDGED", [])
    # cleared: back to NORMAL with one Alarm Cleared, and the acknowledgement is gone
    done, events, _ = run(rule, [20], start=still, first_seq=4)
    assert events == [(0, C, "warning")]
    assert (done.state, done.acknowledged_by) == ("NORMAL", None)
    with pytest.raises(am.ActionNotAllowedError, match="only an ACTIVE or LATCHED alarm"):
        am.acknowledge(done, "ana", None, T0, rule)


def test_escalation_while_acknowledged_reraises():
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    acked, _ = am.acknowledge(active, "ana", None, T0 + 1, rule)
    after, events, _ = run(rule, [46], start=acked, first_seq=2)
    assert events == [(0, E, "critical")]
    assert (after.state, after.acknowledged_by) == ("ACTIVE", None)


@pytest.mark.parametrize(
    ("values", "expected", "final"),
    [
        # snoozed while raised: more crossings and an escalation are silent; at expiry the episode it hid
        # is still open, so the escalation is told then (never a second "Alarm Raised" without a clear)
        ([37, 46, 46], [(2, E, "critical")], "ACTIVE"),
        # the condition clears during the snooze: Cleared is told (the raise was), then nothing on expiry
        ([20, 20, 20], [(0, C, "warning")], "NORMAL"),
    ],
)
def test_snooze_expiry(values, expected, final):
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    # snooze until just before the 3rd of the next readings (they arrive at T0 + i*10 s + 500 ms)
    until = T0 + 2 * 10_000
    snoozed, [ev] = am.snooze(active, until, "bo", "maintenance", T0 + 100, rule)
    assert (snoozed.state, ev.transition) == ("SNOOZED", "Alarm Snoozed")
    after, events, states = run(rule, values, start=snoozed, first_seq=2, every_s=10)
    assert events == expected
    assert states[:2] == ["SNOOZED", "SNOOZED"]
    assert (after.state, after.snoozed_until_ms) == (final, None)


def test_snooze_from_normal_hides_a_raise_until_expiry():
    rule = book().get("t")
    idle = am.Alarm.new("dev-00001", "temperature", "t")
    snoozed, _ = am.snooze(idle, T0 + 15_000, "bo", None, T0 - 1, rule)
    after, events, states = run(rule, [36, 36, 36], start=snoozed)
    assert states == ["SNOOZED", "SNOOZED", "ACTIVE"]
    assert events == [(2, R, "warning")]
    # a raise that clears inside the snooze is never told at all
    after, events, _ = run(rule, [36, 20, 20], start=snoozed)
    assert (events, after.state) == ([], "NORMAL")


def test_disable_and_enable():
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    off, [ev] = am.disable(active, "cy", "sensor replaced", T0 + 1, rule)
    assert (off.state, ev.transition, off.raised) == ("DISABLED", "Alarm Disabled", False)
    still_off, events, _ = run(rule, [50, 20, 50], start=off, first_seq=2)
    assert (still_off.state, events) == ("DISABLED", [])
    on, [ev] = am.enable(still_off, "cy", None, T0 + 2, rule)
    assert (on.state, ev.transition) == ("NORMAL", "Alarm Enabled")
    again, events, _ = run(rule, [36], start=on, first_seq=10)
    assert events == [(0, R, "warning")]
    with pytest.raises(am.ActionNotAllowedError):
        am.enable(again, "cy", None, T0, rule)


def sample(sensor="temperature", seq=1, arrival=T0, value=21.0):
    return am.Sample("dev-00001", sensor, seq, arrival - 200, arrival, value, "C")


def test_device_stale_when_a_sensor_goes_silent_and_cleared_when_it_reports():
    s0 = am.DeviceState("dev-00001")
    s1, _ = s0.observe(sample("temperature", 1, T0), 300, DEV)
    s2, _ = s1.observe(sample("humidity", 2, T0 + 10_000), 600, DEV)
    # GIVEN the earliest deadline: temperature's 300 s after its newest device timestamp (T0 - 200)
    deadline = T0 - 200 + 300_000
    assert (s2.last_seen_ms, s2.stale_deadline_ms) == (T0 + 10_000, deadline)
    assert s2.stale_bucket == staleness.stale_bucket("dev-00001", deadline)
    # WHEN the heartbeat looks before the deadline: nothing
    assert am.device_staleness(s2, deadline - 1) == (s2, [])
    # WHEN after it: one Device Stale, with the contract's deterministic id
    stale, [ev] = am.device_staleness(s2, T0 + 330_000)
    assert (ev.transition, ev.event_id) == (
        "Device Stale",
        staleness.stale_event_id("dev-00001", deadline),
    )
    assert ev.to_message()["alarm"]["alarm_id"] == "dev-00001#device#device-stale"
    assert ev.to_message()["rule"] == {
        "rule_id": "device-stale",
        "bound": "stale",
        "threshold": 300.0,
        "clear_threshold": None,
        "for_seconds": 300,
    }
    assert stale.stale_since_ms == deadline
    # AND the next run finds it raised already
    assert am.device_staleness(stale, T0 + 390_000) == (stale, [])
    # a humidity reading does not clear it: temperature is still silent
    still, events = stale.observe(sample("humidity", 3, T0 + 400_000), 600, DEV)
    assert (events, still.stale_since_ms) == ([], deadline)
    # the temperature reading does: one Alarm Cleared keyed on its seq; a replay of it emits nothing
    back, [cleared] = still.observe(sample("temperature", 4, T0 + 410_000), 300, DEV)
    assert (cleared.transition, cleared.event_id) == (
        "Alarm Cleared",
        am.event_id("dev-00001#device#device-stale", "Alarm Cleared", 4),
    )
    assert back.stale_since_ms is None
    assert back.observe(sample("temperature", 4, T0 + 410_000), 300, DEV) == (back, [])


def test_staleness_is_measured_on_device_time_not_arrival():
    # GIVEN a gateway that uploads readings taken 10 minutes ago, all arriving now
    backlog, _ = am.DeviceState("dev-00001").observe(sample("temperature", 1, T0 - 600_000 + 200), 300, DEV)
    uploaded = replace(backlog, last_seen_ms=T0)
    # THEN the device is already past its deadline: silent for 10 minutes of device time
    assert uploaded.stale_deadline_ms == T0 - 300_000
    assert am.device_staleness(uploaded, T0)[1][0].transition == "Device Stale"
    # AND a late reading with an older timestamp does not move the deadline back
    later, _ = backlog.observe(
        am.Sample("dev-00001", "temperature", 2, T0 - 900_000, T0, 21.0, "C"), 300, DEV
    )
    assert later.stale_deadline_ms == backlog.stale_deadline_ms


def test_device_override_applies_and_is_validated():
    rules = parse_rule_book(json.loads(Path("sensorflow/rules.json").read_text()), TYPES)
    base = rules.get("temperature-range")
    hot = device(
        "dev-00009",
        thresholds={
            "temperature-range": {"warning": {"max": 50.0}, "critical": {"max": 60.0}, "for_seconds": 0}
        },
    )
    resolved = rules.resolve(base, hot)
    assert (resolved.levels["warning"].max, resolved.levels["warning"].min, resolved.for_seconds) == (
        50.0,
        0.0,
        0,
    )
    assert resolved.clear.max == 49.0  # the file's deadband still applies
    bad = device("dev-00009", thresholds={"temperature-range": {"deadband": -1}})
    with pytest.raises(ConfigError, match="device override of rule 'temperature-range': field 'deadband'"):
        rules.resolve(base, bad)


def test_the_shipped_rules_keep_their_version_1_thresholds():
    rules = parse_rule_book(json.loads(Path("sensorflow/rules.json").read_text()), TYPES)
    assert {r.rule_id: (r.levels["warning"].max, r.levels["critical"].max) for r in rules} == {
        "temperature-range": (35.0, 45.0),
        "humidity-range": (80.0, 90.0),
        "pressure-range": (1050.0, 1100.0),
        "vibration-level": (7.1, 11.2),
        "co2-level": (1000.0, 2000.0),
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"for_seconds": 30, "m_of_n": {"m": 1, "n": 2}},
            "rule 't': fields 'for_seconds' and 'm_of_n' are exclusive",
        ),
        ({"for_seconds": -5}, "rule 't': field 'for_seconds' must be a whole number"),
        ({"for_seconds": 1.5}, "rule 't': field 'for_seconds' must be a whole number"),
        ({"m_of_n": {"m": 4, "n": 3}}, "rule 't': field 'm_of_n.m' (4) must not exceed 'm_of_n.n' (3)"),
        ({"m_of_n": {"m": 1}}, "rule 't': field 'm_of_n' must be an object with exactly 'm' and 'n'"),
        ({"deadband": 1, "clear": {"max": 30}}, "rule 't': fields 'deadband' and 'clear' are exclusive"),
        ({"deadband": "wide"}, "rule 't': field 'deadband' must be a finite number"),
        ({"clear": {"max": 40}}, "rule 't': field 'clear.max' (40) must not be above the raise max (35)"),
        ({"clear": {"min": 3}}, "rule 't': field 'clear.min' has no 'min' threshold to clear"),
        (
            {"rate_of_change": {"severity": "warning"}},
            "rule 't': field 'rate_of_change.max_per_minute' is required",
        ),
        (
            {"rate_of_change": {"max_per_minute": 5, "severity": "fatal"}},
            "rule 't': field 'rate_of_change.severity'",
        ),
        (
            {"rate_of_change": {"max_per_minute": 5, "clear_per_minute": 9}},
            "'rate_of_change.clear_per_minute' must be from 0",
        ),
        ({"stale_after_seconds": 0}, "rule 't': field 'stale_after_seconds' must be a whole number from 1"),
        ({"for_secs": 30}, "rule 't': field 'for_secs' is not known"),
        ({"id": "T.1"}, "field 'id' must match"),
    ],
)
def test_bad_rules_name_the_rule_and_field(fields, message):
    rule = {"id": "t", "sensor_type": "temperature", "warning": {"max": 35.0}, "critical": {"max": 45.0}}
    rule.update(fields)
    with pytest.raises(ConfigError) as err:
        parse_rule_book({"version": 2, "rules": [rule]}, TYPES)
    assert message in str(err.value)


def test_a_deadline_already_past_on_arrival_is_bucketed_at_the_arrival_minute():
    # GIVEN a backlog reading 10 minutes old: its deadline passed 5 minutes before it arrived
    state, _ = am.DeviceState("dev-00001").observe(sample("temperature", 1, T0 - 600_000 + 200), 300, DEV)
    arrived = replace(state, last_seen_ms=T0)
    # THEN it is indexed where a heartbeat that already passed the deadline's minute still looks
    assert arrived.stale_deadline_ms == T0 - 300_000
    assert arrived.stale_bucket == staleness.stale_bucket("dev-00001", T0)
    # AND a live reading is indexed at its deadline
    assert state.stale_bucket == staleness.stale_bucket("dev-00001", state.stale_deadline_ms)
