"""How the soak prints and saves its figures: a table of the samples (thinned to a screenful), sparklines
of the iterator lag and the workers' memory, the verdicts; every sample in ``soak.csv`` and the summary
with every sample in ``soak.json``."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sensorflow.localcloud.demo.report import fault_plan_lines
from sensorflow.localcloud.soak.options import SoakResult
from sensorflow.localcloud.soak.sampler import Sample
from sensorflow.localcloud.soak.verdict import sparkline

Say = Callable[[str], None]
TABLE_ROWS = 20
CSV_NAME = "soak.csv"
JSON_NAME = "soak.json"
COLUMNS = (
    ("t_s", "t (s)", 7),
    ("phase", "phase", 10),
    ("published", "published", 9),
    ("delivered", "delivered", 9),
    ("pending", "pending", 7),
    ("iterator_age_ms", "lag (ms)", 9),
    ("workers", "workers", 7),
    ("workers_rss_mib", "workers MiB", 11),
    ("moto_rss_mib", "moto MiB", 8),
)


def thinned(samples: list[Sample], rows: int = TABLE_ROWS) -> list[Sample]:
    """At most ``rows`` samples, evenly spaced, always the first and the last."""
    if len(samples) <= rows:
        return samples
    step = (len(samples) - 1) / (rows - 1)
    return [samples[round(i * step)] for i in range(rows)]


def print_report(result: SoakResult, say: Say) -> None:
    s = result.summary
    say("")
    say("  ".join(f"{title:>{width}}" for _, title, width in COLUMNS))
    for sample in thinned(result.samples):
        row = sample.row()
        say("  ".join(f"{_cell(row[key]):>{width}}" for key, _, width in COLUMNS))
    lag = s["lag"]
    say("")
    say(
        f"iterator lag while publishing  {lag['spark']}  peak {lag['peak_ms']:.0f} ms, "
        f"median {lag['p50_ms']:.0f} ms, last {lag['last_ms']:.0f} ms"
    )
    say(f"workers' memory (MiB)          {sparkline([x.workers_mib for x in result.samples])}")
    kept = s["conservation"]
    say(
        f"records: {kept['published']} published, {kept['enriched']} enriched, {kept['quarantined']} "
        f"quarantined {kept['quarantined_by_reason']}, {kept['duplicates']} stored twice; "
        f"{s['publish_failed']} not accepted by Kinesis"
    )
    say(
        f"timing: publishing {s['publishing_s']} s, drain {s['drain_s']} s "
        f"(drained: {s['drained']}, settled: {s['settled']})"
    )
    say(f"alarms: {s['alarms']}; notifications {s['notifications']['notifications_delivered']}")
    m = s["mappings"]
    say(
        f"event source mappings: {m.get('failed_invocations', 0)} failed invocations, "
        f"{m.get('retries', 0)} retries, {m.get('bisections', 0)} bisections, "
        f"{m.get('records_discarded', 0)} records to the on-failure destination"
    )
    for line in fault_plan_lines(s.get("fault_plan")):
        say(line)
    _memory_lines(s["memory"], say)
    say("")
    for name, verdict in result.checks.items():
        mark = {True: "ok", False: "FAILED", None: "not checked"}[verdict]
        say(f"  {name:<15} {mark}")
    if not kept["ok"]:
        say(f"conservation problems: {json.dumps(kept['problems'])}")
    if s["truth"].get("mismatches"):
        say(f"transitions differing from the ground truth: {json.dumps(s['truth']['mismatches'][:5])}")


def _memory_lines(memory: dict[str, Any], say: Say) -> None:
    total = memory["workers_total"]
    say(
        f"workers' RSS: {total['start_mib']:.1f} MiB at start, {total['warm_mib']:.1f} after the "
        f"{memory['warmup_s']:.0f} s warm-up, {total['end_mib']:.1f} at the end "
        f"(peak {total['peak_mib']:.1f})"
    )
    for name, growth in memory["workers"].items():
        say(
            f"  {name}: {growth['start_mib']:.1f} -> {growth['warm_mib']:.1f} -> "
            f"{growth['end_mib']:.1f} MiB; "
            f"bounded: {growth['bounded']} ({growth['why']})"
        )
    moto = memory["moto"]
    say(f"moto server: {moto['start_mib']:.1f} -> {moto['end_mib']:.1f} MiB (holds every object written)")


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def write_files(result: SoakResult, out_dir: Path) -> tuple[Path, Path]:
    """``soak.csv`` (one row per sample) and ``soak.json`` (summary, checks, every sample) in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [sample.row() for sample in result.samples]
    csv_path = out_dir / CSV_NAME
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[key for key, _, _ in COLUMNS] + ["soak_rss_mib"])
        writer.writeheader()
        writer.writerows(rows)
    json_path = out_dir / JSON_NAME
    document = {
        "summary": result.summary,
        "checks": result.checks,
        "ok": result.ok,
        "samples": [
            {**sample.row(), "workers_by_pid": {str(pid): list(w) for pid, w in sample.workers.items()}}
            for sample in result.samples
        ],
    }
    json_path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    return csv_path, json_path
