"""KinesisProducer against an in-memory fake of PutRecords: batch limits, partial-failure retries, pacing."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sensorflow.simulate import KinesisProducer, ProducerError
from sensorflow.simulate.producer import PUT_RECORDS_MAX_BYTES, RECORD_MAX_BYTES, record_size

THROTTLED = "ProvisionedThroughputExceededException"


@dataclass(frozen=True, slots=True)
class Rec:
    partition_key: str
    data: bytes


class FakeKinesis:
    """Accepts PutRecords; ``fail(call_index, position, entry)`` returns an ErrorCode to fail an entry."""

    def __init__(self, fail=None, raise_on=None):
        self.calls: list[list[dict[str, Any]]] = []
        self.stored: list[tuple[str, bytes]] = []
        self._fail = fail or (lambda call, pos, entry: None)
        self._raise_on = raise_on or {}

    def put_records(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["StreamName"] == "sensors"
        entries = kwargs["Records"]
        index = len(self.calls)
        self.calls.append(entries)
        if index in self._raise_on:
            code = self._raise_on[index]
            raise ClientError({"Error": {"Code": code, "Message": "nope"}}, "PutRecords")
        results = []
        for pos, entry in enumerate(entries):
            code = self._fail(index, pos, entry)
            if code:
                results.append({"ErrorCode": code, "ErrorMessage": f"{code} for {entry['PartitionKey']}"})
            else:
                self.stored.append((entry["PartitionKey"], entry["Data"]))
                results.append({"SequenceNumber": str(len(self.stored)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


class FakeTime:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _records(n: int, size: int = 40) -> list[Rec]:
    return [Rec(f"dev-{i % 37:05d}", i.to_bytes(4, "big") + bytes(size - 4)) for i in range(n)]


def _producer(client, fake_time=None, **kwargs):
    fake_time = fake_time or FakeTime()
    return KinesisProducer(
        client, "sensors", sleep=fake_time.sleep, clock=fake_time.clock, rng=random.Random(0), **kwargs
    )


def test_batches_hold_at_most_500_records_and_keep_order():
    client = FakeKinesis()
    records = _records(1234)

    report = _producer(client).send(records)

    assert [len(c) for c in client.calls] == [500, 500, 234]
    assert client.stored == [(r.partition_key, r.data) for r in records]
    assert (report.sent, report.failed, report.retried, report.calls) == (1234, 0, 0, 3)
    assert report.bytes == sum(record_size(r) for r in records)


def test_batches_hold_at_most_5_mib_counting_partition_keys():
    client = FakeKinesis()
    records = _records(40, size=300 * 1024)  # 17 fit in 5 MiB, 18 do not

    _producer(client).send(records)

    sizes = [sum(len(e["Data"]) + len(e["PartitionKey"]) for e in call) for call in client.calls]
    assert [len(c) for c in client.calls] == [17, 17, 6]
    assert all(size <= PUT_RECORDS_MAX_BYTES for size in sizes)
    assert client.stored == [(r.partition_key, r.data) for r in records]


def test_a_batch_of_exactly_5_mib_is_one_call():
    key = "dev-00001"
    per_record = PUT_RECORDS_MAX_BYTES // 5
    records = [Rec(key, bytes(per_record - len(key))) for _ in range(5)] + [Rec(key, b"x")]
    client = FakeKinesis()

    _producer(client).send(records)

    assert [len(c) for c in client.calls] == [5, 1]


def test_records_over_1_mib_are_reported_not_sent():
    big = Rec("dev-00001", bytes(RECORD_MAX_BYTES))  # + partition key: one byte too many
    small = _records(3)
    client = FakeKinesis()
    done = []

    report = _producer(client).send(
        [small[0], big, *small[1:]], on_done=lambda r, code: done.append((r, code))
    )

    assert client.stored == [(r.partition_key, r.data) for r in small]
    assert report.failed == 1 and report.failed_records[0].record is big
    assert report.failed_records[0].error_code == "RecordTooLarge"
    assert (big, "RecordTooLarge") in done and len(done) == 4


def test_only_failed_records_are_retried_after_jittered_backoff():
    failing = {0: {1, 4, 5}, 1: {0}}  # call -> positions that fail
    client = FakeKinesis(fail=lambda call, pos, e: THROTTLED if pos in failing.get(call, ()) else None)
    fake_time = FakeTime()
    records = _records(8)

    report = _producer(client, fake_time, base_backoff_s=0.1).send(records)

    assert [[e["Data"] for e in c] for c in client.calls] == [
        [r.data for r in records],
        [records[1].data, records[4].data, records[5].data],
        [records[1].data],
    ]
    assert sorted(client.stored) == sorted((r.partition_key, r.data) for r in records)
    assert (report.sent, report.retried, report.failed, report.calls) == (8, 4, 0, 3)
    assert len(fake_time.sleeps) == 2
    assert 0 <= fake_time.sleeps[0] <= 0.1 and 0 <= fake_time.sleeps[1] <= 0.2


def test_records_that_keep_failing_are_reported_after_max_attempts():
    client = FakeKinesis(
        fail=lambda call, pos, e: "InternalFailure" if e["PartitionKey"] == "dev-00003" else None
    )
    fake_time = FakeTime()
    records = _records(37)

    report = _producer(client, fake_time, max_attempts=4, base_backoff_s=1.0, max_backoff_s=3.0).send(records)

    assert len(client.calls) == 4
    assert report.failed == 1 and report.sent == 36 and report.retried == 3
    failed = report.failed_records[0]
    assert (failed.partition_key, failed.error_code) == ("dev-00003", "InternalFailure")
    assert failed.error_message == "InternalFailure for dev-00003"
    # ceilings 1, 2, 3 (capped)
    assert [s <= c for s, c in zip(fake_time.sleeps, (1.0, 2.0, 3.0), strict=True)] == [True] * 3


def test_permanent_per_record_errors_are_not_retried():
    client = FakeKinesis(fail=lambda call, pos, e: "KMSAccessDeniedException" if pos == 2 else None)

    report = _producer(client).send(_records(5))

    assert len(client.calls) == 1
    assert (report.sent, report.failed, report.retried) == (4, 1, 0)
    assert report.failed_records[0].error_code == "KMSAccessDeniedException"


def test_a_throttled_call_retries_the_whole_batch():
    client = FakeKinesis(raise_on={0: "ProvisionedThroughputExceededException"})

    report = _producer(client).send(_records(10))

    assert [len(c) for c in client.calls] == [10, 10]
    assert (report.sent, report.retried, report.failed) == (10, 10, 0)


def test_a_call_that_can_never_work_stops_with_a_partial_report():
    client = FakeKinesis(raise_on={1: "ResourceNotFoundException"})

    with pytest.raises(ProducerError, match="ResourceNotFoundException") as err:
        _producer(client).send(_records(600))

    assert err.value.report.sent == 500


def test_rate_caps_records_per_second():
    client = FakeKinesis()
    fake_time = FakeTime()

    report = _producer(client, fake_time, rate=1000).send(_records(2500))

    # batches of 200 (a fifth of a second's worth), each sent when the ones before fit the rate
    assert {len(c) for c in client.calls} == {100, 200}
    assert fake_time.now == pytest.approx(2.4)
    assert report.records_per_s == pytest.approx(2500 / 2.4)


def test_byte_rate_caps_bytes_per_second():
    client = FakeKinesis()
    fake_time = FakeTime()
    records = _records(60, size=100_000 - 9)  # 100,000 bytes each with the key: 52 fit in 5 MiB

    _producer(client, fake_time, byte_rate=1_000_000).send(records)

    # the first 5.2 MB go at once; the rest waits until they fit 1 MB/s
    assert [len(c) for c in client.calls] == [52, 8]
    assert fake_time.sleeps == [pytest.approx(5.2)]


def test_progress_reports_running_totals():
    seen = []
    client = FakeKinesis(fail=lambda call, pos, e: "Nope" if call == 1 and pos == 0 else None)

    _producer(client, progress=lambda sent, failed, nbytes: seen.append((sent, failed))).send(_records(700))

    assert seen == [(500, 0), (699, 1)]
