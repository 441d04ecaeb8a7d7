"""The quarantine by reason: ``adapters.s3_quarantine_reader.S3QuarantineReader`` when this checkout has
it, else a capped listing of the newest quarantine objects (``MAX_OBJECTS``), each read and counted."""

from __future__ import annotations

import importlib
import json
from collections import Counter
from typing import Any

from sensorflow.adapters.errors import transient
from sensorflow.cli.console.model import QuarantineLine, QuarantineView

QUARANTINE_PREFIX = "quarantine/"
MAX_OBJECTS = 100  # newest quarantine objects the listing fallback reads
RECENT_LINES = 20


def _line(raw: dict[str, Any]) -> QuarantineLine:
    device = raw.get("partition_key") or raw.get("device") or raw.get("alarm_id") or ""
    return QuarantineLine(
        reason=str(raw.get("reason") or "?"),
        device=str(device),
        detail=str(raw.get("detail") or ""),
        arrival_time=str(raw.get("arrival_time") or raw.get("occurred_at") or ""),
    )


def listing_view(bucket: str, client: Any, max_objects: int = MAX_OBJECTS) -> QuarantineView:
    objects: list[tuple[Any, str]] = []
    with transient("s3:ListObjectsV2 quarantine"):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=QUARANTINE_PREFIX):
            objects += [(o["LastModified"], o["Key"]) for o in page.get("Contents", []) if o.get("Size", 0)]
    objects.sort(reverse=True)
    counts: Counter[str] = Counter()
    recent: list[QuarantineLine] = []
    for _, key in objects[:max_objects]:
        with transient("s3:GetObject quarantine"):
            body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        for text in body.decode("utf-8", errors="replace").splitlines():
            try:
                raw = json.loads(text)
            except ValueError:
                continue
            if isinstance(raw, dict):
                line = _line(raw)
                counts[line.reason] += 1
                if len(recent) < RECENT_LINES:
                    recent.append(line)
    shown = min(len(objects), max_objects)
    return QuarantineView(dict(counts), recent, f"the newest {shown} of {len(objects)} quarantine objects")


def _reader_class() -> Any:
    try:
        module = importlib.import_module("sensorflow.adapters.s3_quarantine_reader")
    except ModuleNotFoundError:
        return None
    return getattr(module, "S3QuarantineReader", None)


def reader_view(reader: Any) -> QuarantineView:
    counts = {str(k): int(v) for k, v in dict(reader.counts()).items()}
    recent = []
    for entry in list(reader.entries())[-RECENT_LINES:][::-1]:
        raw = entry if isinstance(entry, dict) else {n: getattr(entry, n, None) for n in _ENTRY_NAMES}
        recent.append(_line(raw))
    return QuarantineView(counts, recent, "sensorflow.adapters.s3_quarantine_reader")


_ENTRY_NAMES = ("reason", "partition_key", "device", "alarm_id", "detail", "arrival_time", "occurred_at")


def quarantine_view(bucket: str, client: Any) -> QuarantineView:
    reader = _reader_class()
    if reader is None:
        return listing_view(bucket, client)
    return reader_view(reader(bucket, client))
