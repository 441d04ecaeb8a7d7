"""The benchmark's table, targets, costs and BENCHMARKS.md, from the results dict of ``tests.bench.run``.

The table's rows and columns are fixed (Figure | Value | Target | Met), so runs before and after a change
diff line by line. Prices are us-east-1 on-demand, arm64; each is cited where it is defined.
"""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any

# Lambda arm64 duration and requests, EventBridge custom events, SNS publishes, S3 PUT: REFERENCE.md
# "Prices (us-east-1, for estimates)". DynamoDB on-demand: aws.amazon.com/dynamodb/pricing/on-demand,
# as of 2026-12 ($0.625 per million write request units, $0.125 per million read request units).
PRICES = {
    "lambda_gb_s": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "s3_put": 0.005 / 1000,
    "sns_publish": 0.50 / 1e6,
    "eventbridge_event": 1.00 / 1e6,
}
PRICE_SOURCES = (
    "Lambda arm64 $0.0000133334 per GB-s + $0.20 per million requests, EventBridge $1.00 per million "
    "events (64 KB chunks), SNS $0.50 per million publishes (64 KB chunks, each message of a PublishBatch "
    "counts), S3 PUT $0.005 per 1,000 requests: REFERENCE.md, us-east-1. DynamoDB on-demand "
    "$0.625 per million write request units and $0.125 per million read request units, us-east-1: "
    "aws.amazon.com/dynamodb/pricing/on-demand, as of 2026-12."
)
READINGS = 1_000_000
FRAMING_NAMES = ("raw", "glue", "glue-zlib", "confluent", "kpl", "v1->v2")
FRAMING_LABELS = {
    "raw": "raw: schemaless Avro",
    "glue": "glue: Glue header + Avro",
    "glue-zlib": "glue-zlib: Glue header + zlib(Avro)",
    "confluent": "confluent: 5-byte header + Avro",
    "kpl": "kpl: KPL aggregate of raw Avro (one per device tick)",
    "v1->v2": "v1->v2: Glue-framed v1 resolved into v2",
}


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def cost(results: dict[str, Any], devices: int) -> dict[str, float]:
    """Dollars per million readings, per service, for the ``devices`` fleet."""
    aws = results["aws"][str(devices)]
    lat = results["latency"]
    invocations = READINGS / lat["batch_records"]
    gb = results["function"]["memory_mb"] / 1024
    write_units = sum(aws["write_units"].values()) + sum(aws["gsi_write_units"].values())
    billed = aws["billed"]
    out = {
        "lambda_compute": invocations * lat["batch_wall_s"] * gb * PRICES["lambda_gb_s"],
        "lambda_requests": invocations * PRICES["lambda_request"],
        "dynamodb_writes": write_units * READINGS * PRICES["dynamodb_write_unit"],
        "dynamodb_reads": sum(aws["read_units"].values()) * READINGS * PRICES["dynamodb_read_unit"],
        "s3": billed.get("s3:PutObject", 0) * READINGS * PRICES["s3_put"],
        "sns": billed.get("sns:publishes", 0) * READINGS * PRICES["sns_publish"],
        "eventbridge": billed.get("events:events", 0) * READINGS * PRICES["eventbridge_event"],
    }
    out["total"] = sum(out.values())
    return out


def targets(results: dict[str, Any], big: int, small: int) -> dict[str, dict[str, Any]]:
    """Issue 9's targets table: value, target text, met (None: no target)."""
    rps = results["latency"]["readings_per_s"]
    ratio = results["cpu"]["ours_over_peer"]
    ingest_ratio = results["cold_start"]["ratio_to_boto3"]["handlers.ingest"]
    return {
        "readings_per_s": {"target": ">= 1,000 (stretch 2,000)", "met": rps >= 1000, "stretch": rps >= 2000},
        "ours_over_peer": {"target": "<= 1.0x (stretch 0.5x)", "met": ratio <= 1.0, "stretch": ratio <= 0.5},
        f"items_written_{big}": {
            "target": "<= 1.0",
            "met": results["aws"][str(big)]["items_written_total"] <= 1.0,
        },
        f"items_written_{small}": {
            "target": "<= 0.3",
            "met": results["aws"][str(small)]["items_written_total"] <= 0.3,
        },
        "peak_rss_mb": {"target": "<= 128 MB RSS", "met": results["memory"]["rss_mb"] <= 128},
        "import_ingest_over_boto3": {"target": "<= 1.2x", "met": ingest_ratio <= 1.2},
    }


def _met(t: dict[str, Any] | None) -> str:
    if t is None:
        return ""
    if not t["met"]:
        return "no"
    return "yes, stretch too" if t.get("stretch") else "yes"


