"""``sensorflow demo`` end to end, bounded so it stays fast in ``make test``.

Its floor is the heartbeat: rate(1 minute), first run one period after the runtime starts, and the demo
waits for a run after the drain so ``Device Stale`` and ``Alarm Reminder`` can fire (about 20 s deploy +
60 s + settling), then acknowledges a latched alarm and waits for its clear at the webhook (seconds).
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
    # GIVEN 10 devices over 15 minutes of device time: the demo forces 2 excursions (warning, escalate to
    # critical, back to normal; one on vibration, whose rule latches), one temperature excursion held
    # critical to the end (its rule reminds every 600 s) and 2 devices that go silent for good, silences
    # the device of the other excursion for maintenance, and injects an S3 SlowDown fault; the devices
    # send all five wire formats mixed in one stream (two devices each), v1 and v2 firmware over the
    # Glue and Confluent ones (the demo's default --formats and --schema-versions)
    proc = subprocess.run(
        [*SENSORFLOW, "demo", "--devices", "10", "--duration", "900", "--seed", "11", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # THEN it exits 0 and its last line is the JSON summary: the documented keys plus the lifecycle
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(summary) == DOCUMENTED_KEYS | {"alarms", "incidents", "lifecycle", "formats", "checks"}
    # every record accounted for once, and the one readings write that ran out of botocore retries
    assert summary["published"] > 0
    assert summary["enriched"] + sum(summary["quarantined"].values()) == summary["published"]
    assert summary["duplicates"] == 0
    assert summary["batches_retried"] == 1
    assert set(summary["quarantined"]) <= QUARANTINE_REASONS
    # every format's records were all enriched or quarantined, and each format had readings enriched
    formats = summary["formats"]
    assert set(formats) == {"raw", "glue", "glue-zlib", "confluent", "kpl"}
    for counts in formats.values():
        assert counts["published"] == counts["enriched"] + counts["quarantined"] and counts["enriched"] > 0
    assert sum(f["published"] for f in formats.values()) == summary["published"]
    # the alarm lifecycle: raised, escalated, cleared (the latched one by its acknowledgement), the two
    # silent devices found stale, and the held excursion reminded of by the heartbeat after the drain
    alarms = summary["alarms"]
    assert set(alarms) == {"raised", "escalated", "cleared", "stale", "reminder"}
    assert alarms["raised"] >= 3 and alarms["escalated"] >= 3 and alarms["cleared"] >= 2
    assert alarms["stale"] == 2
    assert sum(summary["alerts"].values()) == alarms["raised"] + alarms["escalated"]
    assert set(summary["alerts"]) <= {"warning", "critical"} and summary["alerts"]["critical"] >= 3
    life = summary["lifecycle"]
    assert life["planned"] == {"reminder": True, "latched": True, "silenced": True}
    assert life["reminders"]["observed"] == alarms["reminder"] >= 1
    assert life["reminders"]["delivered"] == life["reminders"]["observed"]
    latched = life["latched"]
    assert latched["acknowledged"] == 1 and latched["cleared"] == 1
    assert latched["alarm_id"].split("#")[1:] == ["vibration", "vibration-level"]
    silenced = life["silenced"]
    assert silenced["published"] >= 2 and silenced["delivered"] == 0  # at least its raise and its clear
    assert set(silenced["matchers"]) == {"device_id"}
    # the transitions are exactly the simulator's ground truth (plus the acknowledged clear), and notify
    # sent one webhook message per transition its filter accepts, except the silenced ones
    assert summary["checks"] == {
        "accounted": True,
        "formats": True,
        "notifications": True,
        "truth": True,
        "reminders": True,
        "latched": True,
        "silenced": True,
    }
    assert summary["notifications_delivered"] == sum(alarms.values()) - silenced["published"]
    # incidents: each escalation to critical opened one; the clears (silenced or acknowledged) resolved
    # theirs, the held excursion's stays open
    assert summary["incidents"]["opened"] >= 3
    assert summary["incidents"]["resolved"] >= 2
    assert summary["incidents"]["opened"] > summary["incidents"]["resolved"]
    assert summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"]
    assert "OK: enriched" in proc.stdout
    assert "per format: published / enriched / quarantined" in proc.stdout
    assert "transitions vs ground truth: match" in proc.stdout
    assert "latched alarms acknowledged: 1 (cleared" in proc.stdout
    assert f"silenced notifications: {silenced['published']} (0 delivered" in proc.stdout
    assert f"reminders: {alarms['reminder']} ({alarms['reminder']} delivered" in proc.stdout
