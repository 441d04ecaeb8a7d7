"""``make fuzz``: a bounded, seeded mutation fuzz of the ingest record handler (issue 14, "Hostile input").

Each input is one Kinesis record, handled alone by ``IngestService.process`` over in-memory ports
(``tests.fuzz.harness``), and checked against the invariants there: nothing escapes, nothing is reported
failed, every record is enriched or quarantined exactly once with a known reason. Inputs, by kind:

- ``valid``: a reading in any framing (raw, Confluent, Glue, Glue-zlib; v1 or v2 when framed) or a KPL
  aggregate of 1-4 of them, unmutated: each must be enriched with the values it was written with;
- ``mutated``: the same, then 1-4 mutations (truncation, bit flips, inserted, deleted, repeated bytes, a byte
  set to an interesting value, a maximal varint: the length/count bomb shape);
- ``kpl-sub``: an aggregate whose sub-records are mutated before aggregation (the digest is right);
- ``kpl-message``: an aggregate whose protobuf is mutated and digested again (de-aggregation is exercised);
- ``hostile-schema``: a Glue record naming a hostile writer (``array<null>`` with a huge count, a recursive
  type, nesting 40 deep) with a tail that would loop or crash fastavro without ``core.schema_bounds``;
- ``garbage``: random bytes, half of them behind a framing's first byte (``00``, ``03``, the KPL magic).

Figures: inputs, outcomes by reason, time per record (max, p50, p99, p99.9: CPU time of the handling thread,
so another process on a busy machine does not count; the wall maximum too; log lines formatted as in
Lambda and written to /dev/null), peak RSS, and the largest memory one record allocated
(tracemalloc over the first ``--traced`` inputs, a second pass, so the timings are untraced). Printed as a
markdown table and written to ``--out``. Exit 1 if any invariant broke.

    python -m tests.fuzz.run [--inputs 100000] [--seed 14] [--out build/fuzz-report.md] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz import inputs as fi
from tests.fuzz.harness import Harness

DEFAULT_INPUTS = 100_000
DEFAULT_SEED = 14
DEFAULT_TRACED = 10_000
TARGET_MAX_MS = 50.0  # issue 14: maximum time for one record
ROOT = Path(__file__).resolve().parents[2]

KINDS = (
    ("valid", 10),
    ("mutated", 55),
    ("kpl-sub", 12),
    ("kpl-message", 8),
    ("hostile-schema", 5),
    ("garbage", 10),
)


def generate(seed: int, n: int) -> Iterator[tuple[str, fi.Wire]]:
    """``n`` inputs, the same for the same seed."""
    rng = random.Random(seed)
    kinds, weights = zip(*KINDS, strict=True)
    for i in range(n):
        kind = rng.choices(kinds, weights)[0]
        yield kind, _make(kind, rng, i)


def _valid(rng: random.Random, seq: int) -> fi.Wire:
    if rng.random() < 0.2:
        return fi.aggregated([_part(rng, seq * 8 + k) for k in range(rng.randint(1, 4))])
    values, framing, version = _part(rng, seq)
    return fi.single(values, framing, version)


def _part(rng: random.Random, seq: int) -> tuple[dict[str, Any], str, int]:
    return fi.random_reading(rng, seq), rng.choice(fi.SINGLE_FRAMINGS), rng.choice(sorted(fi.WRITERS))


def _make(kind: str, rng: random.Random, i: int) -> fi.Wire:
    if kind == "valid":
        return _valid(rng, i)
    if kind == "mutated":
        wire = _valid(rng, i)
        return fi.Wire(fi.mutate(wire.data, rng, rng.randint(1, 4)), wire.partition_key, label=wire.label)
    if kind == "kpl-sub":
        subs = [fi.single(*_part(rng, i * 8 + k)) for k in range(rng.randint(1, 4))]
        victim = rng.randrange(len(subs))
        records = [
            (s.partition_key, fi.mutate(s.data, rng, rng.randint(1, 3)) if k == victim else s.data)
            for k, s in enumerate(subs)
        ]
        return fi.Wire(fi.kpl.aggregate(records), subs[0].partition_key, label="kpl")
    if kind == "kpl-message":
        wire = fi.aggregated([_part(rng, i * 8 + k) for k in range(rng.randint(1, 4))])
        message = fi.mutate(fi.kpl_message(wire.data), rng, rng.randint(1, 3))
        return fi.Wire(fi.kpl_with_digest(message), wire.partition_key, label="kpl")
    if kind == "hostile-schema":
        hostile = rng.choice(sorted(fi.HOSTILE_WRITERS))
        tail = {"array-null": b"\xfe" + b"\xff" * 8 + b"\x01\x00", "recursive": b"\x02" * 900 + b"\x00"}
        return fi.hostile_schema_record(fi.random_reading(rng, i), hostile, tail.get(hostile, b"\x00"))
    prefix = rng.choice([b"", b"", b"\x00", b"\x03\x00", b"\x03\x05", fi.kpl.MAGIC])
    return fi.Wire(prefix + rng.randbytes(rng.randint(0, 200)), rng.choice(fi.DEVICES), label="garbage")


@dataclass(slots=True)
class Report:
    inputs: int
    seed: int
    records_out: int = 0  # outputs: a KPL parent gives one per sub-record
    outcomes: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    violations: int = 0
    first_violations: list[str] = field(default_factory=list)
    max_ms: float = 0.0  # CPU
    max_wall_ms: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    p999_ms: float = 0.0
    slowest: str = ""
    total_s: float = 0.0
    rss_start_mb: float = 0.0
    rss_peak_mb: float = 0.0
    traced_inputs: int = 0
    traced_max_record_kib: float = 0.0
    traced_peak_mb: float = 0.0


def run(n: int = DEFAULT_INPUTS, seed: int = DEFAULT_SEED, traced: int = DEFAULT_TRACED) -> Report:
    """Fuzz ``n`` inputs (then ``traced`` of them again under tracemalloc) and report."""
    report = Report(inputs=n, seed=seed, rss_start_mb=_rss_mb())
    harness = Harness()
    outcomes: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    times: list[int] = []
    started = time.perf_counter()
    with _quiet_logs():
        for i, (kind, wire) in enumerate(generate(seed, n)):
            kinds[kind] += 1
            # CPU time of this thread (a busy machine's scheduling is not the record's cost); wall time too
            c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
            handled = harness.handle([wire], first=i)
            times.append(time.thread_time_ns() - c0)
            report.max_wall_ms = max(report.max_wall_ms, (time.perf_counter_ns() - w0) / 1e6)
            if times[-1] > report.max_ms * 1e6:
                report.max_ms, report.slowest = (
                    times[-1] / 1e6,
                    f"{kind} ({wire.label}, {len(wire.data)} bytes)",
                )
            problems = harness.violations(handled, [wire])
            if problems:
                report.violations += 1
                if len(report.first_violations) < 10:
                    report.first_violations.append(f"input {i} ({kind}, {wire.data.hex()}): {problems}")
            for outs in handled.outputs.values():
                outcomes.update(outs)
        report.total_s = time.perf_counter() - started
        report.rss_peak_mb = _rss_mb()
        _traced_pass(report, seed, min(traced, n))
    times.sort()
    report.p50_ms, report.p99_ms, report.p999_ms = (
        times[min(len(times) - 1, int(q * len(times)))] / 1e6 for q in (0.5, 0.99, 0.999)
    )
    report.records_out = sum(outcomes.values())
    report.outcomes = dict(outcomes.most_common())
    report.kinds = dict(sorted(kinds.items()))
    return report


def _traced_pass(report: Report, seed: int, n: int) -> None:
    """The first ``n`` inputs again, each record's own allocation peak (tracemalloc slows them ~3x)."""
    harness = Harness()
    harness.handle([fi.single(fi.random_reading(random.Random(0), 0), "raw")])  # warm: schemas, plans
    tracemalloc.start()
    worst = 0
    for _, wire in generate(seed, n):
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        harness.handle([wire])
        worst = max(worst, tracemalloc.get_traced_memory()[1] - base)
    report.traced_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    report.traced_inputs, report.traced_max_record_kib = n, worst / 1024


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Log lines are formatted as in Lambda (part of a record's cost) but written to /dev/null."""
    from sensorflow.observability import logger

    handler = logger.registered_handler
    with open(os.devnull, "w") as sink:
        previous = handler.setStream(sink)
        try:
            yield
        finally:
            handler.setStream(previous)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def markdown(r: Report) -> str:
    verdict = "met" if r.max_ms < TARGET_MAX_MS else "MISSED"
    lines = [
        f"`make fuzz` (seed {r.seed}, {r.inputs:,} inputs, {r.total_s:.1f} s)",
        "",
        "| Figure | Value |",
        "| --- | --- |",
        f"| Inputs (Kinesis records) | {r.inputs:,}: {', '.join(f'{k} {v:,}' for k, v in r.kinds.items())} |",
        f"| Outcomes (records and KPL sub-records) | {r.records_out:,} |",
        f"| Invariant violations | {r.violations} |",
        f"| Max time for one record (CPU) | {r.max_ms:.2f} ms (target < {TARGET_MAX_MS:.0f} ms: {verdict}); "
        f"{r.slowest} |",
        f"| p50 / p99 / p99.9 (CPU) | {r.p50_ms:.3f} / {r.p99_ms:.3f} / {r.p999_ms:.3f} ms |",
        f"| Max wall time for one record (includes waiting for a busy CPU) | {r.max_wall_ms:.2f} ms |",
        f"| Peak RSS | {r.rss_peak_mb:.1f} MiB (at start {r.rss_start_mb:.1f} MiB) |",
        f"| Largest allocation of one record (tracemalloc, first {r.traced_inputs:,}) | "
        f"{r.traced_max_record_kib:.1f} KiB (traced peak {r.traced_peak_mb:.2f} MiB) |",
        "",
        "| Outcome | Count |",
        "| --- | --- |",
        *(f"| {k} | {v:,} |" for k, v in r.outcomes.items()),
    ]
    if r.first_violations:
        lines += ["", "First violations:", *(f"- {v}" for v in r.first_violations)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make fuzz", description=__doc__.split("\n\n")[0])
    # string defaults go through ``type`` too: a bad FUZZ_INPUTS is argparse's one-line error
    parser.add_argument("--inputs", type=int, default=os.environ.get("FUZZ_INPUTS", str(DEFAULT_INPUTS)))
    parser.add_argument("--seed", type=int, default=os.environ.get("FUZZ_SEED", str(DEFAULT_SEED)))
    parser.add_argument("--traced", type=int, default=DEFAULT_TRACED, help="inputs re-run under tracemalloc")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "fuzz-report.md")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead")
    args = parser.parse_args(argv)
    if args.inputs < 1 or args.traced < 0:
        parser.error("--inputs must be at least 1 and --traced at least 0 (FUZZ_INPUTS=N sets --inputs)")
    report = run(args.inputs, args.seed, args.traced)
    text = markdown(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(asdict(report), indent=2) + "\n")
    print(json.dumps(asdict(report)) if args.json else text, end="" if not args.json else "\n")
    if not args.json:
        print(f"(written to {args.out} and {args.out.with_suffix('.json')})")
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
