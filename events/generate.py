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
    for step in range(8):
        age = 90 - step * 10
        payloads.append(encoded(reading(0, 110 + step, "temperature", 50.0, "C", age_s=age)))
        payloads.append(encoded(reading(2, 310 + step, "pressure", 940.0, "hPa", age_s=age)))
        if step < 3:
            payloads.append(encoded(reading(1, 210 + step, "humidity", 93.0, "%RH", age_s=age)))
    payloads.append(encoded(reading(4, 502, "vibration", 8.0, "mm/s", age_s=5)))
    payloads.append(encoded(reading(2, 318, "pressure", 1012.0, "hPa", age_s=2)))
    return event(payloads)


SAMPLES = {"ingest-valid.json": valid, "ingest-poison.json": poison, "ingest-thresholds.json": thresholds}


def main() -> None:
    for name, build in SAMPLES.items():
        (HERE / name).write_text(json.dumps(build(), indent=2) + "\n")


if __name__ == "__main__":
    main()
