"""Build the sample events in events/, one set per function (run: `make events`).

``ingest-*``: Kinesis batches encoded with the schemas. ``notify-*``: the SNS event the alerts topic
sends, ``incidents-*``: the EventBridge event the critical rule sends, both carrying transition documents
made by the real state machine (``sensorflow.core.alarms``). ``heartbeat-*``: the scheduled event.
``failures-*``: the SQS event of ingest's on-failure queue, its bodies built by the local cloud's own
``kinesis_failure_record`` (the ingest-valid batch's range).
They work with ``npx sls invoke local -f <function> --stage <stage> --path events/<file>`` and are used by
the tests. Times are fixed, and the timestamp check is relative to arrival, so the files never go stale.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from sensorflow.config import load_rule_book
from sensorflow.core.alarms import Alarm, Sample, TransitionEvent, step, suppress
from sensorflow.core.clock import ms_to_iso
from sensorflow.core.decode import encode_reading
from sensorflow.core.records import Device
from sensorflow.core.silences import Silence
from sensorflow.localcloud.emulator.event_documents import (
    KinesisRecordData,
    kinesis_failure_record,
    sqs_event_record,
)

HERE = Path(__file__).resolve().parent
ARRIVAL_S = 1_795_000_000.0  # 2026-11-18T09:46:40Z
SHARD = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/sensorflow-local-readings"
FIRST_SEQ = 49_658_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000


def reading(
    device: int, seq: int, sensor_type: str, value: float, unit: str, age_s: float = 1.5, **extra: Any
) -> dict[str, Any]:
    return {
        "device_id": f"dev-{device:05d}",
        "sensor_type": sensor_type,
        "value": value,
        "unit": unit,
        "timestamp": int((ARRIVAL_S - age_s) * 1000) + seq,
        "seq": seq,
        "battery_pct": extra.get("battery_pct", 91.0),
        "firmware": extra.get("firmware", "1.4.2"),
    }


def event(payloads: list[tuple[str, bytes]]) -> dict[str, Any]:
    records = []
    for i, (key, data) in enumerate(payloads):
        seq = str(FIRST_SEQ + i * 1_000_000)
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": key,
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data).decode("ascii"),
                    "approximateArrivalTimestamp": ARRIVAL_S + i / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{SHARD}:{seq}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/sensorflow-local-us-east-1-lambdaRole",
                "awsRegion": "us-east-1",
                "eventSourceARN": STREAM_ARN,
            }
        )
    return {"Records": records}


def encoded(r: dict[str, Any]) -> tuple[str, bytes]:
    return r["device_id"], encode_reading(r)


def valid() -> dict[str, Any]:
    return event(
        [
            encoded(reading(0, 100, "temperature", 21.4, "C")),
            encoded(reading(1, 200, "humidity", 44.0, "%RH")),
            encoded(reading(2, 300, "pressure", 101.3, "kPa")),
            encoded(reading(3, 400, "temperature", 71.2, "F")),
            encoded(reading(4, 500, "vibration", 2.2, "mm/s")),
        ]
    )


def poison() -> dict[str, Any]:
    good = encode_reading(reading(0, 101, "temperature", 21.6, "C"))
    return event(
        [
            ("dev-00000", good),
            ("dev-00001", good[: len(good) // 2]),  # truncated: decode_error
            (
                "dev-00002",
                encode_reading(reading(2, 301, "pressure", 1012.0, "hPa")) + b"\x00\x01",
            ),  # trailing_bytes
            ("dev-00003", bytes(range(7, 47))),  # random bytes: decode_error
            encoded(reading(3, 401, "humidity", 150.0, "%RH")),  # implausible_value
            encoded({**reading(4, 501, "co2", 600.0, "ppm"), "device_id": "ghost-00042"}),  # unknown_device
            encoded(reading(1, 201, "humidity", 45.5, "%RH")),
        ]
    )


def thresholds() -> dict[str, Any]:
    """Sustained excursions that satisfy the default rules' hold times, and one recovery.

    dev-00000 holds 50 C for 70 s (temperature: 60 s hold) -> Alarm Raised (critical);
    dev-00001 reads 93 %RH three times (humidity: 3 of 5) -> Alarm Raised (critical);
    dev-00002 holds 940 hPa for 70 s (pressure: 60 s hold) -> Alarm Raised (warning), 1012 hPa -> Cleared;
    dev-00004 has one 8 mm/s reading (vibration: 3 of 4) -> nothing.
    """
    payloads = []
    for tick in range(8):
        age = 90 - tick * 10
        payloads.append(encoded(reading(0, 110 + tick, "temperature", 50.0, "C", age_s=age)))
        payloads.append(encoded(reading(2, 310 + tick, "pressure", 940.0, "hPa", age_s=age)))
        if tick < 3:
            payloads.append(encoded(reading(1, 210 + tick, "humidity", 93.0, "%RH", age_s=age)))
    payloads.append(encoded(reading(4, 502, "vibration", 8.0, "mm/s", age_s=5)))
    payloads.append(encoded(reading(2, 318, "pressure", 1012.0, "hPa", age_s=2)))
    return event(payloads)


TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:sensorflow-local-alerts"
ACCOUNT = "123456789012"


def sns_event(doc: dict[str, Any], topic_arn: str = TOPIC_ARN) -> dict[str, Any]:
    """The exact shape Lambda receives from an SNS subscription (one record per invocation)."""
    alarm = doc["alarm"]
    attrs = {
        "transition": doc["transition"],
        "severity": alarm["severity"] or "none",
        "sensor_type": alarm["sensor_type"],
        "site": doc["device"]["site"],
        "device_id": alarm["device_id"],
        # top-level `suppressed` as filter policies see it (core.alarms.transitions.attributes_of)
        "suppressed": (doc.get("suppressed") or {}).get("reason") or "none",
    }
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": topic_arn + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": doc["occurred_at"],
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "Message": json.dumps(doc),
                    "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in attrs.items()},
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "TopicArn": topic_arn,
                    "Subject": None,
                },
            }
        ]
    }


def eventbridge_event(doc: dict[str, Any], bus: str = "sensorflow-local-alerts") -> dict[str, Any]:
    """The exact shape Lambda receives from an EventBridge rule target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": doc["transition"],
        "source": "sensorflow.alarms",
        "account": ACCOUNT,
        "time": doc["occurred_at"][:19] + "Z",
        "region": "us-east-1",
        "resources": [],
        "detail": copy.deepcopy(doc),
    }


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target
    (docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html)."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": ms_to_iso(int(ARRIVAL_S * 1000))[:19] + "Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/sensorflow-local-heartbeat"],
        "detail": {},
    }


