"""The demo's per-format accounting: every wire format's records enriched or quarantined, counted from the
records' truth, the stored readings and the quarantined bytes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sensorflow.localcloud.demo.report import render
from sensorflow.localcloud.demo.verify import format_counts, verdicts
from sensorflow.simulate import SimRecord


def record(key: str, seq: int, fmt: str, data: bytes) -> SimRecord:
    return SimRecord(key, data, {"device_id": key, "seq": seq, "format": fmt})


RECORDS = [
    record("dev-00000", 1, "raw", b"r1"),
    record("dev-00000", 2, "raw", b"r2-broken"),
    record("dev-00001", 1, "glue", b"\x03g1"),
    record("dev-00004", 1, "kpl", b"k1"),
    record("dev-00004", 2, "kpl", b"k2"),
]


def test_each_format_counts_its_stored_readings_and_its_quarantined_bytes():
    # GIVEN four readings stored and one quarantined (found by partition key and exact bytes)
    stored = Counter({("dev-00000", 1): 1, ("dev-00001", 1): 1, ("dev-00004", 1): 1, ("dev-00004", 2): 1})
    counts = format_counts(RECORDS, stored, [("dev-00000", b"r2-broken")])
    # THEN every format is accounted for
    assert counts == {
        "glue": {"published": 1, "enriched": 1, "quarantined": 0},
        "kpl": {"published": 2, "enriched": 2, "quarantined": 0},
        "raw": {"published": 2, "enriched": 1, "quarantined": 1},
    }


def test_a_format_with_a_record_unaccounted_for_fails_the_demo():
    # GIVEN a KPL sub-record neither stored nor quarantined
    stored = Counter({("dev-00000", 1): 1, ("dev-00001", 1): 1, ("dev-00004", 1): 1})
    counts = format_counts(RECORDS, stored, [("dev-00000", b"r2-broken")])
    summary = _summary(counts)
    # THEN the formats check fails and the summary names the format
    assert verdicts(summary)["formats"] is False
    text = render(summary, verdicts(summary))
    assert "  kpl" in text and "2 / 1 / 0" in text
    assert "wire formats: MISMATCH: not every record accounted for in kpl" in text
    assert "FAILED (accounted, formats)" in text


def _summary(formats: dict[str, Any]) -> dict[str, Any]:
    life = {
        "planned": {"reminder": False, "latched": False, "silenced": False},
        "reminders": {"observed": 0, "delivered": 0},
        "latched": {},
        "silenced": {"published": 0, "delivered": 0, "matchers": {}},
        "repeat_every_s": None,
    }
    return {
        "drained": True,
        "duplicates": 0,
        "accounted": 4,
        "published": 5,
        "enriched": 4,
        "quarantined": {"decode_error": 1},
        "formats": formats,
        "notifications_match": True,
        "notifications_expected": 0,
        "notifications_delivered": 0,
        "notifications_problems": {"missing": [], "twice": [], "unexpected": []},
        "truth": {"ok": True, "stale_checked": True, "expected": {}, "seen": {}, "mismatches": []},
        "lifecycle": life,
        "alarms": {},
        "alerts": {},
        "incidents": {"opened": 0, "resolved": 0},
        "critical_queue": None,
        "faults_injected": 0,
        "batches_retried": 0,
        "records_discarded": 0,
        "latency_ms": {"p50": 1.0, "p95": 2.0},
        "records_per_second": 1.0,
        "processing_s": 1.0,
        "deploy_s": 1.0,
        "wall_s": 2.0,
        "expected": {},
        "crossing_readings": 0,
    }
