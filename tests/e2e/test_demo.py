"""``sensorflow demo`` end to end, bounded so it stays fast in ``make test``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_small_demo_accounts_for_every_record_once_and_recovers_the_injected_fault() -> None:
    # GIVEN 10 devices over 5 minutes of device time, with the demo's injected S3 SlowDown fault
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sensorflow.cli",
            "demo",
            "--devices",
            "10",
            "--duration",
            "300",
            "--seed",
            "11",
            "--json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # THEN it exits 0 and its last line is the documented JSON summary
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == {
        "published",
        "enriched",
        "quarantined",
        "duplicates",
        "alerts",
        "notifications_delivered",
        "batches_retried",
        "latency_ms",
        "records_per_second",
    }
    assert summary["published"] > 0
    assert summary["enriched"] + sum(summary["quarantined"].values()) == summary["published"]
    assert summary["duplicates"] == 0
    assert summary["batches_retried"] == 1  # the one readings write that ran out of botocore retries
    assert set(summary["quarantined"]) <= {
        "decode_error",
        "trailing_bytes",
        "unknown_device",
        "timestamp_out_of_range",
        "too_large",
        "implausible_value",
        "bad_unit",
        "non_finite",
        "bad_device_id",
        "unknown_sensor_type",
        "bad_seq",
    }
    assert set(summary["alerts"]) <= {"warning", "critical"}
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]
    assert "OK: enriched" in proc.stdout
