"""``sensorflow quarantine list|show|redrive`` under moto: quarantine objects written by the real
``S3QuarantineSink`` (and by the real ingest handler), a real moto stream, the stack's outputs.

The redrive's idempotence is checked end to end: the ingest handler reads what the redrive published, and a
reading redriven twice is stored once. A control test shows why the ledger is needed: the same bytes
published twice with new sequence numbers are stored twice by ingest (the alarm replay guard protects the
alarm state, not the readings store).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from handlers.ingest import handler
from sensorflow import bootstrap
from sensorflow.adapters.s3_quarantine import S3QuarantineSink
from sensorflow.adapters.s3_redrive_ledger import S3RedriveLedger
from sensorflow.cli import main as cli
from sensorflow.cli import quarantine_command
from sensorflow.core.decode import encode_reading
from sensorflow.core.ports import QuarantineEntry
from sensorflow.core.quarantined import content_hash
from sensorflow.core.records import StreamRecord
from sensorflow.core.redrive import RedriveAttempt
from tests.factories import kinesis_event, reading, stream_record
from tests.integration.conftest import REGION, STAGE, FakeContext, Stack
from tests.integration.test_ingest import now_ms, read_readings

STREAM = f"sensorflow-{STAGE}-readings"
DAY1 = 1_795_000_000_000  # 2026-11-18T11:06:40Z
DAY2 = DAY1 + 86_400_000
GHOST = "ghost-00009"


@dataclass
class Env:
    stack: Stack
    bucket: str
    s3: Any
    kinesis: Any

    def stream_records(self, iterator: str | None = None) -> tuple[list[StreamRecord], str]:
        """What the stream holds after ``iterator`` (from the start when None), as ingest receives it."""
        if iterator is None:
            shard = self.kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
            iterator = self.kinesis.get_shard_iterator(
                StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        answer = self.kinesis.get_records(ShardIterator=iterator)
        shard_id = "shardId-000000000000"
        records = [
            StreamRecord(
                shard_id,
                r["SequenceNumber"],
                r["PartitionKey"],
                r["Data"],
                int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
            )
            for r in answer["Records"]
        ]
        return records, answer["NextShardIterator"]


@pytest.fixture
def env(lambda_env: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    # One real session for every command run (a new session loads every service model again: ~0.5 s)
    session = quarantine_command.aws_session(REGION)
    monkeypatch.setattr(quarantine_command, "aws_session", lambda region: session)
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    bucket = lambda_env.settings.quarantine_bucket
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "QuarantineBucketName": {"Value": bucket},
                    "SensorStreamName": {"Value": STREAM},
                },
            }
        ),
    )
    yield Env(lambda_env, bucket, lambda_env.clients["s3"], kinesis)


def read_quarantine(stack: Stack) -> list[dict[str, Any]]:
    """Every quarantine line (not the ledger under redrives/)."""
    s3, bucket = stack.clients["s3"], stack.settings.quarantine_bucket
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="quarantine/").get("Contents", [])]
    return [
        json.loads(line) for k in keys for line in s3.get_object(Bucket=bucket, Key=k)["Body"].iter_lines()
    ]


def entry(
    reason: str, payload: bytes, key: str, seq: str, arrival: int, detail: str = "d"
) -> QuarantineEntry:
    return QuarantineEntry(reason, detail, payload, key, seq, "shardId-000000000000", arrival)


def seed(env: Env) -> dict[str, bytes]:
    """Two days of quarantine through the real sink, and a quarantined transition (not a record)."""
    sink = S3QuarantineSink(env.bucket, env.s3)
    ghost = encode_reading(reading(device_id=GHOST, seq=7))
    other = encode_reading(reading(device_id="ghost-00010", seq=1))
    sink.write(
        "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl",
        [
            entry("unknown_device", ghost, GHOST, "1", DAY1, f"device {GHOST!r} is not in the registry"),
            entry("decode_error", b"\x06abc\x7e", "dev-00001", "2", DAY1 + 1),
            entry("unknown_device", other, "ghost-00010", "3", DAY1 + 2),
        ],
    )
    sink.write(
        "quarantine/year=2026/month=11/day=19/shardId-000000000000/9.jsonl",
        [entry("decode_error", b"\x01", "dev-00002", "9", DAY2, "EOFError")],
    )
    env.s3.put_object(
        Bucket=env.bucket, Key="quarantine/transitions/year=2026/month=11/day=19/e.sns.jsonl", Body=b"{}\n"
    )
    return {"ghost": ghost, "other": other}


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert cli.main(["quarantine", *argv, "--stage", STAGE, "--json"]) == 0, argv
    lines = capsys.readouterr().out.splitlines()
    return [json.loads(line) for line in lines] if argv[0] == "redrive" else json.loads(lines[0])


def cli_text(capsys: pytest.CaptureFixture[str], *argv: str, rc: int = 0) -> str:
    capsys.readouterr()
    assert cli.main(["quarantine", *argv, "--stage", STAGE]) == rc, argv
    return capsys.readouterr().out


def test_list_counts_by_reason_and_day_then_newest_first(env: Env, capsys):
    assert cli_text(capsys, "list") == "no quarantined records match\n"
    seed(env)
    out = cli_json(capsys, "list")
    assert out["counts"] == {
        "total": 4,
        "by_reason": {"decode_error": 2, "unknown_device": 2},
        "by_day": {"2026-11-18": 3, "2026-11-19": 1},
    }
    assert [r["id"] for r in out["records"]] == [
        "quarantine/year=2026/month=11/day=19/shardId-000000000000/9.jsonl#0",
        "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl#2",
        "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl#1",
        "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl#0",
    ]
    # the filters and the limit
    assert cli_json(capsys, "list", "--reason", "unknown_device", "--limit", "1")["counts"]["total"] == 2
    assert len(cli_json(capsys, "list", "--limit", "1")["records"]) == 1
    by_device = cli_json(capsys, "list", "--device", GHOST)
    assert [(r["device_id"], r["reason"]) for r in by_device["records"]] == [(GHOST, "unknown_device")]
    assert cli_json(capsys, "list", "--since", "2026-11-19T00:00:00Z")["counts"]["by_day"] == {
        "2026-11-19": 1
    }
    text = cli_text(capsys, "list")
    assert text.startswith("4 quarantined records\n\nby reason\nREASON")
    assert "unknown_device  2" in text and "2026-11-18  3" in text


def test_show_prints_detail_partial_decode_hex_and_history(env: Env, capsys):
    seed(env)
    key = "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl"
    text = cli_text(capsys, "show", f"{key}#1")
    assert f"id              {key}#1\nreason          decode_error\n" in text
    assert "framing   raw (5 bytes)" in text
    assert '  [   0..4   ) device_id = "abc"' in text
    assert "error     field 'sensor_type' at byte 4: IndexError" in text
    assert "00000000  06 61 62 63 7e" in text and "|.abc~|" in text
    assert text.endswith(
        "quarantined 1 time(s) with these bytes:\n"
        f"  2026-11-18T11:06:40.001Z  decode_error             {key}#1\nnever redriven\n"
    )
    # by content-hash prefix, as JSON
    doc = cli_json(capsys, "show", content_hash(b"\x06abc\x7e")[:10])
    assert doc["record"]["id"] == f"{key}#1"
    assert doc["decode"]["fields"] == [{"name": "device_id", "value": "abc", "start": 0, "end": 4}]
    assert doc["history"]["redrives"] == []
    # ids that name nothing are one-line errors
    assert cli.main(["quarantine", "show", "quarantine/nope.jsonl#0", "--stage", STAGE]) == 2
    assert "no quarantine object quarantine/nope.jsonl; take an id from" in capsys.readouterr().err
    assert cli.main(["quarantine", "show", f"{key}#9", "--stage", STAGE]) == 2
    assert f"{key} has no record at line 9" in capsys.readouterr().err


def test_redrive_publishes_the_exact_bytes_once_and_never_rewrites_the_quarantine(env: Env, capsys):
    payloads = seed(env)
    key = "quarantine/year=2026/month=11/day=18/shardId-000000000000/1.jsonl"
    before = env.s3.get_object(Bucket=env.bucket, Key=key)
    body = before["Body"].read()
    # a dry run publishes nothing and records nothing
    dry = cli_json(capsys, "redrive", "--reason", "unknown_device", "--dry-run")
    assert sorted(r["status"] for r in dry) == ["would_redrive", "would_redrive"]
    assert env.stream_records()[0] == []
    assert "Contents" not in env.s3.list_objects_v2(Bucket=env.bucket, Prefix="redrives/")
    # WHEN the unknown device's record is redriven twice
    first = cli_json(capsys, "redrive", f"{key}#0")
    second = cli_json(capsys, "redrive", f"{key}#0")
    # THEN one record went to the stream, with the exact bytes and partition key
    records, _ = env.stream_records()
    assert [(r.data, r.partition_key) for r in records] == [(payloads["ghost"], GHOST)]
    assert [(r["status"], r["attempt"], r["sequence_number"]) for r in first] == [
        ("redriven", 1, records[0].sequence_number)
    ]
    assert [r["status"] for r in second] == ["refused"]
    assert "already redriven" in second[0]["message"]
    # and the ledger is beside the quarantine, the quarantine object untouched
    digest = content_hash(payloads["ghost"])
    keys = [o["Key"] for o in env.s3.list_objects_v2(Bucket=env.bucket, Prefix="redrives/")["Contents"]]
    assert keys == [f"redrives/{digest}/0001.claim.json", f"redrives/{digest}/0001.outcome.json"]
    after = env.s3.get_object(Bucket=env.bucket, Key=key)
    assert after["Body"].read() == body and after["ETag"] == before["ETag"]
    assert len(env.s3.list_object_versions(Bucket=env.bucket, Prefix=key).get("Versions", [])) == 1


def test_a_record_that_fails_again_comes_back_with_its_history_up_to_max_attempts(env: Env, capsys):
    # GIVEN a record of an unregistered device, quarantined by ingest
    now = now_ms()
    ghost = reading(device_id=GHOST, seq=7, timestamp=now - 500)
    assert handler(kinesis_event([stream_record(ghost, 0, arrival_ms=now)]), FakeContext()) == {
        "batchItemFailures": []
    }
    iterator = None
    for attempt in (1, 2):
        # WHEN it is redriven (the device is still unknown) and ingest reads the stream
        [result] = cli_json(capsys, "redrive", "--device", GHOST)
        assert (result["status"], result["attempt"]) == ("redriven", attempt)
        records, iterator = env.stream_records(iterator)
        assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    # THEN it is back in the quarantine (new objects: three copies, same bytes), and its history says so
    copies = [q for q in read_quarantine(env.stack) if q["partition_key"] == GHOST]
    assert [q["reason"] for q in copies] == ["unknown_device"] * 3
    assert len({q["payload"] for q in copies}) == 1
    listed = cli_json(capsys, "list", "--device", GHOST)
    assert [r["redrives"] for r in listed["records"]] == [2, 2, 2]
    text = cli_text(capsys, "show", listed["records"][-1]["id"])
    assert "quarantined 3 time(s) with these bytes:" in text
    assert "redriven 2 time(s):" in text
    assert text.count("; quarantined again as quarantine/") == 2
    # and a third failure is the last: max attempts refuses the fourth
    [third] = cli_json(capsys, "redrive", "--device", GHOST, "--max-attempts", "2")
    assert third["status"] == "refused" and "--max-attempts 2" in third["message"]


def test_a_redriven_record_is_enriched_exactly_once_even_when_redriven_twice(env: Env, capsys):
    # GIVEN a reading of a device not yet registered, quarantined by the real ingest handler
    now = now_ms()
    ghost = reading(device_id=GHOST, seq=7, timestamp=now - 500)
    assert handler(kinesis_event([stream_record(ghost, 0, arrival_ms=now)]), FakeContext()) == {
        "batchItemFailures": []
    }
    [quarantined] = read_quarantine(env.stack)
    assert quarantined["reason"] == "unknown_device"
    # WHEN the device is registered (a new container: no cached miss) and the record redriven twice
    env.stack.put_device(GHOST)
    bootstrap.ingest_service.cache_clear()
    assert [r["status"] for r in cli_json(capsys, "redrive", "--reason", "unknown_device")] == ["redriven"]
    assert [r["status"] for r in cli_json(capsys, "redrive", "--reason", "unknown_device")] == ["refused"]
    records, _ = env.stream_records()
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    # THEN it is enriched exactly once, with the exact bytes the device sent
    assert [(r["device_id"], r["seq"]) for r in read_readings(env.stack)] == [(GHOST, 7)]
    assert base64.b64decode(quarantined["payload"]) == records[0].data
    # and once enriched it is never redriven again
    assert [r["status"] for r in cli_json(capsys, "redrive", "--device", GHOST)] == ["refused"]


def test_control_ingest_stores_the_same_bytes_twice_when_they_are_published_twice(env: Env):
    # GIVEN a registered device's reading published twice as new records (what a redrive without the
    # ledger would do)
    env.stack.put_device(GHOST)
    data = encode_reading(reading(device_id=GHOST, seq=7, timestamp=now_ms() - 500))
    for _ in range(2):
        env.kinesis.put_record(StreamName=STREAM, Data=data, PartitionKey=GHOST)
    records, _ = env.stream_records()
    # WHEN ingest reads them in two batches (two invocations)
    for r in records:
        assert handler(kinesis_event([r]), FakeContext()) == {"batchItemFailures": []}
    # THEN it stores the reading twice: the replay guard does not protect the readings store
    assert [(r["device_id"], r["seq"]) for r in read_readings(env.stack)] == [(GHOST, 7), (GHOST, 7)]


def test_the_ledger_lets_one_caller_claim_each_attempt(stack: Stack):
    # GIVEN two redrives of the same record racing for attempt 1 (S3 conditional writes, If-None-Match)
    ledger = S3RedriveLedger(stack.settings.quarantine_bucket, stack.clients["s3"])
    mine = RedriveAttempt("ab" * 32, 1, DAY1, "ana", None, "k#0", "ghost-1")
    theirs = RedriveAttempt("ab" * 32, 1, DAY1 + 5, "bo", None, "k#0", "ghost-1")
    # THEN the first claim wins, the second is refused, and the claim is not overwritten
    assert ledger.claim(mine) is True
    assert ledger.claim(theirs) is False
    [recorded] = ledger.attempts("ab" * 32)
    assert (recorded.by, recorded.outcome) == ("ana", None)
    assert ledger.attempt_counts() == {"ab" * 32: 1}
