"""``sensorflow demo`` end to end, bounded so it stays fast in ``make test``.

Its floor is the heartbeat: rate(1 minute), first run one period after the runtime starts, and the demo
waits for a run after the drain so ``Device Stale`` can fire (about 20 s deploy + 60 s + settling).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The installed console script, as a user runs it. (Run as __main__, cli/main.py used to be a second module
# whose UsageError was not the class the sub-commands raised; UsageError now lives in cli/errors.py.)
SENSORFLOW = [str(Path(sys.executable).with_name("sensorflow"))]
DOCUMENTED_KEYS = {
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
QUARANTINE_REASONS = {
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


def test_a_small_demo_accounts_for_every_record_and_shows_the_alarm_lifecycle_end_to_end() -> None:
    # GIVEN 10 devices over 11 minutes of device time: the demo forces 2 excursions (warning, escalate to
    # critical, clear) and 2 devices that go silent for good, and injects an S3 SlowDown fault
    proc = subprocess.run(
        [*SENSORFLOW, "demo", "--devices", "10", "--duration", "660", "--seed", "11", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # THEN it exits 0 and its last line is the JSON summary: the documented keys plus the lifecycle
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == DOCUMENTED_KEYS | {"alarms", "incidents", "checks"}
    # every record accounted for once, and the one readings write that ran out of botocore retries
    assert summary["published"] > 0
    assert summary["enriched"] + sum(summary["quarantined"].values()) == summary["published"]
    assert summary["duplicates"] == 0
    assert summary["batches_retried"] == 1
    assert set(summary["quarantined"]) <= QUARANTINE_REASONS
    # the alarm lifecycle: raised, escalated, cleared, and the two silent devices found stale
    alarms = summary["alarms"]
    assert set(alarms) == {"raised", "escalated", "cleared", "stale"}
    assert alarms["raised"] >= 2 and alarms["escalated"] >= 2 and alarms["cleared"] >= 2
    assert alarms["stale"] == 2
    assert sum(summary["alerts"].values()) == alarms["raised"] + alarms["escalated"]
    assert set(summary["alerts"]) <= {"warning", "critical"} and summary["alerts"]["critical"] >= 2
    # the transitions are exactly the simulator's ground truth, and notify sent one webhook message
    # per transition its filter accepts (its filter takes all four kinds seen here)
    assert summary["checks"] == {"accounted": True, "notifications": True, "truth": True}
    assert summary["notifications_delivered"] == sum(alarms.values())
    # incidents: each escalation to critical opened one, and its clear resolved it
    assert summary["incidents"]["opened"] >= 2
    assert summary["incidents"]["resolved"] >= 2
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]
    assert "OK: enriched" in proc.stdout
    assert "transitions vs ground truth: match" in proc.stdout
