"""The ``failures`` function under moto: a real stream, a real on-failure message, the exact bytes kept.

The messages are built by the local cloud's ``kinesis_failure_record`` (what its Kinesis mapping sends to
the on-failure queue) and wrapped by its ``sqs_event_record`` (what its SQS mapping invokes with).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers.failures import handler
from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.localcloud.emulator.event_documents import (
    KinesisRecordData,
    kinesis_failure_record,
    sqs_event_record,
)
from tests.integration.conftest import REGION, STAGE, FakeContext

EVENTS = Path(__file__).resolve().parents[2] / "events"
STREAM = f"sensorflow-{STAGE}-readings"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:123456789012:sensorflow-{STAGE}-ingest-failures"
# A KPL aggregate (magic, protobuf, MD5) is quarantined as the stream holds it, not de-aggregated.
KPL = bytes.fromhex("f3899ac2") + b"\x0a\x03dev\x1a\x06\x08\x00\x1a\x02hi" + bytes(16)
PAYLOADS = [b"before", b"\x00\xffnot avro", KPL, b"last of the range", b"after"]


@dataclass
class Env:
    clients: dict[str, Any]
    bucket: str


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """Only what the function touches: the quarantine bucket and the stream (put_records)."""
    with mock_aws():
        c = {name: boto3.client(name, region_name=REGION) for name in ("s3", "kinesis")}
        bucket = f"sensorflow-{STAGE}-quarantine-123456789012-{REGION}"
        c["s3"].create_bucket(Bucket=bucket)
        monkeypatch.setenv("QUARANTINE_BUCKET_NAME", bucket)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        client_factory.reset()
        bootstrap.failures_service.cache_clear()
        yield Env(c, bucket)
        bootstrap.failures_service.cache_clear()
        client_factory.reset()


def put_records(stack: Env) -> tuple[str, list[KinesisRecordData]]:
    kinesis = stack.clients["kinesis"]
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    arn = kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamARN"]
    out = []
    for i, data in enumerate(PAYLOADS):
        put = kinesis.put_record(StreamName=STREAM, PartitionKey=f"dev-{i}", Data=data)
        out.append(KinesisRecordData(put["ShardId"], put["SequenceNumber"], f"dev-{i}", data, 0.0))
    [raw] = kinesis.get_records(
        ShardIterator=kinesis.get_shard_iterator(
            StreamName=STREAM, ShardId=out[0].shard_id, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"][:1]
    arrival = raw["ApproximateArrivalTimestamp"].timestamp()
    return arn, [
        KinesisRecordData(r.shard_id, r.sequence_number, r.partition_key, r.data, arrival) for r in out
    ]


def sqs_event(*documents: dict[str, Any]) -> dict[str, Any]:
    records = []
    for i, document in enumerate(documents):
        body = json.dumps(document)
        message = {
            "MessageId": f"message-{i}",
            "ReceiptHandle": f"receipt-{i}",
            "Body": body,
            "MD5OfBody": "",
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        records.append(sqs_event_record(message, QUEUE_ARN, REGION))
    return {"Records": records}


def failure(
    stream_arn: str, records: list[KinesisRecordData], condition: str = "RetryAttemptsExhausted"
) -> dict:
    return kinesis_failure_record(
        records=records,
        stream_arn=stream_arn,
        function_arn=f"arn:aws:lambda:{REGION}:123456789012:function:sensorflow-{STAGE}-ingest",
        condition=condition,
        invoke_count=6,
        function_error="Unhandled",
        status_code=200,
        now=records[0].arrival + 60,
    )


def quarantine(stack: Env) -> dict[str, list[dict[str, Any]]]:
    s3, bucket = stack.clients["s3"], stack.bucket
    return {
        obj["Key"]: [
            json.loads(line) for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].iter_lines()
        ]
        for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    }


def test_a_failed_range_is_re_read_from_the_stream_and_its_exact_bytes_quarantined(env: Env):
    # GIVEN five records in the stream and an on-failure message for the 2nd to the 4th
    stream_arn, records = put_records(env)
    document = failure(stream_arn, records[1:4])
    # WHEN the failures function gets it from the queue
    response = handler(sqs_event(document), FakeContext())
    # THEN the message is done and the range's three records, byte for byte, are in one object
    assert response == {"batchItemFailures": []}
    objects = quarantine(env)
    [key] = objects
    first, last = records[1].sequence_number, records[3].sequence_number
    assert key.startswith("quarantine/retries_exhausted/year=")
    assert key.endswith(f"/{STREAM}/{records[0].shard_id}/{first}-{last}.jsonl")
    lines = objects[key]
    assert [base64.b64decode(line["payload"]) for line in lines] == PAYLOADS[1:4]
    assert [line["sequence_number"] for line in lines] == [r.sequence_number for r in records[1:4]]
    assert [line["partition_key"] for line in lines] == ["dev-1", "dev-2", "dev-3"]
    assert {line["reason"] for line in lines} == {"retries_exhausted"}
    assert json.loads(lines[0]["detail"]) == {
        "condition": "RetryAttemptsExhausted",
        "approximate_invoke_count": 6,
        "function_error": "Unhandled",
        "request_id": document["requestContext"]["requestId"],
        "function_arn": f"arn:aws:lambda:{REGION}:123456789012:function:sensorflow-{STAGE}-ingest",
        "stream_arn": stream_arn,
        "start_sequence_number": first,
        "end_sequence_number": last,
        "batch_size": 3,
        "records_found": 3,
    }
    # AND a redelivery of the message rewrites that object with the same bytes, never a second one
    assert handler(sqs_event(document), FakeContext()) == {"batchItemFailures": []}
    assert quarantine(env) == objects


def test_a_range_the_stream_no_longer_holds_keeps_its_metadata(env: Env):
    # GIVEN a message for sequence numbers past everything the shard holds (its records trimmed),
    # and one for a stream that was deleted
    stream_arn, records = put_records(env)
    beyond = [
        KinesisRecordData(
            records[0].shard_id, str(int(records[-1].sequence_number) + n), "k", b"", records[0].arrival
        )
        for n in (10, 20)
    ]
    deleted = stream_arn.replace(STREAM, "sensorflow-test-gone")
    response = handler(
        sqs_event(failure(stream_arn, beyond, "RecordAgeExceeded"), failure(deleted, records[:1])),
        FakeContext(),
    )
    # THEN both are done, each with one metadata entry and no payload
    assert response == {"batchItemFailures": []}
    entries = {key.split("/")[-3]: lines for key, lines in quarantine(env).items()}
    assert set(entries) == {STREAM, "sensorflow-test-gone"}
    [trimmed] = entries[STREAM]
    assert (trimmed["payload"], trimmed["sequence_number"]) == ("", beyond[0].sequence_number)
    assert json.loads(trimmed["detail"])["condition"] == "RecordAgeExceeded"
    assert json.loads(trimmed["detail"])["missing"].startswith("no record of the range is in the stream")
    [gone] = entries["sensorflow-test-gone"]
    assert json.loads(gone["detail"])["missing"] == (
        "the stream no longer holds the range (kinesis:GetShardIterator: ResourceNotFoundException)"
    )


def test_a_quarantine_outage_returns_the_message_to_the_queue(env: Env, monkeypatch: pytest.MonkeyPatch):
    stream_arn, records = put_records(env)
    monkeypatch.setenv("QUARANTINE_BUCKET_NAME", "sensorflow-test-no-such-bucket")
    response = handler(sqs_event(failure(stream_arn, records[:2])), FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "message-0"}]}


def test_the_sample_events_are_handled_as_documented(env: Env):
    # The samples name the local stage's stream, which this stack lacks: their metadata is kept.
    sample = json.loads((EVENTS / "failures-retries-exhausted.json").read_text())
    assert handler(sample, FakeContext()) == {"batchItemFailures": []}
    unreadable = json.loads((EVENTS / "failures-unreadable.json").read_text())
    assert handler(unreadable, FakeContext()) == {"batchItemFailures": []}
    objects = quarantine(env)
    assert sorted(k.rsplit("/", 1)[1] for k in objects) == [
        "49658000000000000000000000000000000000000000000000000-49658000000000000000000000000000000000000000000000000.jsonl",
        "49658000000000000000000000000000000000000000000000000-49658000000000000000000000000000000000000000002000000.jsonl",
        f"{unreadable['Records'][0]['messageId']}.jsonl",
    ]
