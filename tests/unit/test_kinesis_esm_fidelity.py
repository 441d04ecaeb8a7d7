"""Kinesis event source mapping behaviours that moto's Kinesis cannot show, over an in-memory stream.

moto's SplitShard re-puts the parent's records into the children (and MergeShards copies them), while
Kinesis keeps them in the closed parent; so resharding order is checked here against a stream that keeps
AWS's semantics, with the real ``KinesisEventSourceMapping``. Sources next to the code in kinesis_esm.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from sensorflow.localcloud.emulator import kinesis_esm
from sensorflow.localcloud.emulator.discovery import FunctionConfig, KinesisMapping
from sensorflow.localcloud.emulator.event_filter import FilterCriteria
from sensorflow.localcloud.emulator.kinesis_esm import KinesisEventSourceMapping
from sensorflow.localcloud.emulator.runtime_stats import RuntimeStats
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/readings"
FUNCTION = FunctionConfig(
    name="fn",
    arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
    handler="h.h",
    role="r",
    timeout_s=5,
    memory_mb=128,
)


@dataclass
class Shard:
    shard_id: str
    records: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False
    parent: str | None = None


class MemoryKinesis:
    """ListShards / GetShardIterator / GetRecords over shards that keep their records when closed."""

    def __init__(self) -> None:
        self.shards: dict[str, Shard] = {}
        self.lock = threading.Lock()
        self._seq = 0

    def add_shard(self, shard_id: str, parent: str | None = None) -> None:
        with self.lock:
            self.shards[shard_id] = Shard(shard_id, parent=parent)

    def put(self, shard_id: str, key: str, body: dict[str, Any]) -> str:
        with self.lock:
            self._seq += 1
            seq = f"{self._seq:056d}"
            self.shards[shard_id].records.append(
                {
                    "SequenceNumber": seq,
                    "PartitionKey": key,
                    "Data": json.dumps(body).encode(),
                    "ApproximateArrivalTimestamp": datetime.now(UTC),
                }
            )
            return seq

    def split(self, parent: str, children: tuple[str, str]) -> None:
        with self.lock:
            self.shards[parent].closed = True
            for child in children:
                self.shards[child] = Shard(child, parent=parent)

    def list_shards(self, StreamARN: str) -> dict[str, Any]:
        with self.lock:
            return {
                "Shards": [
                    {"ShardId": s.shard_id, **({"ParentShardId": s.parent} if s.parent else {})}
                    for s in self.shards.values()
                ]
            }

    def get_shard_iterator(
        self, StreamARN: str, ShardId: str, ShardIteratorType: str, **kw: Any
    ) -> dict[str, Any]:
        with self.lock:
            records = self.shards[ShardId].records
            if ShardIteratorType == "TRIM_HORIZON":
                position = 0
            elif ShardIteratorType == "LATEST":
                position = len(records)
            else:  # AFTER_SEQUENCE_NUMBER
                after = kw["StartingSequenceNumber"]
                position = next((i + 1 for i, r in enumerate(records) if r["SequenceNumber"] == after), 0)
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int, StreamARN: str) -> dict[str, Any]:
        shard_id, position_text = ShardIterator.split("|")
        position = int(position_text)
        with self.lock:
            shard = self.shards[shard_id]
            records = shard.records[position : position + Limit]
            end = position + len(records)
            done = shard.closed and end >= len(shard.records)
        return {
            "Records": records,
            "NextShardIterator": None if done else f"{shard_id}|{end}",
            "MillisBehindLatest": 0,
        }


@dataclass
class Call:
    shard: str
    ids: list[str]
    started: float
    ended: float


class Recorder:
    """The function: records each invocation (its shard and record ids) and takes ``seconds`` per batch."""

    def __init__(self, seconds: float = 0.02) -> None:
        self.calls: list[Call] = []
        self.seconds = seconds
        self.lock = threading.Lock()

    def __call__(self, name: str, event: dict[str, Any]) -> InvokeResult:
        import base64

        started = time.monotonic()
        time.sleep(self.seconds)
        records = event["Records"]
        shard = records[0]["eventID"].split(":")[0]
        ids = [json.loads(base64.b64decode(r["kinesis"]["data"]))["id"] for r in records]
        with self.lock:
            self.calls.append(Call(shard, ids, started, time.monotonic()))
        return InvokeResult(request_id="r", ok=True, payload={"batchItemFailures": []})

    def ids(self) -> list[str]:
        with self.lock:
            return [i for c in sorted(self.calls, key=lambda c: c.started) for i in c.ids]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(autouse=True)
def fast_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinesis_esm, "SHARD_REFRESH_S", 0.1)


@pytest.fixture
def esms() -> Iterator[list[KinesisEventSourceMapping]]:
    started: list[KinesisEventSourceMapping] = []
    yield started
    for esm in started:
        esm.stop()


def start(
    esms: list[KinesisEventSourceMapping], kinesis: MemoryKinesis, invoker: Any, **settings: Any
) -> KinesisEventSourceMapping:
    hooks = settings.pop("_esm", {})
    mapping = KinesisMapping(
        uuid="m-1", function_arn=FUNCTION.arn, stream_arn=STREAM, batch_size=2, **settings
    )
    esm = KinesisEventSourceMapping(
        mapping,
        FUNCTION,
        kinesis,
        invoker,
        lambda arn, doc: None,
        RuntimeStats(),
        retry_backoff=lambda retries: 0.0,
        **hooks,
    )
    esms.append(esm)
    esm.start()
    return esm


def test_after_a_split_the_parent_is_finished_before_its_children_are_read(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a parent shard split into two children, with records for one key in the parent, then children
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    for i in range(6):
        kinesis.put("shardId-000000000000", "k", {"id": f"p{i}"})
    kinesis.split("shardId-000000000000", ("shardId-000000000001", "shardId-000000000002"))
    for i in range(4):
        kinesis.put("shardId-000000000001", "k", {"id": f"c{i}"})
    kinesis.put("shardId-000000000002", "other", {"id": "x0"})
    recorder = Recorder()
    # WHEN the mapping reads the stream from its start
    esm = start(esms, kinesis, recorder, starting_position="TRIM_HORIZON")
    assert wait_for(lambda: len(recorder.ids()) == 11 and esm.idle())
    # THEN every child invocation starts after the parent's last one ended, and key k stays in order
    parent = [c for c in recorder.calls if c.shard == "shardId-000000000000"]
    children = [c for c in recorder.calls if c.shard != "shardId-000000000000"]
    assert max(c.ended for c in parent) <= min(c.started for c in children)
    assert [i for i in recorder.ids() if i[0] in "pc"] == [f"p{i}" for i in range(6)] + [
        f"c{i}" for i in range(4)
    ]


def test_with_latest_a_child_created_after_the_start_is_read_from_its_first_record(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a mapping at LATEST on a one-shard stream, already running
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    kinesis.put("shardId-000000000000", "k", {"id": "before-start"})
    recorder = Recorder(seconds=0.0)
    esm = start(esms, kinesis, recorder, starting_position="LATEST")
    assert wait_for(lambda: "shardId-000000000000" in esm.consumers)
    kinesis.put("shardId-000000000000", "k", {"id": "p0"})
    assert wait_for(lambda: recorder.ids() == ["p0"])
    # WHEN the shard is split and records land in a child before the mapping lists the new shards
    kinesis.split("shardId-000000000000", ("shardId-000000000001", "shardId-000000000002"))
    kinesis.put("shardId-000000000001", "k", {"id": "c0"})
    kinesis.put("shardId-000000000001", "k", {"id": "c1"})
    # THEN nothing written to the child is skipped (LATEST applies to the shards there at the start only)
    assert wait_for(lambda: recorder.ids() == ["p0", "c0", "c1"] and esm.idle())


def test_reserved_concurrency_zero_throttles_without_using_retries_until_it_is_lifted(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a function paused with reserved concurrency 0, and a mapping that allows no retry at all
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    kinesis.put("shardId-000000000000", "k", {"id": "a"})
    recorder = Recorder(seconds=0.0)
    concurrency: dict[str, int | None] = {"fn": 0}
    esm = start(
        esms,
        kinesis,
        recorder,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=0,
        _esm={"reserved_concurrency": concurrency.get},
    )
    # WHEN it stays paused for a while
    assert wait_for(lambda: esm.stats.snapshot().get("mapping", {}).get("m-1", {}).get("throttles", 0) >= 2)
    # THEN nothing was invoked and nothing discarded
    assert recorder.calls == []
    assert esm.stats.snapshot()["mapping"]["m-1"].get("batches_discarded", 0) == 0
    # WHEN the pause is lifted, THEN the record is delivered once
    concurrency["fn"] = None
    assert wait_for(lambda: recorder.ids() == ["a"] and esm.idle())


def test_records_that_match_no_filter_are_not_delivered_and_count_as_processed(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a filter on the JSON data, and records that match, don't match, and are not JSON
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    for i, kind in enumerate(["keep", "drop", "keep", "drop"]):
        kinesis.put("shardId-000000000000", "k", {"id": f"r{i}", "kind": kind})
    with kinesis.lock:
        kinesis.shards["shardId-000000000000"].records.append(
            {
                "SequenceNumber": "9" * 56,
                "PartitionKey": "k",
                "Data": b"\x00\x01avro",
                "ApproximateArrivalTimestamp": datetime.now(UTC),
            }
        )
    filters = FilterCriteria.from_api({"Filters": [{"Pattern": json.dumps({"data": {"kind": ["keep"]}})}]})
    recorder = Recorder(seconds=0.0)
    # WHEN
    esm = start(esms, kinesis, recorder, starting_position="TRIM_HORIZON", filters=filters)
    # THEN only the matching records reached the function; the rest were dropped and checkpointed
    assert wait_for(lambda: esm.idle() and len(recorder.ids()) == 2)
    assert recorder.ids() == ["r0", "r2"]
    assert esm.stats.snapshot()["mapping"]["m-1"]["records_filtered"] == 3


def test_iterator_age_is_the_age_of_the_batchs_last_record_when_the_batch_finishes(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN records that arrived 30 s ago (by the mapping's clock)
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    kinesis.put("shardId-000000000000", "k", {"id": "a"})
    kinesis.put("shardId-000000000000", "k", {"id": "b"})
    ages: list[tuple[str, float]] = []
    mapping = KinesisMapping(
        uuid="m-1",
        function_arn=FUNCTION.arn,
        stream_arn=STREAM,
        batch_size=2,
        starting_position="TRIM_HORIZON",
    )
    esm = KinesisEventSourceMapping(
        mapping,
        FUNCTION,
        kinesis,
        Recorder(seconds=0.0),
        lambda arn, doc: None,
        RuntimeStats(),
        clock=lambda: time.time() + 30,
        iterator_age_sink=lambda name, age: ages.append((name, age)),
    )
    esms.append(esm)
    esm.start()
    # THEN one figure for the one batch, for the function, about 30 s
    assert wait_for(lambda: len(ages) == 1 and esm.idle())
    [(name, age)] = ages
    assert name == "fn" and 29_000 <= age <= 35_000


def test_a_mapping_on_an_enhanced_fan_out_consumer_reads_the_consumers_stream() -> None:
    # GIVEN a mapping as the Lambda API reports one on an EFO consumer (EventSourceArn is the consumer's)
    consumer = f"{STREAM}/consumer/ingest-efo:1767225600"
    raw = {"UUID": "m-1", "FunctionArn": FUNCTION.arn, "EventSourceArn": consumer, "BatchSize": 10}
    # WHEN it is read back
    mapping = KinesisMapping.from_api(raw)
    # THEN the shards are listed and read on the stream, and the consumer is kept for what it is
    assert (mapping.stream_arn, mapping.stream_name, mapping.consumer_arn) == (STREAM, "readings", consumer)


@pytest.mark.parametrize(
    "pattern",
    [
        "not json",
        json.dumps({"data": {"kind": "alarm"}}),  # a leaf must be a list of rules
        json.dumps({"data": {"level": [{"numeric": [">>", 5]}]}}),
        json.dumps({"data": {"level": [{"between": [1, 2]}]}}),
        json.dumps({"$or": [{"data": {"a": [1]}}]}),
    ],
)
def test_filter_patterns_lambda_refuses_are_refused(pattern: str) -> None:
    from sensorflow.localcloud.emulator.event_filter import FilterPatternError

    with pytest.raises(FilterPatternError):
        FilterCriteria.from_api({"Filters": [{"Pattern": pattern}]})


def test_more_than_five_filters_are_refused() -> None:
    from sensorflow.localcloud.emulator.event_filter import FilterPatternError

    with pytest.raises(FilterPatternError, match="at most 5"):
        FilterCriteria.from_api(
            {"Filters": [{"Pattern": json.dumps({"data": {"n": [i]}})} for i in range(6)]}
        )


def test_an_unreachable_on_failure_destination_does_not_re_run_the_batch(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a function that always fails, no retries, and an on-failure destination that refuses every send
    kinesis = MemoryKinesis()
    kinesis.add_shard("shardId-000000000000")
    kinesis.put("shardId-000000000000", "k", {"id": "a"})
    kinesis.put("shardId-000000000000", "k", {"id": "b"})
    invocations: list[str] = []
    sends: list[str] = []

    def failing(name: str, event: dict[str, Any]) -> InvokeResult:
        invocations.append(name)
        return InvokeResult(request_id="r", ok=False, error_type="Unhandled")

    def refuse(arn: str, document: dict[str, Any]) -> None:
        sends.append(arn)
        raise ConnectionError("destination unreachable")

    mapping = KinesisMapping(
        uuid="m-1",
        function_arn=FUNCTION.arn,
        stream_arn=STREAM,
        batch_size=2,
        starting_position="TRIM_HORIZON",
        maximum_retry_attempts=0,
        on_failure_arn="arn:aws:sqs:us-east-1:123456789012:gone",
    )
    esm = KinesisEventSourceMapping(
        mapping, FUNCTION, kinesis, failing, refuse, RuntimeStats(), retry_backoff=lambda retries: 0.0
    )
    esms.append(esm)
    # WHEN
    esm.start()
    # THEN the batch was invoked once, the send tried a bounded number of times, and the shard moved on
    assert wait_for(esm.idle)
    assert invocations == ["fn"]
    assert sends == ["arn:aws:sqs:us-east-1:123456789012:gone"] * kinesis_esm.DESTINATION_ATTEMPTS
    assert esm.stats.snapshot()["mapping"]["m-1"]["destination_failures"] == 1


def test_at_timestamp_starts_at_the_first_record_that_arrived_at_or_after_it(
    esms: list[KinesisEventSourceMapping],
) -> None:
    # GIVEN a stream (moto, in process: its GetShardIterator implements AT_TIMESTAMP) with records put before
    # and after a moment
    import boto3
    from moto import mock_aws

    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="readings", ShardCount=1)
        kinesis.put_record(StreamName="readings", PartitionKey="k", Data=json.dumps({"id": "old"}).encode())
        time.sleep(0.05)
        moment = time.time()
        time.sleep(0.05)
        for record_id in ("new-1", "new-2"):
            kinesis.put_record(
                StreamName="readings", PartitionKey="k", Data=json.dumps({"id": record_id}).encode()
            )
        recorder = Recorder(seconds=0.0)
        # WHEN a mapping starts AT_TIMESTAMP at that moment
        esm = start(esms, kinesis, recorder, starting_position="AT_TIMESTAMP", starting_timestamp=moment)
        # THEN it delivers from the first record at or after it
        assert wait_for(lambda: esm.idle() and len(recorder.ids()) >= 2)
        assert recorder.ids() == ["new-1", "new-2"]
