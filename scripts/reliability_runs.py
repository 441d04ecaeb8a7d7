"""RELIABILITY.md's hostile-input and soak sections, rendered from those runs' own JSON output.

``make fuzz`` writes ``build/fuzz-report.json``; ``make soak`` writes ``.sensorflow/soak/soak.json``.
A section is left out when its run's file is absent (never filled in by hand).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def fuzz_section(path: Path) -> list[str]:
    if not path.is_file():
        return []
    f: dict[str, Any] = json.loads(path.read_text())
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(f["outcomes"].items(), key=lambda kv: -kv[1]))
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(f["kinds"].items()))
    return [
        "",
        "## Hostile input (`make fuzz`)",
        "",
        f"A seeded mutation fuzz (seed {f['seed']}) of the ingest record handler over in-memory ports "
        "(`tests/fuzz/`): valid readings in every framing, arbitrary bytes, truncations, bit flips, inserted "
        "and deleted bytes, KPL aggregates and hostile registered writer schemas. Every input must end "
        "enriched (with the values written) or quarantined once with a known reason and its bytes; nothing "
        "may escape or be reported failed.",
        "",
        "| inputs | outputs (records and KPL sub-records) | invariant violations | max CPU per record | "
        "p50 / p99 / p99.9 | max wall per record | peak RSS |",
        "| ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        f"| {f['inputs']:,} | {f['records_out']:,} | {f['violations']} | "
        f"{f['max_ms']:.2f} ms (target < 50) | "
        f"{f['p50_ms']:.3f} / {f['p99_ms']:.3f} / {f['p999_ms']:.3f} ms | {f['max_wall_ms']:.1f} ms | "
        f"{f['rss_peak_mb']:.1f} MiB |",
        "",
        f"Inputs by kind: {kinds}. Outcomes: {outcomes}. The wall-clock maximum includes waiting for a busy "
        "CPU; the CPU figure is the handling thread's own time.",
    ]


def soak_section(path: Path) -> list[str]:
    if not path.is_file():
        return []
    s: dict[str, Any] = json.loads(path.read_text())
    m, c, lag = s["summary"], s["summary"]["conservation"], s["summary"]["lag"]
    workers = m["memory"]["workers"]
    ingest = next((w for name, w in workers.items() if "-ingest[" in name), None)
    memory = (
        f"ingest worker {ingest['warm_mib']:.1f} -> {ingest['end_mib']:.1f} MiB after the "
        f"{m['memory']['warmup_s']:.0f} s warm-up "
        f"({ingest['rate_mib_per_min']:+.2f} MiB/min over the second half)"
        if ingest
        else "no ingest worker sampled"
    )
    bounded = sum(1 for w in workers.values() if w["bounded"])
    checks = ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in s["checks"].items())
    plan = m.get("fault_plan") or "none"
    return [
        "",
        "## Soak (`make soak`)",
        "",
        f"The local cloud at {m['rate']:.0f} readings/s for {m['minutes']:.0f} minutes (fault plan: {plan}; "
        f"{m['faults_injected']} faults injected), sampled every {m['sample_every_s']:.0f} s.",
        "",
        "| published | enriched | quarantined | stored twice | iterator lag peak / median / last | "
        "workers bounded | checks |",
        "| ---: | ---: | ---: | ---: | --- | --- | --- |",
        f"| {c['published']:,} | {c['enriched']:,} | {c['quarantined']:,} | {c['duplicates']} | "
        f"{lag['peak_ms']:.0f} / {lag['p50_ms']:.0f} / {lag['last_ms']:.0f} ms | "
        f"{bounded} of {len(workers)}; "
        f"{memory} | {checks} |",
        "",
        f"Iterator lag over time: {lag['spark']}",
    ]