def temperature_episode() -> list[TransitionEvent]:
    """dev-00000 at 50 C for 70 s, then back to 21 C: the default rules raise (critical) and clear."""
    rule = load_rule_book().get("temperature-range")
    assert rule is not None, "sensorflow/rules.json has no temperature-range rule"
    device = Device("dev-00000", site="plant-1", location="hall-2", model="TH-200", owner_team="ops")
    alarm = Alarm.new("dev-00000", "temperature", rule.rule_id)
    events: list[TransitionEvent] = []
    start_ms = int((ARRIVAL_S - 90) * 1000)
    for i, value in enumerate([50.0] * 8 + [21.0]):
        ts = start_ms + i * 10_000
        sample = Sample("dev-00000", "temperature", 110 + i, ts, ts + 1_500, value, "C")
        alarm, emitted = step(alarm, rule, sample, device)
        events += emitted
    return events


def notify_raised() -> dict[str, Any]:
    return sns_event(temperature_episode()[0].to_message())


def notify_cleared() -> dict[str, Any]:
    return sns_event(temperature_episode()[-1].to_message())


def notify_suppressed() -> dict[str, Any]:
    """The same raise during a maintenance window on plant-1: published, but notify sends nothing."""
    raised = temperature_episode()[0]
    window = Silence(
        silence_id="sil-maintenance-plant-1",
        matchers={"site": "plant-1"},
        starts_at_ms=raised.occurred_at_ms - 3_600_000,
        ends_at_ms=raised.occurred_at_ms + 3_600_000,
        created_by="alice",
        caller_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        comment="boiler maintenance",
        created_at_ms=raised.occurred_at_ms - 7_200_000,
    )
    return sns_event(suppress(raised, [window], device_stale=False).to_message())


