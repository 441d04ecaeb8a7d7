"""The benchmark harness in smoke mode: it runs end to end and produces every figure.

Speed is never asserted (it is a benchmark figure, see BENCHMARKS.md); only that each figure exists.
Runs in a fresh process, so the harness's Powertools environment and patched bootstrap stay out of
the other tests.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

from tests.bench.stack import ROOT

FIGURES = (
    ("cpu", "floor_us"),
    ("cpu", "peer_us"),
    ("cpu", "ours_us"),
    ("cpu", "ours_over_floor"),
    ("cpu", "ours_over_peer"),
    ("latency", "batch_wall_s"),
    ("latency", "readings_per_s"),
    ("memory", "rss_mb"),
    ("memory", "traced_peak_mb"),
    ("cost", "total"),
)


def test_smoke_run_produces_every_figure() -> None:
    # GIVEN the harness in smoke mode (tiny fleets, no latency sleeps, no files)
    # WHEN it runs
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench.run", "--smoke", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout)

    # THEN every figure is a finite number, the AWS figures cover both fleets, and every target is judged
    for section, name in FIGURES:
        value = results[section][name]
        assert isinstance(value, float | int) and math.isfinite(value), (section, name, value)
    assert len(results["aws"]) == 2
    for fleet in results["aws"].values():
        assert fleet["calls_total"] > 0 and "items_written_total" in fleet
    assert set(results["cold_start"]["median_s"]) == {
        "boto3",
        "handlers.ingest",
        "handlers.notify",
        "handlers.incidents",
        "handlers.heartbeat",
        "handlers.ingest (X-Ray SDK on)",
    }
    assert {"lambda_compute", "lambda_requests", "dynamodb_writes", "dynamodb_reads", "s3", "sns"} <= set(
        results["cost"]
    )
    assert all(isinstance(t["met"], bool) for t in results["targets"].values())
    assert results["failures"] == {"ours": 0, "ours_small": 0, "latency": 0, "framings": 0}
    # each framing's per-reading cost, next to raw Avro, on readings of every framing
    framings = results["framings"]
    assert math.isfinite(framings["raw_avro_us"]) and framings["raw_avro_us"] > 0
    for name in ("raw", "glue", "glue-zlib", "confluent", "kpl", "v1->v2"):
        figures = framings[name]
        assert figures["decode_us"] > 0 and figures["ours_us"] > 0, name
        assert figures["readings"] == framings["raw"]["readings"], name
    assert framings["kpl"]["kinesis_records"] < framings["kpl"]["readings"]
