"""Build the sample Kinesis events in events/ from the schemas (run: `make events`).

The events are what Lambda sends the ``ingest`` function; they work with
``npx sls invoke local -f ingest --stage <stage> --path events/<file>`` and are used by the tests.
Arrival times are fixed, and the timestamp check is relative to arrival, so the files never go stale.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from sensorflow.core.decode import encode_reading

HERE = Path(__file__).resolve().parent
ARRIVAL_S = 1_795_000_000.0  # 2026-11-18T09:46:40Z
SHARD = "shardId-000000000000"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/sensorflow-local-readings"
FIRST_SEQ = 49_658_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000_000


def reading(device: int, seq: int, sensor_type: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {
        "device_id": f"dev-{device:05d}",
        "sensor_type": sensor_type,
        "value": value,
        "unit": unit,
        "timestamp": int(ARRIVAL_S * 1000) - 1500 + seq,
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
    return event(
        [
            encoded(reading(0, 102, "temperature", 36.5, "C")),  # warning max
            encoded(reading(1, 202, "humidity", 93.0, "%RH")),  # critical max
            encoded(reading(2, 302, "pressure", 890.0, "hPa")),  # critical min
            encoded(reading(3, 402, "temperature", 120.0, "F")),  # 48.9 C: critical max
            encoded(reading(4, 502, "vibration", 8.0, "mm/s")),  # warning max
            encoded(reading(0, 103, "temperature", 22.0, "C")),  # normal
        ]
    )


SAMPLES = {"ingest-valid.json": valid, "ingest-poison.json": poison, "ingest-thresholds.json": thresholds}


def main() -> None:
    for name, build in SAMPLES.items():
        (HERE / name).write_text(json.dumps(build(), indent=2) + "\n")


if __name__ == "__main__":
    main()
