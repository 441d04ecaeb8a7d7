"""A producer aggregating with AWS's own KPL aggregation library (``aws-kinesis-agg`` on PyPI), with no
sensorflow code on its side, consumed by the ingest handler, all under moto.

The producer writes schemaless Avro readings (fastavro and the shipped schema file), aggregates them with
the library's ``RecordAggregator`` (KPL's format: magic, protobuf ``AggregatedRecord``, MD5), and puts each
aggregated record into a Kinesis stream under its partition key and explicit hash key, as the KPL does;
the records are read back with ``GetRecords`` and handed to the handler as the event source mapping would.
"""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import fastavro
import pytest
from aws_kinesis_agg.aggregator import AggRecord, RecordAggregator
from aws_kinesis_agg.deaggregator import deaggregate_records

from handlers.ingest import handler
from sensorflow.core.records import StreamRecord
from tests.factories import kinesis_event
from tests.integration.conftest import FakeContext, Stack
from tests.integration.test_ingest import read_quarantine, read_readings

STREAM = "sensorflow-test-readings-kpl"
# The schema as a producer team would vendor it: the file, not sensorflow's loader.
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas/history/sensorflow.SensorReading/v2.avsc"
POISON = b"\x07not avro"


class Producer:
    """What a gateway would run: fastavro for the bodies, the library's aggregator, boto3's PutRecords."""

    def __init__(self, kinesis: Any, max_size: int | None = None) -> None:
        self.schema = fastavro.parse_schema(json.loads(SCHEMA_FILE.read_text()))
        self.kinesis = kinesis
        self.aggregator = RecordAggregator() if max_size is None else RecordAggregator(max_size)
        self.full: list[AggRecord] = []

    def encode(self, fields: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.schema, fields)
        return buf.getvalue()

    def add(self, partition_key: str, data: bytes, explicit_hash_key: str | None = None) -> None:
        full = self.aggregator.add_user_record(partition_key, data, explicit_hash_key)
        if full is not None:
            self.full.append(full)

    def flush(self) -> int:
        last = self.aggregator.clear_and_get()
        records = [*self.full, *([last] if last is not None else [])]
        self.full = []
        entries = []
        for record in records:
            key, hash_key, data = record.get_contents()
            entry = {"PartitionKey": key, "Data": data}
            if hash_key:
                entry["ExplicitHashKey"] = hash_key
            entries.append(entry)
        self.kinesis.put_records(StreamName=STREAM, Records=entries)
        return len(entries)


def reading(device: int, seq: int) -> dict[str, Any]:
    return {
        "device_id": f"dev-{device:05d}",
        "sensor_type": "temperature",
        "value": 20.0 + seq / 10,
        "unit": "C",
        "timestamp": int(time.time() * 1000) - 1_000,
        "seq": seq,
        "battery_pct": 80.0,
        "firmware": "3.1.0",
        "firmware_generation": 2,
        "battery_mv": 3_900,
    }


def consume(kinesis: Any) -> list[StreamRecord]:
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return [
        StreamRecord(
            shard,
            r["SequenceNumber"],
            r["PartitionKey"],
            r["Data"],
            int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
        )
        for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    ]


@pytest.fixture
def stream(lambda_env: Stack) -> Stack:
    lambda_env.clients["kinesis"].create_stream(StreamName=STREAM, ShardCount=1)
    for i in range(3):
        lambda_env.put_device(f"dev-{i:05d}", site="site-a")
    return lambda_env


def test_records_aggregated_by_the_kpl_library_are_enriched_one_by_one(stream: Stack):
    # GIVEN three devices' readings aggregated by the library into one Kinesis record, one of them with an
    # explicit hash key (the protobuf's second key table)
    producer = Producer(stream.clients["kinesis"])
    sent = [(d, s) for s in range(1, 4) for d in range(3)]
    for d, s in sent:
        key = f"dev-{d:05d}"
        producer.add(key, producer.encode(reading(d, s)), "1" * 30 if d == 2 else None)
    assert producer.flush() == 1
    [record] = consume(stream.clients["kinesis"])
    assert record.data[:4] == b"\xf3\x89\x9a\xc2"
    # WHEN the ingest handler gets it
    assert handler(kinesis_event([record]), FakeContext()) == {"batchItemFailures": []}
    # THEN every sub-record is a reading, in the current schema, with its position under the parent's
    # sequence number
    rows = read_readings(stream)
    assert [(r["device_id"], r["seq"]) for r in rows] == [(f"dev-{d:05d}", s) for d, s in sent]
    assert {r["sequence_number"] for r in rows} == {record.sequence_number}
    assert [r["firmware_generation"] for r in rows] == [2] * len(sent)
    assert read_quarantine(stream) == []


def test_a_full_aggregate_starts_another_and_a_poison_sub_record_is_quarantined_alone(stream: Stack):
    # GIVEN a producer whose aggregates hold only a few readings (a small max size), and one sub-record
    # that is not Avro
    producer = Producer(stream.clients["kinesis"], max_size=256)
    for s in range(1, 9):
        producer.add("dev-00000", producer.encode(reading(0, s)))
    producer.add("dev-00001", POISON)
    aggregates = producer.flush()
    assert aggregates >= 3
    records = consume(stream.clients["kinesis"])
    assert len(records) == aggregates
    # WHEN the handler gets them in one batch
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    # THEN the eight readings are enriched and only the poison sub-record is quarantined, with its bytes
    assert [r["seq"] for r in read_readings(stream)] == list(range(1, 9))
    [entry] = read_quarantine(stream)
    assert (entry["reason"], entry["partition_key"]) == ("decode_error", "dev-00001")
    assert entry["sequence_number"] == records[-1].sequence_number
    assert base64.b64decode(entry["payload"]) == POISON
    # the last user record of the last aggregate (the library's own de-aggregator counts them)
    assert (
        entry["sub_sequence_number"] == len(deaggregate_records(kinesis_event(records[-1:])["Records"])) - 1
    )
