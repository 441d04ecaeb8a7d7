"""Builders for readings, stream records and Lambda events shared by the test tiers."""

from __future__ import annotations

import base64
from typing import Any

from sensorflow.core.decode import encode_reading
from sensorflow.core.records import Device, StreamRecord
from sensorflow.core.rules import parse_rule_book

NOW_MS = 1_790_000_000_000  # a fixed "arrival" instant for pure tests
SHARD = "shardId-000000000000"


def reading(**overrides: Any) -> dict[str, Any]:
    base = {
        "device_id": "dev-00001",
        "sensor_type": "temperature",
        "value": 21.5,
        "unit": "C",
        "timestamp": NOW_MS - 1_000,
        "seq": 1,
        "battery_pct": 87.5,
        "firmware": "1.4.2",
    }
    base.update(overrides)
    return base


def seq_number(i: int) -> str:
    # Kinesis sequence numbers are long decimal strings that sort numerically.
    return str(49_650_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000 + i)


def stream_record(
    data: bytes | dict[str, Any], i: int = 0, arrival_ms: int = NOW_MS, key: str | None = None
) -> StreamRecord:
    payload = data if isinstance(data, bytes) else encode_reading(data)
    pk = key or (data["device_id"] if isinstance(data, dict) else "dev-00001")
    return StreamRecord(SHARD, seq_number(i), pk, payload, arrival_ms)


def kinesis_event(
    records: list[StreamRecord], stream_arn: str = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r.partition_key,
                    "sequenceNumber": r.sequence_number,
                    "data": base64.b64encode(r.data).decode(),
                    "approximateArrivalTimestamp": r.arrival_time_ms / 1000,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{r.shard_id}:{r.sequence_number}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/sensorflow-test-ingest",
                "awsRegion": "us-east-1",
                "eventSourceARN": stream_arn,
            }
            for r in records
        ]
    }


def device(device_id: str = "dev-00001", **overrides: Any) -> Device:
    fields: dict[str, Any] = {
        "site": "site-a",
        "location": "line-1/press-3",
        "model": "TH-200",
        "owner_team": "plant-ops",
        "thresholds": {},
    }
    fields.update(overrides)
    return Device(device_id=device_id, **fields)


# One temperature rule with a 60 s hold, a 1 C deadband and staleness after 300 s: the alarm tests' rule.
TEMPERATURE_RULES = parse_rule_book(
    {
        "version": 2,
        "rules": [
            {
                "id": "temperature-range",
                "sensor_type": "temperature",
                "warning": {"min": 0.0, "max": 35.0},
                "critical": {"min": -10.0, "max": 45.0},
                "for_seconds": 60,
                "deadband": 1.0,
                "stale_after_seconds": 300,
            }
        ],
    },
    {"temperature"},
)
