"""The alarm evaluator over in-memory fakes: the store's optimistic versions and outbox, two publishers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from sensorflow.core import alarms as am
from sensorflow.core.errors import ConfigError
from sensorflow.core.ports import StoredTransition
from sensorflow.core.records import Device, EnrichedReading, Reading
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from tests.factories import NOW_MS, SHARD, TEMPERATURE_RULES, device, seq_number
from tests.fakes import FakeAlarmStore, FakePublisher

RULES = TEMPERATURE_RULES
[RULE] = RULES.for_sensor("temperature")
ALARM = "dev-00001#temperature#temperature-range"
DEVICE_KEY = "dev-00001#__device__"
T0 = NOW_MS - 600_000

# Readings every 10 s of device time: two normal, eight at 40 C (warning held 60 s from index 2 to 8),
# seven at 50 C (critical held 60 s from index 10 to 16), then two at 30 C (below the 34 C clear line).
BATCH = [20.0, 20.0, *[40.0] * 8, *[50.0] * 7, 30.0, 30.0]
RAISE_AT, ESCALATE_AT, CLEAR_AT = 8, 16, 17


def plenty() -> int:
    return 60_000


def enriched(values: Sequence[float], first_seq: int = 1, dev: Device | None = None) -> list[EnrichedReading]:
    registered = dev or device("dev-00001")
    out = []
    for i, v in enumerate(values):
        ts = T0 + i * 10_000
        r = Reading("dev-00001", "temperature", v, "C", ts, first_seq + i)
        out.append(EnrichedReading(r, registered, v, "C", ts + 300, SHARD, seq_number(first_seq + i)))
    return out


def eid(transition: str, index: int, first_seq: int = 1) -> str:
    """The deterministic id of the transition caused by reading ``index``: its Kinesis sequence number."""
    return am.event_id(ALARM, transition, int(seq_number(first_seq + index)))


def emitted(items) -> list[tuple[int, str, str]]:
    return [(e.index, e.event.to_message()["transition"], e.event.event_id) for e in items]


def build(store: FakeAlarmStore | None = None):
    store = store or FakeAlarmStore()
    sns, bus = FakePublisher("sns"), FakePublisher("eventbridge")
    return AlarmEvaluator(store, RULES, [sns, bus]), store, sns, bus


EXPECTED = [
    (RAISE_AT, "Alarm Raised", eid("Alarm Raised", RAISE_AT)),
    (ESCALATE_AT, "Alarm Escalated", eid("Alarm Escalated", ESCALATE_AT)),
    (CLEAR_AT, "Alarm Cleared", eid("Alarm Cleared", CLEAR_AT)),
]


def test_raise_escalate_and_clear_over_one_batch():
    # GIVEN no stored state
    evaluator, store, sns, bus = build()
    # WHEN one batch crosses warning, then critical, then falls back below the clear line
    out = evaluator.evaluate(enriched(BATCH), plenty)
    # THEN exactly three transitions come out, in order, each at the reading that caused it
    assert emitted(out.events) == EXPECTED
    assert (out.undelivered, out.failed_from, out.skipped) == ([], None, 0)
    assert [(d["alarm"]["severity"], d["reading"]["seq"]) for d in sns.delivered] == [
        ("warning", RAISE_AT + 1),
        ("critical", ESCALATE_AT + 1),
        ("critical", CLEAR_AT + 1),  # a clear carries the severity it had, for critical-only filters
    ]
    # AND both publishers got the same events, one call per event of the alarm so they go out in order
    assert sns.event_ids == bus.event_ids == [e for _, _, e in EXPECTED]
    assert sns.calls == bus.calls == [[e] for _, _, e in EXPECTED]
    # AND the device item (state and every alarm) was written once with its outbox, then the outbox cleared
    assert store.writes == [("put_device", "dev-00001", 1), ("clear_device_outbox", "dev-00001", 2)]
    assert out.writes == 2
    dev = store.devices["dev-00001"]
    # a cleared alarm is a fresh one again: nothing of it is stored
    assert (_episodes(dev.alarms), dev.outbox) == (
        {"dev-00001#temperature#temperature-range": ("NORMAL", 1)},
        (),
    )
    assert (dev.state.last_sequence, dev.state.stale_deadline_ms) == (
        int(seq_number(len(BATCH))),
        T0 + (len(BATCH) - 1) * 10_000 + 300_000,
    )


def test_a_replayed_batch_emits_nothing_new():
    # GIVEN a batch that was evaluated and published
    evaluator, store, sns, bus = build()
    evaluator.evaluate(enriched(BATCH), plenty)
    writes_before = list(store.writes)
    # WHEN the same batch is delivered again (Lambda retry, producer duplicate)
    out = evaluator.evaluate(enriched(BATCH), plenty)
    # THEN the replay guard refuses every reading: nothing is written or published
    assert (out.skipped, out.events, out.undelivered, out.failed_from, out.writes) == (
        len(BATCH),
        [],
        [],
        None,
        0,
    )
    assert store.writes == writes_before
    assert (len(sns.calls), len(bus.calls)) == (3, 3)
    assert sns.event_ids == bus.event_ids == [e for _, _, e in EXPECTED]


def test_a_publish_failure_stays_in_the_outbox_and_is_resent_only_to_the_publisher_that_missed_it():
    # GIVEN SNS takes everything and EventBridge refuses the escalation
    readings = enriched(BATCH)
    escalated, cleared = eid("Alarm Escalated", ESCALATE_AT), eid("Alarm Cleared", CLEAR_AT)
    evaluator, store, sns, bus = build()
    bus.fail_ids = {escalated}
    # WHEN the batch is evaluated
    out = evaluator.evaluate(readings, plenty)
    # THEN the escalation is undelivered to EventBridge, and so is the clear after it (per alarm, in order:
    # EventBridge consumers must not see the clear before the escalation), failing from the escalation
    assert emitted(out.events) == [EXPECTED[0]]
    assert emitted(out.undelivered) == [EXPECTED[1], EXPECTED[2]]
    assert out.failed_from == ESCALATE_AT
    # AND the outbox keeps both, owed to EventBridge only; the state itself is committed
    dev = store.devices["dev-00001"]
    assert [(t.event_id, t.pending) for t in dev.outbox] == [
        (escalated, ("eventbridge",)),
        (cleared, ("eventbridge",)),
    ]
    assert isinstance(dev.outbox[0], StoredTransition)
    assert (_episodes(dev.alarms), dev.state.last_sequence) == (
        {"dev-00001#temperature#temperature-range": ("NORMAL", 1)},
        int(seq_number(len(BATCH))),
    )
    assert sns.event_ids == [e for _, _, e in EXPECTED]
    assert bus.event_ids == [EXPECTED[0][2]]
    # WHEN EventBridge recovers and Lambda redelivers from the failed record
    bus.fail_ids = set()
    sns_calls = len(sns.calls)
    again = evaluator.evaluate(readings[ESCALATE_AT:], plenty)
    # THEN the replayed readings are skipped and the escalation, then the clear, go to EventBridge only
    assert (again.skipped, again.failed_from, emitted(again.events)) == (
        len(BATCH) - ESCALATE_AT,
        None,
        # index: the first redelivered reading of the device
        [(0, "Alarm Escalated", escalated), (0, "Alarm Cleared", cleared)],
    )
    assert len(sns.calls) == sns_calls
    assert sns.event_ids == [e for _, _, e in EXPECTED]  # SNS subscribers saw it exactly once
    assert bus.calls[-2:] == [[escalated], [cleared]]  # one event of an alarm per call: in order
    assert bus.event_ids == [e for _, _, e in EXPECTED]
    assert store.devices["dev-00001"].outbox == ()


def test_both_publishers_down_keeps_everything_and_fails_from_the_first_transition():
    # GIVEN both publishers refuse their next call
    evaluator, store, sns, bus = build()
    sns.fail_calls = bus.fail_calls = 1
    # WHEN the batch is evaluated
    out = evaluator.evaluate(enriched(BATCH), plenty)
    # THEN nothing is delivered, every transition is kept owed to both, failing from the raise
    assert (out.events, emitted(out.undelivered), out.failed_from) == ([], EXPECTED, RAISE_AT)
    assert [(t.event_id, t.pending) for t in store.devices["dev-00001"].outbox] == [
        (e, ("eventbridge", "sns")) for _, _, e in EXPECTED
    ]
    assert sns.delivered == bus.delivered == []


def test_a_version_conflict_is_reread_and_reapplied():
    # GIVEN an active warning alarm (raised at the seventh reading)
    evaluator, store, sns, bus = build()
    evaluator.evaluate(enriched([40.0] * 7), plenty)
    assert store.devices["dev-00001"].alarms[ALARM].state == "ACTIVE"
    ack_at = T0 + 65_000

    def operator_acknowledges() -> None:
        current = store.devices["dev-00001"]
        acked, events = am.acknowledge(current.alarms[ALARM], "ana", "looking", ack_at, RULE)
        # the operator CLI writes the device item with state + outbox, publishes later
        store.put_device(current.state, {**current.alarms, ALARM: acked}, events)

    # AND the operator acknowledges between the evaluator's read and its write
    store.interleave("dev-00001", operator_acknowledges)
    # WHEN a critical excursion (held 60 s) arrives, as the next readings in device time
    later = [
        replace(e, reading=replace(e.reading, timestamp_ms=e.reading.timestamp_ms + 70_000))
        for e in enriched([50.0] * 7, first_seq=8)
    ]
    out = evaluator.evaluate(later, plenty)
    # THEN the first write lost the race; the evaluator re-read the device and re-applied on top of the ack
    assert store.loads[-1] == ("dev-00001",)
    assert emitted(out.events) == [
        (0, "Alarm Acknowledged", am.event_id(ALARM, "Alarm Acknowledged", ack_at)),
        (6, "Alarm Escalated", am.event_id(ALARM, "Alarm Escalated", int(seq_number(14)))),
    ]
    assert out.failed_from is None
    assert sns.event_ids[1:] == bus.event_ids[1:] == [e.event.event_id for e in out.events]
    # AND the escalation made the acknowledged alarm active again, outbox drained
    final = store.devices["dev-00001"]
    alarm = final.alarms[ALARM]
    assert (alarm.state, alarm.severity, alarm.acknowledged_by, final.outbox) == (
        "ACTIVE",
        "critical",
        None,
        (),
    )
    assert store.writes[-3:] == [
        ("put_device", "dev-00001", 3),  # the operator's acknowledgement
        ("put_device", "dev-00001", 4),  # the evaluator's re-applied write
        ("clear_device_outbox", "dev-00001", 5),
    ]


def test_conflicts_beyond_the_retry_limit_fail_from_the_devices_first_reading():
    # GIVEN another writer moves the device item before every one of the evaluator's writes
    store = FakeAlarmStore()
    evaluator = AlarmEvaluator(store, RULES, [FakePublisher("sns")], max_conflict_retries=2)

    def another_writer() -> None:
        current = store.devices.get("dev-00001")
        state = current.state if current else am.DeviceState("dev-00001")
        store.put_device(replace(state, context={"note": "touched"}), current.alarms if current else {})

    store.interleave("dev-00001", another_writer, times=3)
    # WHEN a batch is evaluated
    out = evaluator.evaluate(enriched(BATCH), plenty)
    # THEN it fails from the device's first reading and publishes nothing
    assert (out.failed_from, out.events, out.writes) == (0, [], 0)
    assert store.devices["dev-00001"].state.version == 3  # only the other writer's three writes
    assert store.devices["dev-00001"].alarms == {}


def test_a_failed_state_read_fails_from_reading_zero():
    # GIVEN the batch read of alarm state fails once
    evaluator, store, sns, bus = build()
    store.fail_loads = 1
    # WHEN the batch is evaluated
    out = evaluator.evaluate(enriched(BATCH), plenty)
    # THEN every reading is reported failed, nothing written or published
    assert (out.failed_from, out.events, out.writes, out.skipped) == (0, [], 0, 0)
    assert (store.writes, sns.calls, bus.calls) == ([], [], [])
    # WHEN Lambda redelivers the batch THEN its transitions come out once
    again = evaluator.evaluate(enriched(BATCH), plenty)
    assert (again.failed_from, emitted(again.events)) == (None, EXPECTED)


def test_a_malformed_device_override_falls_back_to_the_files_rules():
    # GIVEN a registry device whose override is invalid (warning above critical)
    bad = device("dev-00001", thresholds={"temperature-range": {"warning": {"max": 60.0}}})
    with pytest.raises(ConfigError):
        RULES.for_device("temperature", bad)
    evaluator, store, sns, bus = build()
    # WHEN its readings are evaluated
    out = evaluator.evaluate(enriched(BATCH, dev=bad), plenty)
    # THEN nothing fails and the file's rule applies (the 35 C warning line the override tried to move)
    assert (out.failed_from, emitted(out.events)) == (None, EXPECTED)
    assert sns.event_ids == bus.event_ids == [e for _, _, e in EXPECTED]
    # cleared: back to NORMAL, keeping only the count of its episodes
    assert _episodes(store.devices["dev-00001"].alarms) == {
        "dev-00001#temperature#temperature-range": ("NORMAL", 1)
    }
    assert sns.delivered[0]["rule"] == {
        "rule_id": "temperature-range",
        "bound": "max",
        "threshold": 35.0,
        "clear_threshold": 34.0,
        "for_seconds": 60,
    }


def _episodes(alarms):
    """Each stored alarm's state and episode count, and that nothing else of an episode is left on it."""
    for a in alarms.values():
        if a.state == "NORMAL":
            fresh = am.Alarm.new(a.device_id, a.sensor_type, a.rule_id)
            assert replace(a, episode=0) == fresh, a
    return {k: (a.state, a.episode) for k, a in alarms.items()}