def incidents_raised_critical() -> dict[str, Any]:
    return eventbridge_event(temperature_episode()[0].to_message())


def incidents_cleared() -> dict[str, Any]:
    return eventbridge_event(temperature_episode()[-1].to_message())


FAILURE_QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:sensorflow-local-ingest-failures"
INGEST_ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sensorflow-local-ingest"


def failure_message(index: int, condition: str, invokes: int, size: int) -> dict[str, Any]:
    """An SQS record of the on-failure queue for the first ``size`` records of the ingest-valid batch."""
    records = [
        KinesisRecordData(SHARD, str(FIRST_SEQ + i * 1_000_000), f"dev-{i:05d}", b"", ARRIVAL_S + i / 1000)
        for i in range(size)
    ]
    document = kinesis_failure_record(
        records=records,
        stream_arn=STREAM_ARN,
        function_arn=INGEST_ARN,
        condition=condition,
        invoke_count=invokes,
        function_error="Unhandled" if condition == "RetryAttemptsExhausted" else None,
        status_code=200 if condition == "RetryAttemptsExhausted" else 0,
        now=ARRIVAL_S + 3600,
    )
    document["requestContext"]["requestId"] = f"0d3b4e5c-1f2a-4b6c-8d9e-00000000000{index}"  # fixed
    body = json.dumps(document)
    message = {
        "MessageId": f"6f1c2a3b-4d5e-4f60-8a7b-00000000000{index}",
        "ReceiptHandle": f"AQEB-sample-receipt-handle-{index}",
        "Body": body,
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int((ARRIVAL_S + 3600) * 1000)),
            "SenderId": "AROAEXAMPLE:sensorflow-local-ingest",
            "ApproximateFirstReceiveTimestamp": str(int((ARRIVAL_S + 3601) * 1000)),
        },
    }
    return sqs_event_record(message, FAILURE_QUEUE_ARN, "us-east-1")


def failures_retries_exhausted() -> dict[str, Any]:
    """Two batches ingest gave up on: retries exhausted (a function error), and records too old."""
    return {
        "Records": [
            failure_message(1, "RetryAttemptsExhausted", 6, 3),
            failure_message(2, "RecordAgeExceeded", 0, 1),
        ]
    }


def failures_unreadable() -> dict[str, Any]:
    """A message on the queue that is no on-failure record (kept whole in the quarantine)."""
    record = failure_message(3, "RetryAttemptsExhausted", 1, 1)
    record["body"] = "not an on-failure record"
    record["md5OfBody"] = hashlib.md5(record["body"].encode()).hexdigest()
    return {"Records": [record]}


SAMPLES = {
    "ingest-valid.json": valid,
    "ingest-poison.json": poison,
    "ingest-thresholds.json": thresholds,
    "notify-raised.json": notify_raised,
    "notify-cleared.json": notify_cleared,
    "notify-suppressed.json": notify_suppressed,
    "incidents-raised-critical.json": incidents_raised_critical,
    "incidents-cleared.json": incidents_cleared,
    "heartbeat-schedule.json": scheduled_event,
    "failures-retries-exhausted.json": failures_retries_exhausted,
    "failures-unreadable.json": failures_unreadable,
}


def main() -> None:
    for name, build in SAMPLES.items():
        (HERE / name).write_text(json.dumps(build(), indent=2) + "\n")


if __name__ == "__main__":
    main()
