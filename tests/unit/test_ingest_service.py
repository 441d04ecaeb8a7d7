"""The batch semantics of the ingest service, with in-memory fakes for every port."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sensorflow.adapters.s3_quarantine import quarantine_line
from sensorflow.core import kpl, schemas
from sensorflow.core.decode import ReadingDecoder, encode_reading
from sensorflow.services.ingest import IngestService
from tests.factories import NOW_MS, TEMPERATURE_RULES, device, reading, seq_number, stream_record
from tests.fakes import (
    FakeAlarms,
    FakeAlarmStore,
    FakePublisher,
    FakeQuarantineSink,
    FakeReadingSink,
    FakeRegistry,
    FakeWriterSchemas,
)

POISON = b"\x06abc\x7e"  # a device id, then an enum index that does not exist


def plenty() -> int:
    return 60_000


def build(**overrides):
    parts = {
        "registry": FakeRegistry([device(f"dev-{i:05d}") for i in range(10)]),
        "readings": FakeReadingSink(),
        "quarantine": FakeQuarantineSink(),
        "alarms": FakeAlarms(),
    }
    parts.update(overrides)
    svc = IngestService(
        parts["registry"],
        parts["readings"],
        parts["quarantine"],
        parts["alarms"],
        decoder=parts.get("decoder"),
        deadline_margin_ms=1000,
    )
    return svc, parts


def batch(n: int, poison_at: set[int] = frozenset()):
    recs = []
    for i in range(n):
        if i in poison_at:
            recs.append(stream_record(POISON, i, key="dev-00001"))
        else:
            recs.append(stream_record(reading(device_id=f"dev-{i % 10:05d}", seq=i, value=21.0), i))
    return recs


def stored(parts) -> list[int]:
    return [r.reading.seq for objs in parts["readings"].objects.values() for r in objs]


@pytest.mark.parametrize("poison", [0, 4, 9])
def test_a_poison_pill_anywhere_is_quarantined_and_not_reported(poison):
    svc, parts = build()
    out = svc.process(batch(10, poison_at={poison}), plenty)
    assert out.response() == {"batchItemFailures": []}
    [entries] = parts["quarantine"].objects.values()
    assert [(e.reason, e.sequence_number, e.payload) for e in entries] == [
        ("decode_error", seq_number(poison), POISON)
    ]
    assert stored(parts) == [i for i in range(10) if i != poison]


def test_a_payload_naming_another_device_than_its_partition_key_is_quarantined():
    # GIVEN a record keyed by dev-00001 whose payload claims to be dev-00002 (another producer's device)
    svc, parts = build()
    forged = stream_record(reading(device_id="dev-00002", seq=7, value=99.0), 1, key="dev-00001")
    records = [stream_record(reading(device_id="dev-00001", seq=6, value=21.0), 0), forged]
    # WHEN the batch is processed
    out = svc.process(records, plenty)
    # THEN it is quarantined with its reason and bytes, never enriched, and nothing is reported failed
    assert out.response() == {"batchItemFailures": []}
    [entries] = parts["quarantine"].objects.values()
    assert [(e.reason, e.partition_key, e.payload) for e in entries] == [
        ("partition_key_mismatch", "dev-00001", forged.data)
    ]
    assert "'dev-00002' is not the partition key 'dev-00001'" in entries[0].detail
    assert [(e.reading.device_id, e.reading.seq) for e in out.enriched] == [("dev-00001", 6)]


def test_quarantine_line_has_every_field():
    svc, parts = build()
    svc.process(batch(3, poison_at={1}), plenty)
    [entries] = parts["quarantine"].objects.values()
    line = json.loads(quarantine_line(entries[0]))
    assert line == {
        "reason": "decode_error",
        "detail": line["detail"],
        "payload": "BmFiY34=",
        "partition_key": "dev-00001",
        "sequence_number": seq_number(1),
        "shard_id": "shardId-000000000000",
        "arrival_time": "2026-09-21T14:13:20.000+00:00",
    }
    assert "IndexError" in line["detail"] or "index" in line["detail"].lower()


@pytest.mark.parametrize("k", [0, 3, 9])
def test_a_transient_failure_at_record_k_reports_exactly_k_to_n(k):
    # GIVEN the registry fails for the device of record k only
    registry = FakeRegistry([device(f"dev-{i:05d}") for i in range(10) if i != k], failing={f"dev-{k:05d}"})
    svc, parts = build(registry=registry)
    out = svc.process(batch(10), plenty)
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(i)} for i in range(k, 10)]
    # AND only the records before k are stored; nothing after the failure was processed
    assert stored(parts) == list(range(k))
    assert registry.lookups[-1] == f"dev-{k:05d}"


def test_an_unknown_device_is_quarantined_with_its_reason():
    svc, parts = build()
    out = svc.process([stream_record(reading(device_id="ghost-00001"), 0)], plenty)
    assert out.response() == {"batchItemFailures": []}
    [[entry]] = parts["quarantine"].objects.values()
    assert (entry.reason, entry.partition_key) == ("unknown_device", "ghost-00001")


def test_alarm_failure_fails_from_its_record_and_shortens_what_is_stored():
    # GIVEN the alarm lifecycle cannot commit the state of reading 4 (record 5: record 2 is a poison pill)
    svc, parts = build(alarms=FakeAlarms(failing_seqs={4}))
    out = svc.process(batch(7, poison_at={2}), plenty)
    # THEN records 4.. are reported, and only the prefix before it is stored or quarantined
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(i)} for i in (4, 5, 6)]
    assert stored(parts) == [0, 1, 3]
    assert [e.sequence_number for [e] in parts["quarantine"].objects.values()] == [seq_number(2)]
    assert out.failure_cause == "alarms"


def test_alarms_see_only_enriched_readings_in_order():
    svc, parts = build()
    svc.process(batch(5, poison_at={1}), plenty)
    assert [r.reading.seq for r in parts["alarms"].seen] == [0, 2, 3, 4]


def test_readings_write_failure_fails_the_whole_batch():
    svc, _parts = build(readings=FakeReadingSink(fail=True))
    out = svc.process(batch(4), plenty)
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(i)} for i in range(4)]
    assert out.enriched == [] and out.failure_cause == "transient"


def test_quarantine_write_failure_is_transient_too():
    svc, parts = build(quarantine=FakeQuarantineSink(fail=True))
    out = svc.process(batch(4, poison_at={2}), plenty)
    assert len(out.response()["batchItemFailures"]) == 4
    assert parts["readings"].objects == {}


def test_stops_starting_records_when_the_deadline_is_near():
    clock = iter([5000, 5000, 5000, 900, 900, 900, 900])
    svc, parts = build()
    out = svc.process(batch(6), lambda: next(clock))
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(i)} for i in range(3, 6)]
    assert out.failure_cause == "deadline"
    assert stored(parts) == [0, 1, 2]


def test_all_failed_batch_returns_failures_instead_of_raising():
    registry = FakeRegistry([], failing={f"dev-{i:05d}" for i in range(10)})
    svc, _ = build(registry=registry)
    out = svc.process(batch(3), plenty)
    assert len(out.response()["batchItemFailures"]) == 3


def test_a_retried_batch_overwrites_its_objects():
    svc, parts = build()
    recs = batch(5, poison_at={1})
    svc.process(recs, plenty)
    svc.process(recs, plenty)
    assert len(parts["readings"].objects) == 1 and len(parts["quarantine"].objects) == 1
    [key] = parts["readings"].objects
    assert key == f"readings/year=2026/month=09/day=21/shardId-000000000000/{seq_number(0)}.avro"


def test_enrichment_normalises_units_and_adds_latency():
    svc, _ = build()
    out = svc.process([stream_record(reading(value=212.0, unit="F", timestamp=NOW_MS - 2500), 0)], plenty)
    [e] = out.enriched
    assert (e.value, e.unit, e.latency_ms, e.device.site) == (100.0, "C", 2500, "site-a")
    assert e.to_avro()["raw_value"] == 212.0 and e.to_avro()["raw_unit"] == "F"


def test_empty_batch_is_a_success():
    svc, parts = build()
    assert svc.process([], plenty).response() == {"batchItemFailures": []}
    assert parts["readings"].objects == {}


# --- framings and KPL aggregation (issue 13) -------------------------------------------------------------


def kpl_record(i: int, readings: list[dict], poison_at: int | None = None, key: str | None = None):
    """An aggregated Kinesis record ``i`` of ``readings`` (sub-record ``poison_at`` replaced by POISON)."""
    subs = [(r["device_id"], POISON if j == poison_at else encode_reading(r)) for j, r in enumerate(readings)]
    return stream_record(kpl.aggregate(subs), i, key=key or readings[0]["device_id"])


def test_every_sub_record_of_an_aggregated_record_is_enriched_with_its_position():
    # GIVEN one plain record and one KPL record of three readings from three devices
    svc, _parts = build()
    agg = kpl_record(1, [reading(device_id=f"dev-0000{d}", seq=10 + d, value=21.0) for d in (2, 3, 4)])
    out = svc.process([stream_record(reading(seq=1), 0), agg], plenty)
    # THEN all four are enriched; the sub-records share the parent's sequence number, in order
    assert out.response() == {"batchItemFailures": []}
    assert [(e.reading.device_id, e.sequence_number, e.sub_sequence_number) for e in out.enriched] == [
        ("dev-00001", seq_number(0), None),
        ("dev-00002", seq_number(1), 0),
        ("dev-00003", seq_number(1), 1),
        ("dev-00004", seq_number(1), 2),
    ]
    assert [r["sub_sequence_number"] for r in (e.to_avro() for e in out.enriched)] == [None, 0, 1, 2]


def test_a_poison_sub_record_is_quarantined_alone_with_its_own_bytes_and_position():
    svc, parts = build()
    agg = kpl_record(0, [reading(device_id="dev-00002", seq=s) for s in (1, 2, 3)], poison_at=1)
    out = svc.process([agg], plenty)
    assert out.response() == {"batchItemFailures": []}
    [[entry]] = parts["quarantine"].objects.values()
    assert (entry.reason, entry.payload, entry.sequence_number, entry.sub_sequence_number) == (
        "decode_error",
        POISON,
        seq_number(0),
        1,
    )
    assert json.loads(quarantine_line(entry))["sub_sequence_number"] == 1
    assert stored(parts) == [1, 3]


def test_a_sub_record_naming_another_device_than_its_own_partition_key_is_quarantined():
    svc, _parts = build()
    subs = [
        ("dev-00002", encode_reading(reading(device_id="dev-00002"))),
        ("dev-00002", encode_reading(reading())),
    ]
    out = svc.process([stream_record(kpl.aggregate(subs), 0, key="dev-00002")], plenty)
    assert [(q.reason, q.partition_key, q.sub_sequence_number) for q in out.quarantined] == [
        ("partition_key_mismatch", "dev-00002", 1)
    ]


@pytest.mark.parametrize(
    ("mangle", "why"),
    [
        (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "kpl_bad_digest"),
        (lambda d: d[:10], "kpl_truncated"),
        (lambda d: kpl.aggregate([]), "kpl_empty"),
    ],
    ids=["digest", "truncated", "empty"],
)
def test_an_aggregated_record_that_cannot_be_deaggregated_is_quarantined_whole(mangle, why):
    svc, parts = build()
    good = kpl_record(0, [reading(seq=1), reading(seq=2)])
    bad = stream_record(mangle(good.data), 1, key="dev-00001")
    out = svc.process([good, bad], plenty)
    assert out.response() == {"batchItemFailures": []}
    assert [(q.reason, q.payload, q.sub_sequence_number) for q in out.quarantined] == [(why, bad.data, None)]
    assert stored(parts) == [1, 2]


@pytest.mark.parametrize("k", [0, 1, 2])
def test_a_transient_failure_of_any_sub_record_reports_the_parent_and_keeps_none_of_it(k):
    # GIVEN a parent whose sub-record k names a device the registry cannot be read for just now
    devices = ["dev-00002", "dev-00003", "dev-00004"]
    registry = FakeRegistry([device(d) for d in ["dev-00001", *devices]], failing={devices[k]})
    svc, parts = build(registry=registry)
    agg = kpl_record(1, [reading(device_id=d, seq=10 + j) for j, d in enumerate(devices)])
    records = [stream_record(reading(seq=1), 0), agg, stream_record(reading(seq=2), 2)]
    # WHEN the batch is processed
    out = svc.process(records, plenty)
    # THEN the parent and everything after it are reported, and only the record before it is stored
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(i)} for i in (1, 2)]
    assert stored(parts) == [1]
    assert [r.reading.seq for r in parts["alarms"].seen] == [1]


def test_an_alarm_failure_on_a_sub_record_fails_from_its_parent():
    svc, parts = build(alarms=FakeAlarms(failing_seqs={11}))
    agg = kpl_record(1, [reading(device_id="dev-00002", seq=10), reading(device_id="dev-00003", seq=11)])
    out = svc.process([stream_record(reading(seq=1), 0), agg], plenty)
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(1)}]
    assert stored(parts) == [1]


def test_a_glue_outage_is_transient_and_an_unknown_glue_id_is_quarantined_with_its_bytes():
    known, unknown = uuid.uuid4(), uuid.uuid4()
    writers = FakeWriterSchemas(glue={known: schemas.history()[1].schema}, failing={unknown})
    svc, _parts = build(decoder=ReadingDecoder(writer_schemas=writers))
    body = encode_reading(reading(seq=5))
    framed = [b"\x03\x00" + known.bytes + body, b"\x03\x00" + uuid.uuid4().bytes + body]
    out = svc.process([stream_record(d, i) for i, d in enumerate(framed)], plenty)
    assert out.response() == {"batchItemFailures": []}
    assert [(q.reason, q.payload) for q in out.quarantined] == [("glue_unknown_schema", framed[1])]
    # an outage while fetching the writer schema: reported, never quarantined
    out = svc.process([stream_record(b"\x03\x00" + unknown.bytes + body, 7)], plenty)
    assert out.response()["batchItemFailures"] == [{"itemIdentifier": seq_number(7)}]
    assert out.quarantined == [] and out.failure_cause == "transient"


# --- the property: any delivery order, with faults, commits every sub-record once ---------------------------

DEVICES = ("dev-00001", "dev-00002", "dev-00003")
START_MS = NOW_MS - 3_600_000


def fleet_readings() -> list[dict]:
    """16 ticks of 10 s for three devices; each goes critical (50 C) for 80 s and back: raise and clear."""
    out = []
    for t in range(16):
        for d, dev in enumerate(DEVICES):
            hot = 2 + d <= t < 10 + d
            out.append(
                reading(device_id=dev, seq=t, value=50.0 if hot else 20.0, timestamp=START_MS + t * 10_000)
            )
    return out


def as_records(readings: list[dict], groups: list[tuple[int, bool]], poison: int | None):
    """Cut ``readings`` into Kinesis records: (size, aggregated?) per record; a group of one may be plain.
    ``poison``: a sub-record index (over all readings) replaced by a poison pill."""
    records, at = [], 0
    for i, (size, aggregated) in enumerate(groups):
        chunk = readings[at : at + size]
        if not chunk:
            break
        if aggregated or len(chunk) > 1:
            bad = poison - at if poison is not None and at <= poison < at + size else None
            records.append(kpl_record(i, chunk, poison_at=bad))
        else:
            records.append(stream_record(POISON if poison == at else chunk[0], i, key=chunk[0]["device_id"]))
        at += size
    while at < len(readings):  # what the drawn groups did not cover goes one record each
        data = POISON if poison == at else readings[at]
        records.append(stream_record(data, len(records), key=readings[at]["device_id"]))
        at += 1
    return records


def evaluator_service(registry, store, publisher):
    from sensorflow.services.alarm_evaluator import AlarmEvaluator

    alarms = AlarmEvaluator(store, TEMPERATURE_RULES, [publisher])
    return IngestService(registry, FakeReadingSink(), FakeQuarantineSink(), alarms, deadline_margin_ms=1000)


def run_esm(records, sizes, faults, lost):
    """Deliver ``records`` as Lambda's Kinesis ESM does: a batch from the checkpoint; on batchItemFailures the
    checkpoint moves to the lowest reported record; ``lost`` successes are delivered again (a checkpoint
    that did not stick). ``faults`` per delivery: None, ("registry", device) or ("store", device)."""
    registry = FakeRegistry([device(d) for d in DEVICES])
    store, publisher = FakeAlarmStore(), FakePublisher("sns")
    svc = evaluator_service(registry, store, publisher)
    sizes, faults, lost = iter(sizes), iter(faults), iter(lost)
    checkpoint, deliveries = 0, 0
    while checkpoint < len(records):
        deliveries += 1
        assert deliveries < 500
        batch = records[checkpoint : checkpoint + next(sizes, 100)]
        fault = next(faults, None)
        registry.failing = {fault[1]} if fault and fault[0] == "registry" else set()
        store.fail_writes = {fault[1]: 1} if fault and fault[0] == "store" else {}
        failed = svc.process(batch, plenty).failed_sequence_numbers
        if failed:
            checkpoint = [r.sequence_number for r in records].index(failed[0])
        elif not next(lost, False):
            checkpoint += len(batch)
    return svc, publisher


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Found by CI: a redelivery from the same record that commits fewer (the poison pill alone) left the first
# attempt's larger object under the key, so what the next batch wrote again was stored twice.
@example(groups=[(1, False)], poison=0, sizes=[2, 1], faults=[], lost=[True])
@example(groups=[(1, False)], poison=1, sizes=[2, 1], faults=[], lost=[True])
@given(
    groups=st.lists(st.tuples(st.integers(1, 5), st.booleans()), min_size=1, max_size=40),
    poison=st.one_of(st.none(), st.integers(0, 47)),
    sizes=st.lists(st.integers(1, 12), max_size=30),
    faults=st.lists(
        st.one_of(st.none(), st.tuples(st.sampled_from(["registry", "store"]), st.sampled_from(DEVICES))),
        max_size=20,
    ),
    lost=st.lists(st.booleans(), max_size=10),
)
def test_any_delivery_with_faults_commits_each_sub_record_once_and_each_transition_once(
    groups, poison, sizes, faults, lost
):
    readings = fleet_readings()
    records = as_records(readings, groups, poison)
    # the truth: one fault-free pass
    _truth_svc, truth = run_esm(records, [], [], [])
    svc, publisher = run_esm(records, sizes, faults, lost)
    # every valid reading is in exactly one readings object (keys are stable: a redelivery overwrites)
    kept = Counter(
        (r.reading.device_id, r.reading.seq) for objs in svc._readings.objects.values() for r in objs
    )
    expected = Counter((r["device_id"], r["seq"]) for j, r in enumerate(readings) if j != poison)
    assert kept == expected
    # the poison pill is quarantined once, with its position if it was a sub-record
    pills = [q for objs in svc._quarantine.objects.values() for q in objs]
    assert len(pills) == (poison is not None)
    # every transition is published once: the same events as the fault-free pass, no duplicates
    assert len(set(publisher.event_ids)) == len(publisher.event_ids)
    assert sorted(publisher.event_ids) == sorted(truth.event_ids)
    assert {"Alarm Raised", "Alarm Cleared"} <= set(truth.transitions)


def test_sub_records_of_one_parent_have_distinct_alarm_event_discriminators():
    from sensorflow.core.alarms.state import Sample

    agg = kpl_record(3, [reading(seq=1), reading(seq=2, timestamp=NOW_MS - 500)])
    svc, _ = build()
    first, second = svc.process([agg], plenty).enriched
    plain = svc.process([stream_record(reading(seq=9), 4)], plenty).enriched[0]
    assert Sample.of(first).discriminator == f"{seq_number(3)}.0"
    assert Sample.of(second).discriminator == f"{seq_number(3)}.1"
    assert Sample.of(plain).discriminator == int(seq_number(4))  # unchanged for a record sent alone


class SlowReadingSink(FakeReadingSink):
    """A readings sink whose every write takes ``ms`` off the invocation's remaining time."""

    def __init__(self, clock: list[float], ms: float) -> None:
        super().__init__()
        self.clock, self.ms = clock, ms

    def write(self, key: str, readings: Any) -> None:
        self.clock[0] -= self.ms
        super().write(key, readings)


def test_once_slow_output_writes_were_seen_records_stop_early_enough_for_them_to_fit():
    # GIVEN a 1 s margin, each record taking 100 ms and the readings write taking 1.5 s
    left = [0.0]
    sink = SlowReadingSink(left, 1500)
    svc, _ = build(readings=sink)

    def remaining() -> int:
        left[0] -= 100  # every look at the clock is one record's worth of work later
        return int(left[0])

    # WHEN a first batch learns how long the writes take, and a second batch gets a 6 s budget
    left[0] = 60_000
    svc.process(batch(5), remaining)
    left[0] = 6_000
    out = svc.process(batch(50), remaining)
    # THEN the second stopped starting records while the writes still fit: it returns before its deadline
    # (before the tail budget it stopped at the 1 s margin and then spent 1.6 s writing: -700 ms), having
    # reported exactly the records it did not start
    assert left[0] > 0
    assert out.failure_cause == "deadline"
    reported = [f["itemIdentifier"] for f in out.response()["batchItemFailures"]]
    assert reported == [seq_number(i) for i in range(50 - len(reported), 50)] and 0 < len(reported) < 50