def _ops(counter: dict[str, float], digits: int = 3) -> str:
    parts = [f"{k.split(':')[-1]} {v:.{digits}f}" for k, v in counter.items() if v]
    return ", ".join(parts) or "none"


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, met) in a fixed order."""
    big, small = (str(w) for w in sorted((int(k) for k in r["workload"]), reverse=True))
    t = r["targets"]
    cpu, lat, mem, cold = r["cpu"], r["latency"], r["memory"], r["cold_start"]
    out: list[tuple[str, str, str, str]] = []
    for devices in (big, small):
        w = r["workload"][devices]
        s = w["shares"]
        out.append(
            (
                f"Workload, {int(devices):,} devices",
                f"{w['measured_records']:,} readings in {w['measured_batches']} batches of {w['batch_size']} "
                f"(after {w['warmup_batches']} warm-up); {s['past_threshold']:.1%} past a threshold, "
                f"{s['malformed']:.1%} malformed, {s['invalid']:.1%} invalid; "
                f"{s['distinct_devices_per_batch']:.0f} devices per batch",
                "",
                "",
            )
        )
    out += [
        ("CPU floor: b64decode + schemaless_reader", f"{cpu['floor_us']:.1f} us/reading", "", ""),
        (
            "CPU peer: Powertools BatchProcessor + Parser + pydantic + validate",
            f"{cpu['peer_us']:.1f} us/reading ({cpu['peer_alerts_per_reading']:.1%} alerted)",
            "",
            "",
        ),
        (
            "CPU ours: handlers.ingest, warm, in-memory clients",
            f"{cpu['ours_us']:.1f} us/reading (of which {cpu['ours_fake_clients_us']:.1f} in the fakes)",
            "",
            "",
        ),
        ("CPU ours / floor", f"{cpu['ours_over_floor']:.1f}x", "", ""),
        (
            "CPU ours / peer",
            f"{cpu['ours_over_peer']:.2f}x",
            t["ours_over_peer"]["target"],
            _met(t["ours_over_peer"]),
        ),
    ]
    for devices in (big, small):
        a = r["aws"][devices]
        key = f"items_written_{devices}"
        out += [
            (
                f"AWS calls per reading, {int(devices):,} devices",
                f"{a['calls_total']:.3f}: {_ops(a['calls'])}",
                "",
                "",
            ),
            (
                f"DynamoDB items written per reading, {int(devices):,} devices",
                f"{a['items_written_total']:.3f}: {_ops(a['items_written'])}",
                t[key]["target"],
                _met(t[key]),
            ),
            (
                f"DynamoDB capacity units per reading, {int(devices):,} devices",
                f"write {sum(a['write_units'].values()):.3f} + GSI {sum(a['gsi_write_units'].values()):.3f}, "
                f"read {sum(a['read_units'].values()):.3f}",
                "",
                "",
            ),
        ]
    scale = "" if lat["latency_scale"] == 1 else f" (latency x{lat['latency_scale']:g})"
    out += [
        (
            f"Latency model: wall time per batch{scale}",
            f"{lat['batch_wall_s']:.3f} s per {lat['batch_records']:.0f} readings",
            "",
            "",
        ),
        (
            f"Latency model: readings/s per shard, {int(big):,} devices",
            f"{lat['readings_per_s']:,.0f}",
            t["readings_per_s"]["target"],
            _met(t["readings_per_s"]),
        ),
        (
            f"Peak memory, {mem['records']:,}-record batch ({mem['event_bytes'] / 2**20:.1f} MiB event)",
            f"{mem['rss_mb']:.1f} MiB RSS; tracemalloc peak {mem['traced_peak_mb']:.1f} MiB",
            t["peak_rss_mb"]["target"],
            _met(t["peak_rss_mb"]),
        ),
        (
            f"Cold start: import boto3 (median of {cold['repeats']})",
            f"{cold['median_s']['boto3'] * 1000:.0f} ms",
            "",
            "",
        ),
    ]
    for module, ratio in cold["ratio_to_boto3"].items():
        target = t["import_ingest_over_boto3"] if module == "handlers.ingest" else None
        out.append(
            (
                f"Cold start: import {module}",
                f"{cold['median_s'][module] * 1000:.0f} ms = {ratio:.2f}x boto3",
                target["target"] if target else "",
                _met(target),
            )
        )
    f = r["framings"]
    out.append(
        (
            f"Framing floor: raw Avro, schemaless_reader ({int(r['framing_devices']):,} devices)",
            f"{f['raw_avro_us']:.1f} us/reading",
            "",
            "",
        )
    )
    for name in FRAMING_NAMES:
        x = f[name]
        out.append(
            (
                f"Framing {FRAMING_LABELS[name]}",
                f"decode {x['decode_us']:.1f} us/reading ({x['decode_over_raw_avro']:.2f}x raw Avro); "
                f"handler {x['ours_us']:.1f} us/reading ({x['ours_over_raw']:.2f}x raw)",
                "",
                "",
            )
        )
    for name, dollars in r["cost"].items():
        label = "total" if name == "total" else name.replace("_", " ")
        out.append((f"Cost per million readings: {label}", f"${dollars:.4f}", "", ""))
    return out


def table(r: dict[str, Any]) -> str:
    header = ("Figure", "Value", "Target", "Met")
    body = rows(r)
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(4)]

    def line(row: tuple[str, ...]) -> str:
        return "| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(row) for row in body)])


def markdown(r: dict[str, Any], rendered: str) -> str:
    m = r["machine"]
    failures = r["failures"]
    notes = [
        "# Benchmarks",
        "",
        f"Measured {m['date']} on {m['nproc']} CPU(s), {m['cpu']}, Python {m['python']} ({m['platform']}).",
        f"Command: `{r['command']}` (`python -m tests.bench.run`, {r['elapsed_s']:.0f} s). "
        "Raw figures: `bench-results.json`.",
        "",
        rendered,
        "",
        "## How it is measured",
        "",
        "- Workload: Kinesis events built by the simulator (`sensorflow.simulate`, fleet "
        "`build_default_fleet(N)`), one shard, partition key = device id, batches of 500; the first 90 s "
        "of device time are warm-up batches (every device seen: registry cache and alarm state warm), the "
        "figures are taken on the batches after them. Shares come from the simulator's ground truth.",
        "- Ours: `handlers.ingest.handler` (its decorators included) with `bootstrap.ingest_service` "
        "returning `bootstrap.build_ingest_service(IngestSettings.from_env(env), clients=...)`, where `env` "
        "is the ingest function's environment in `serverless.yml` and the clients are the in-memory fakes "
        "of `tests/bench/aws_fakes.py` (DynamoDB key schemas and GSIs also from `serverless.yml`). "
        "Median of the CPU runs; stdout (logs, EMF) is written to /dev/null.",
        "- The fakes do no I/O but are not free: their CPU is shown next to ours. Real botocore clients "
        "cost more per call (request serialisation, signing, response parsing), so on Lambda each AWS "
        "call adds more CPU than it does here.",
        "- DynamoDB units: 1 write unit per KB of the larger of the old and new item (2 for "
        "TransactWriteItems), GSI writes per the developer guide (put, delete, or both when the index key "
        "changes), 1 read unit per 4 KB per item for strongly consistent reads (half for eventual), "
        "failed conditions billed one write unit.",
        "- Latency model: per call, PutItem 5 ms, UpdateItem 5 ms, BatchWriteItem 8 ms, "
        "TransactWriteItems 10 ms, BatchGetItem 8 ms, GetItem 4 ms, Query 5 ms, S3 PutObject 25 ms, "
        "PublishBatch/Publish/PutEvents 15 ms, slept inside each fake call (outside its lock, so "
        "concurrent calls overlap). Lambda duration in the cost is this wall time.",
        "- Peak memory: a fresh process reads one event (JSON on stdin), builds the service cold and "
        "handles it; `ru_maxrss` in one process, `tracemalloc` peak (handler call only) in another.",
        "- Cold start: `python -c 'import time; t=time.perf_counter(); import X; ...'` per module, fresh "
        "processes, interleaved, after one discarded round; the handlers with the deployed "
        f"`POWERTOOLS_TRACE_DISABLED={r['cold_start']['tracer_disabled']}` (serverless.yml "
        "`params.default.tracerDisabled`), and `handlers.ingest` once more with the X-Ray SDK on.",
        f"- Prices: {PRICE_SOURCES}",
        "- Framings: the framing fleet (its own device count above) simulated once per framing "
        "(`sensorflow.simulate` `formats`, the same seed: the same readings, other bytes; Glue ids are the "
        'fake registry\'s, every kept version registered as `schemas publish` does). "decode" is '
        "`ReadingDecoder.decode` per reading as `bootstrap` wires it, writer schemas cached (KPL: "
        '`core.kpl.deaggregate` included); "handler" is ours as above on that fleet, per reading. KPL '
        "batches hold 500 Kinesis records, so more readings per invocation.",
        f"- Batch item failures returned during the runs: ours {failures['ours']}, "
        f"{failures['ours_small']} on the small fleet, {failures['latency']} under the latency model, "
        f"{failures.get('framings', 0)} in the framing runs.",
        "",
    ]
    return "\n".join(notes)
