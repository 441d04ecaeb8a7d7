"""A device's recent readings, read back from the readings bucket's batch objects.

Ingest writes one Avro container (``sensorflow.EnrichedReading``, ``adapters.s3_readings``) per batch under
``readings/year=YYYY/month=MM/day=DD/<shard>/<first sequence number>.avro``: keyed by arrival day and
shard, not by device. So the device view lists the days its window covers, reads the newest batch objects
written in the window (at most ``MAX_OBJECTS``, newest first) and keeps that device's readings. A view of
the last hour of a busy stage therefore shows the newest part of it; Athena over the same objects is the
tool for more.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from fastavro import reader

from sensorflow.adapters.errors import transient
from sensorflow.cli.console.model import ReadingPoint

READINGS_PREFIX = "readings"
MAX_OBJECTS = 200  # batch objects read for one device view (newest first)
MAX_POINTS = 5000  # readings kept for one chart


def day_prefixes(since_ms: int, now_ms: int) -> list[str]:
    """The ``readings/year=/month=/day=/`` prefixes of every UTC day from ``since_ms`` to ``now_ms``."""
    day = datetime.fromtimestamp(since_ms / 1000, tz=UTC).date()
    last = datetime.fromtimestamp(now_ms / 1000, tz=UTC).date()
    out = []
    while day <= last:
        out.append(f"{READINGS_PREFIX}/year={day:%Y}/month={day:%m}/day={day:%d}/")
        day += timedelta(days=1)
    return out


def _epoch_ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


class S3RecentReadings:
    def __init__(self, bucket: str, client: Any, max_objects: int = MAX_OBJECTS) -> None:
        self._bucket = bucket
        self._client = client
        self._max_objects = max_objects

    def _recent_keys(self, since_ms: int, now_ms: int) -> list[str]:
        since = datetime.fromtimestamp(since_ms / 1000, tz=UTC)
        found: list[tuple[datetime, str]] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for prefix in day_prefixes(since_ms, now_ms):
            with transient("s3:ListObjectsV2 readings"):
                for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                    found += [
                        (o["LastModified"], o["Key"])
                        for o in page.get("Contents", [])
                        if o["LastModified"] >= since and o.get("Size", 0) > 0
                    ]
        found.sort(reverse=True)
        return [key for _, key in found[: self._max_objects]]

    def for_device(self, device_id: str, since_ms: int, now_ms: int) -> list[ReadingPoint]:
        """The device's readings with a device time from ``since_ms`` on, oldest first."""
        points: list[ReadingPoint] = []
        for key in self._recent_keys(since_ms, now_ms):
            with transient("s3:GetObject readings"):
                body = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            for record in reader(io.BytesIO(body)):
                if not isinstance(record, dict) or record.get("device_id") != device_id:
                    continue
                at = _epoch_ms(record["timestamp"])
                if at >= since_ms:
                    points.append(
                        ReadingPoint(
                            at, str(record["sensor_type"]), float(record["value"]), str(record["unit"])
                        )
                    )
            if len(points) >= MAX_POINTS:
                break
        return sorted(points, key=lambda p: (p.timestamp_ms, p.sensor_type))[-MAX_POINTS:]
