"""Translate Lambda's Kinesis event into core ``StreamRecord`` values."""

from __future__ import annotations

import base64
from typing import Any

from sensorflow.core.records import StreamRecord


def stream_records(event: dict[str, Any]) -> list[StreamRecord]:
    records = []
    for rec in event.get("Records", []):
        k = rec["kinesis"]
        records.append(
            StreamRecord(
                # eventID is "shardId-000000000000:<sequenceNumber>"
                shard_id=rec["eventID"].split(":", 1)[0],
                sequence_number=k["sequenceNumber"],
                partition_key=k["partitionKey"],
                data=base64.b64decode(k["data"]),
                arrival_time_ms=int(float(k["approximateArrivalTimestamp"]) * 1000),
            )
        )
    return records
