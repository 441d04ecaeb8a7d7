"""The quarantine by reason, through ``adapters.s3_quarantine_reader`` (what ``sensorflow quarantine``
reads): the records that arrived in the last ``WINDOW_HOURS``, counted by reason and by day, and the newest
few. The reader skips objects last modified before the window, so the page reads only recent objects."""

from __future__ import annotations

from typing import Any

from sensorflow.adapters.s3_quarantine_reader import S3QuarantineReader
from sensorflow.cli.console.model import QuarantineLine, QuarantineView
from sensorflow.core.clock import iso
from sensorflow.core.quarantined import count

WINDOW_HOURS = 24
RECENT_LINES = 20


def quarantine_view(bucket: str, client: Any, now_ms: int) -> QuarantineView:
    since = now_ms - WINDOW_HOURS * 3_600_000
    records = S3QuarantineReader(bucket, client).entries(since_ms=since)
    counts = count(records)
    newest = sorted(records, key=lambda r: (r.arrival_time_ms, r.record_id), reverse=True)[:RECENT_LINES]
    recent = [
        QuarantineLine(r.reason, r.device_id or r.partition_key, r.detail, iso(r.arrival_time_ms) or "")
        for r in newest
    ]
    return QuarantineView(counts.by_reason, recent, f"arrived in the last {WINDOW_HOURS} h", counts.by_day)
