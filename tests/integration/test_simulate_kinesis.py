"""The simulator publishing to Kinesis under moto's ``mock_aws``.

Partial PutRecords failures are injected with botocore event hooks: ``before-parameter-build`` takes the
chosen records out of the request (so moto never stores them, as on AWS) and ``after-call`` puts a
per-record ``ProvisionedThroughputExceededException`` back at their positions in the parsed response.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from moto import mock_aws

from sensorflow.cli.main import main
from sensorflow.core.decode import ReadingDecoder
from sensorflow.simulate import KinesisProducer, SimConfig, generate, manifest
from sensorflow.simulate.producer import PUT_RECORDS_MAX_BYTES, PUT_RECORDS_MAX_RECORDS

REGION = "us-east-1"
STREAM = "sensorflow-test-sensors"
START_MS = 1_767_225_600_000
CONFIG = SimConfig(
    devices=40, duration_s=900, seed=3, start_ms=START_MS, scenario_rate=0.03, malformed_rate=0.03
)
THROTTLED = "ProvisionedThroughputExceededException"


@pytest.fixture
def kinesis() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("kinesis", region_name=REGION, config=Config(retries={"mode": "standard"}))
        client.create_stream(StreamName=STREAM, ShardCount=3)
        yield client


def read_stream(client: Any, stream: str = STREAM) -> list[tuple[str, bytes]]:
    out = []
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        iterator = client.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = client.get_records(ShardIterator=iterator, Limit=10_000)
            out.extend((r["PartitionKey"], r["Data"]) for r in page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return out


class Throttler:
    """Fails chosen positions of chosen PutRecords calls the way Kinesis does, per record."""

    def __init__(self, client: Any, plan: dict[int, set[int]] | None = None, key: str | None = None) -> None:
        self.plan = plan or {}
        self.key = key  # fail every record with this partition key, on every call
        self.calls: list[list[dict[str, Any]]] = []
        self._dropped: set[int] = set()
        self._size = 0
        client.meta.events.register("before-parameter-build.kinesis.PutRecords", self.before)
        client.meta.events.register("before-call.kinesis.PutRecords", self.short_circuit)
        client.meta.events.register("after-call.kinesis.PutRecords", self.after)

    def before(self, params: dict[str, Any], **_: Any) -> None:
        entries = params["Records"]
        self.calls.append(list(entries))
        positions = set(self.plan.get(len(self.calls) - 1, set()))
        positions |= {i for i, e in enumerate(entries) if e["PartitionKey"] == self.key}
        self._dropped, self._size = positions, len(entries)
        if len(positions) < len(entries):  # an empty Records list fails validation: short_circuit instead
            params["Records"] = [e for i, e in enumerate(entries) if i not in positions]

    def short_circuit(self, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        """When every record of a call fails, answer without sending it (as a throttled call would)."""
        if len(self._dropped) < self._size:
            return None
        return AWSResponse("http://kinesis.invalid/", 200, {}, None), {"FailedRecordCount": 0, "Records": []}

    def after(self, parsed: dict[str, Any], **_: Any) -> None:
        accepted = iter(parsed["Records"])
        parsed["Records"] = [
            {"ErrorCode": THROTTLED, "ErrorMessage": "Rate exceeded for shard shardId-000000000000"}
            if i in self._dropped
            else next(accepted)
            for i in range(self._size)
        ]
        parsed["FailedRecordCount"] = parsed.get("FailedRecordCount", 0) + len(self._dropped)


def test_published_records_read_back_exactly_as_sent_and_match_their_truth(kinesis):
    records = list(generate(CONFIG))
    throttler = Throttler(kinesis)

    report = KinesisProducer(kinesis, STREAM).send(records)

    stored = read_stream(kinesis)
    assert Counter(stored) == Counter((r.partition_key, r.data) for r in records)
    assert (report.sent, report.failed, report.retried) == (len(records), 0, 0)
    assert report.bytes == sum(len(r.data) + len(r.partition_key) for r in records)
    assert all(len(c) <= PUT_RECORDS_MAX_RECORDS for c in throttler.calls)
    assert all(
        sum(len(e["Data"]) + len(e["PartitionKey"]) for e in c) <= PUT_RECORDS_MAX_BYTES
        for c in throttler.calls
    )
    # what came out of the stream decodes to what the truth says was sent
    decoder = ReadingDecoder()
    truth_of = {(r.partition_key, r.data): r.truth for r in records}
    for key, data in stored:
        truth = truth_of[key, data]
        assert key == truth["device_id"]
        if truth["kind"] != "malformed":
            reading = decoder.decode(data)
            assert (reading.device_id, reading.seq, reading.value, reading.timestamp_ms) == (
                truth["device_id"],
                truth["seq"],
                truth["value"],
                truth["timestamp_ms"],
            )


def test_partial_failures_retry_only_the_failed_records(kinesis):
    records = list(generate(CONFIG))[:1200]
    throttler = Throttler(kinesis, plan={0: {0, 7, 250, 499}, 1: {1}, 3: {3, 100}})
    sleeps: list[float] = []

    report = KinesisProducer(kinesis, STREAM, sleep=sleeps.append).send(records)

    # call 0: first 500 (4 fail) -> call 1: those 4 (position 1 fails) -> call 2: that 1;
    # call 3: next 500 (2 fail) -> call 4: those 2; call 5: last 200
    sizes = [len(c) for c in throttler.calls]
    assert sizes == [500, 4, 1, 500, 2, 200]
    first_batch = records[:500]
    assert [e["Data"] for e in throttler.calls[1]] == [first_batch[i].data for i in (0, 7, 250, 499)]
    assert [e["Data"] for e in throttler.calls[2]] == [first_batch[7].data]
    assert (report.sent, report.retried, report.failed, report.calls) == (1200, 7, 0, 6)
    assert len(sleeps) == 3
    # every record is in the stream exactly once (moto never stored the "failed" attempts)
    assert Counter(read_stream(kinesis)) == Counter((r.partition_key, r.data) for r in records)


def test_records_still_failing_after_max_attempts_are_reported_undelivered(kinesis):
    records = list(generate(CONFIG))[:700]
    Throttler(kinesis, key="dev-00004")
    expected_failed = [r for r in records if r.partition_key == "dev-00004"]
    assert expected_failed

    report = KinesisProducer(kinesis, STREAM, max_attempts=3, sleep=lambda s: None).send(records)

    assert report.failed == len(expected_failed)
    assert [f.record for f in report.failed_records] == expected_failed
    assert {f.error_code for f in report.failed_records} == {THROTTLED}
    assert report.sent == len(records) - len(expected_failed)
    assert Counter(read_stream(kinesis)) == Counter(
        (r.partition_key, r.data) for r in records if r.partition_key != "dev-00004"
    )


# --- the CLI ------------------------------------------------------------------------------------------

TEMPLATE = {
    "Resources": {
        "Sensors": {"Type": "AWS::Kinesis::Stream", "Properties": {"Name": STREAM, "ShardCount": 4}}
    },
    "Outputs": {"SensorStreamName": {"Value": {"Ref": "Sensors"}}},
}


def test_cli_publishes_to_the_stage_stream_with_a_manifest(capsys, tmp_path: Path):
    path = tmp_path / "manifest.jsonl"
    with mock_aws():
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="sensorflow-test", TemplateBody=json.dumps(TEMPLATE)
        )
        rc = main(
            [
                "simulate",
                "--stage",
                "test",
                "--region",
                REGION,
                "--devices",
                "30",
                "--duration",
                "600",
                "--seed",
                "9",
                "--start",
                str(START_MS),
                "--manifest",
                str(path),
            ]
        )
        out, err = capsys.readouterr()
        stored = read_stream(boto3.client("kinesis", region_name=REGION))

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert rc == 0
    assert f"published to {STREAM} (4 open shard(s), paced to 4 open shard(s))" in out
    assert f"  sent       {len(lines):,}\n  retried    0\n  failed     0\n" in out
    assert "records/s" in out and "one shard accepts 1,000/s" in out
    assert all(line["delivered"] for line in lines)
    sent = list(manifest.read(path))
    assert Counter(stored) == Counter((r.partition_key, r.data) for r in sent)
    # the manifest holds exactly what the same seed and start simulate
    expected = generate(SimConfig(devices=30, duration_s=600, seed=9, start_ms=START_MS))
    assert sorted(r.data for r in sent) == sorted(r.data for r in expected)
    assert "note: device time ends at" in err  # --start in the past is called out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--stage", "nope"],
            "stack sensorflow-nope not found in this region; deploy it (npx sls deploy --stage nope)",
        ),
        (["--stream", "missing"], "stream missing does not exist in this account and region"),
    ],
)
def test_cli_missing_stack_or_stream_is_a_clear_error(capsys, argv, message):
    with mock_aws():
        rc = main(["simulate", "--region", REGION, "--devices", "1", *argv])
    _, err = capsys.readouterr()

    assert rc == 2 and message in err and err.count("\n") == 1


def test_cli_unreachable_endpoint_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    rc = main(["simulate", "--stream", STREAM, "--region", REGION, "--devices", "1"])
    _, err = capsys.readouterr()

    assert rc == 2
    assert "cannot reach http://127.0.0.1:9/" in err and "is `sensorflow local up` running" in err
