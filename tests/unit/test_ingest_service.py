"""The batch semantics of the ingest service, with in-memory fakes for every port."""

from __future__ import annotations

import json

import pytest

from sensorflow.adapters.s3_quarantine import quarantine_line
from sensorflow.services.ingest import IngestService
from tests.factories import NOW_MS, device, reading, seq_number, stream_record
from tests.fakes import FakeAlarms, FakeQuarantineSink, FakeReadingSink, FakeRegistry

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
