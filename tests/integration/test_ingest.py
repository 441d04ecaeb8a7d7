"""The ``ingest`` function end to end under moto: handler -> adapters -> S3 / SNS / EventBridge."""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
import pytest

from handlers.ingest import handler
from sensorflow.adapters import clients as client_factory
from tests.factories import kinesis_event, reading, seq_number, stream_record
from tests.integration.conftest import FakeContext, Stack

POISON = b"\x06abc\x7e"


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


def make_batch(stack: Stack, values: list[float | None], device_prefix: str = "dev-") -> list:
    now = now_ms()
    recs = []
    for i, v in enumerate(values):
        if v is None:
            recs.append(stream_record(POISON, i, arrival_ms=now, key="dev-00001"))
        else:
            did = f"{device_prefix}{i:05d}"
            recs.append(
                stream_record(reading(device_id=did, seq=i, value=v, timestamp=now - 500), i, arrival_ms=now)
            )
    return recs


def read_readings(stack: Stack) -> list[dict[str, Any]]:
    s3, bucket = stack.clients["s3"], stack.settings.readings_bucket
    out = []
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        out += list(fastavro.reader(io.BytesIO(body)))
    return out


def read_quarantine(stack: Stack) -> list[dict[str, Any]]:
    s3, bucket = stack.clients["s3"], stack.settings.quarantine_bucket
    out = []
    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        out += [
            json.loads(line)
            for line in s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().splitlines()
        ]
    return out


@pytest.fixture
def devices(lambda_env: Stack) -> Stack:
    for i in range(6):
        lambda_env.put_device(f"dev-{i:05d}", site=f"site-{i % 2}")
    return lambda_env


def test_readings_land_in_s3_as_avro_and_decode(devices: Stack):
    recs = make_batch(devices, [21.0, 22.5, 23.0])
    assert handler(kinesis_event(recs), FakeContext()) == {"batchItemFailures": []}
    rows = read_readings(devices)
    assert [(r["device_id"], r["seq"], r["value"], r["unit"], r["site"]) for r in rows] == [
        ("dev-00000", 0, 21.0, "C", "site-0"),
        ("dev-00001", 1, 22.5, "C", "site-1"),
        ("dev-00002", 2, 23.0, "C", "site-0"),
    ]
    assert all(r["sequence_number"] == seq_number(r["seq"]) and r["latency_ms"] == 500 for r in rows)


def test_quarantine_lines_are_complete(devices: Stack):
    recs = make_batch(devices, [21.0, None, 22.0])
    recs.append(
        stream_record(
            reading(device_id="ghost-00009", seq=3, timestamp=recs[0].arrival_time_ms),
            3,
            arrival_ms=recs[0].arrival_time_ms,
        )
    )
    assert handler(kinesis_event(recs), FakeContext()) == {"batchItemFailures": []}
    lines = read_quarantine(devices)
    assert [(q["reason"], q["sequence_number"], q["partition_key"]) for q in lines] == [
        ("decode_error", seq_number(1), "dev-00001"),
        ("unknown_device", seq_number(3), "ghost-00009"),
    ]
    for q in lines:
        assert set(q) == {
            "reason",
            "detail",
            "payload",
            "partition_key",
            "sequence_number",
            "shard_id",
            "arrival_time",
        }
        assert q["shard_id"] == "shardId-000000000000" and q["detail"]
    import base64

    assert base64.b64decode(lines[0]["payload"]) == POISON
    assert [r["seq"] for r in read_readings(devices)] == [0, 2]


def excursion(hot: dict[str, float], n: int = 8, every_s: int = 10) -> list:
    """``n`` readings per device, ``every_s`` apart in device time, all at the device's value: long enough
    (70 s) for the 60 s hold of the default temperature rule, so each device raises exactly once."""
    now = now_ms()
    recs, i = [], 0
    for step in range(n):
        for device_id, value in hot.items():
            ts = now - (n - step) * every_s * 1000
            recs.append(
                stream_record(
                    reading(device_id=device_id, seq=step, value=value, timestamp=ts), i, arrival_ms=now
                )
            )
            i += 1
    return recs


def raised(messages: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((m["transition"], m["device"]["device_id"], m["alarm"]["severity"]) for m in messages)


def test_sns_filter_policy_delivers_only_matching_transitions(devices: Stack):
    # GIVEN one device held at a critical temperature and one at a warning temperature for 70 s
    recs = excursion({"dev-00000": 50.0, "dev-00001": 38.0, "dev-00002": 21.0})
    assert handler(kinesis_event(recs), FakeContext()) == {"batchItemFailures": []}
    # THEN each raises once; the severity-filtered subscription sees only the critical one
    assert raised(devices.drain(devices.critical_queue_url)) == [("Alarm Raised", "dev-00000", "critical")]
    assert raised(devices.drain(devices.all_alerts_queue_url)) == [
        ("Alarm Raised", "dev-00000", "critical"),
        ("Alarm Raised", "dev-00001", "warning"),
    ]


def test_a_replayed_batch_emits_nothing_twice(devices: Stack):
    recs = excursion({"dev-00000": 50.0})
    handler(kinesis_event(recs), FakeContext())
    handler(kinesis_event(recs), FakeContext())
    assert raised(devices.drain(devices.all_alerts_queue_url)) == [("Alarm Raised", "dev-00000", "critical")]
    assert len(read_readings(devices)) == len(recs)  # same key: the retried batch overwrote its object


def test_eventbridge_rule_delivers_to_its_sqs_target(devices: Stack):
    handler(kinesis_event(excursion({"dev-00000": 50.0, "dev-00001": 38.0})), FakeContext())
    [event] = devices.drain(devices.bus_queue_url)
    assert (event["source"], event["detail-type"]) == ("sensorflow.alarms", "Alarm Raised")
    detail = event["detail"]
    assert (detail["device"]["device_id"], detail["alarm"]["severity"], detail["rule"]["threshold"]) == (
        "dev-00000",
        "critical",
        45.0,
    )


def _short_circuit(code: str, status: int = 400):
    class Http:
        status_code = status

    def hook(**_: Any):
        return Http(), {
            "Error": {"Code": code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    return hook


def test_registry_throttling_reports_the_record_and_everything_after_it(devices: Stack):
    # GIVEN DynamoDB throttles every lookup from the third one on
    calls = {"n": 0}
    ddb = client_factory.client("dynamodb")

    def throttle_after_two(**kwargs: Any):
        calls["n"] += 1
        return _short_circuit("ProvisionedThroughputExceededException")(**kwargs) if calls["n"] > 2 else None

    ddb.meta.events.register("before-call.dynamodb.GetItem", throttle_after_two)
    recs = make_batch(devices, [21.0, 21.0, 21.0, 21.0, 21.0])
    # WHEN the batch is processed
    resp = handler(kinesis_event(recs), FakeContext())
    # THEN records 2..4 are reported and only 0..1 are stored
    assert resp == {"batchItemFailures": [{"itemIdentifier": seq_number(i)} for i in (2, 3, 4)]}
    assert [r["seq"] for r in read_readings(devices)] == [0, 1]


def test_put_events_partial_failure_is_resent_until_it_succeeds(devices: Stack):
    events = client_factory.client("events")
    sent: list[list[str]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append([json.loads(e["Detail"])["device"]["device_id"] for e in params["Entries"]])

    def fail_first_entry_once(parsed: dict[str, Any], **_: Any) -> None:
        if len(sent) == 1:
            parsed["FailedEntryCount"] = 1
            parsed["Entries"][0] = {"ErrorCode": "ThrottlingException", "ErrorMessage": "injected"}

    events.meta.events.register("provide-client-params.events.PutEvents", record)
    events.meta.events.register("after-call.events.PutEvents", fail_first_entry_once)
    resp = handler(
        kinesis_event(excursion({"dev-00000": 50.0, "dev-00001": 38.0, "dev-00002": 46.0})), FakeContext()
    )
    assert resp == {"batchItemFailures": []}
    assert sent == [["dev-00000", "dev-00001", "dev-00002"], ["dev-00000"]]


def test_permanently_rejected_transition_fails_from_its_record(devices: Stack):
    events = client_factory.client("events")

    def reject_second(parsed: dict[str, Any], **_: Any) -> None:
        parsed["FailedEntryCount"] = 1
        parsed["Entries"][1] = {"ErrorCode": "AccessDeniedException", "ErrorMessage": "injected"}

    events.meta.events.register("after-call.events.PutEvents", reject_second)
    recs = excursion({"dev-00000": 50.0, "dev-00001": 38.0})
    resp = handler(kinesis_event(recs), FakeContext())
    # dev-00001 raises at its 7th reading (60 s after its first crossing): record 13 of 16
    assert resp == {"batchItemFailures": [{"itemIdentifier": seq_number(i)} for i in range(13, 16)]}
    assert len(read_readings(devices)) == 13
    # WHEN Lambda redelivers from record 13, the outbox publishes the rejected transition again
    events.meta.events.unregister("after-call.events.PutEvents", reject_second)
    assert handler(kinesis_event(recs[13:]), FakeContext()) == {"batchItemFailures": []}
    assert [e["detail"]["device"]["device_id"] for e in devices.drain(devices.bus_queue_url)] == ["dev-00000"]
    assert raised(devices.drain(devices.all_alerts_queue_url)) == [
        ("Alarm Raised", "dev-00000", "critical"),
        ("Alarm Raised", "dev-00001", "warning"),
    ]


def test_sns_failed_entries_are_resent_and_sender_faults_are_not(devices: Stack):
    sns = client_factory.client("sns")
    sent: list[int] = []

    def count(params: dict[str, Any], **_: Any) -> None:
        sent.append(len(params["PublishBatchRequestEntries"]))

    def fail_once(parsed: dict[str, Any], **_: Any) -> None:
        if len(sent) == 1:
            first = parsed["Successful"].pop(0)
            parsed.setdefault("Failed", []).append(
                {"Id": first["Id"], "Code": "InternalError", "SenderFault": False}
            )

    sns.meta.events.register("provide-client-params.sns.PublishBatch", count)
    sns.meta.events.register("after-call.sns.PublishBatch", fail_once)
    resp = handler(kinesis_event(excursion({"dev-00000": 50.0, "dev-00001": 38.0})), FakeContext())
    assert resp == {"batchItemFailures": []}
    assert sent == [2, 1]


def test_missing_configuration_is_a_clear_error(stack: Stack, monkeypatch: pytest.MonkeyPatch):
    from sensorflow.config import IngestSettings
    from sensorflow.core.errors import ConfigError

    with pytest.raises(ConfigError, match="DEVICE_TABLE_NAME"):
        IngestSettings.from_env({"READINGS_BUCKET_NAME": "x"})
