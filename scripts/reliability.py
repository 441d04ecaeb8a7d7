"""Issue 14's figures: what was injected and what was observed, written to RELIABILITY.md.

Each scenario runs the real ingest handler under moto with the in-process fault injector (the harness
of tests/integration/test_reliability.py, ``tests.reliability.harness``): a simulated fleet with ground
truth, two shards delivered with the Kinesis event source mapping's contract, then the whole stream
replayed three times and each shard rewound to its lowest failed sequence number. ``--demo`` adds
``sensorflow demo --faults`` runs on the local cloud (the proxy) under issue 14's mix and a two-minute SNS
outage, taking their figures from their --json lines.

    .venv/bin/python scripts/reliability.py               # in-process scenarios, ~5 minutes on 2 cores
    .venv/bin/python scripts/reliability.py --demo        # + the local-cloud demo under issue 14's mix
    .venv/bin/python scripts/reliability.py --out -       # print the table instead of writing the file
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.reliability_runs import fuzz_section, soak_section  # noqa: E402
from sensorflow.localcloud.faults import FaultPlan  # noqa: E402
from sensorflow.localcloud.faults.virtual_clock import VirtualClock  # noqa: E402
from sensorflow.simulate import SimConfig, generate, registry_items  # noqa: E402
from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE  # noqa: E402
from sensorflow.simulate.truth import expected_transitions  # noqa: E402
from tests.reliability import harness as h  # noqa: E402

START_MS = 1_795_900_000_000
EXAMPLES = REPO / "examples" / "faults"
BROWNOUTS = [
    {"name": "sns-brownout", "service": "sns", "operation": "PublishBatch", "kind": "throttle", "rate": 0.6},
    {"name": "s3-brownout", "service": "s3", "operation": "PutObject", "kind": "http500", "rate": 0.5},
]
SLOW = [
    {"service": "dynamodb", "operation": "GetItem", "kind": "latency", "latency_ms": 150, "rate": 1},
    {"service": "s3", "operation": "PutObject", "kind": "latency", "latency_ms": 200, "rate": 1},
]
SLOWER_S3 = [
    {"service": "dynamodb", "operation": "GetItem", "kind": "latency", "latency_ms": 150, "rate": 1},
    {"service": "s3", "operation": "PutObject", "kind": "latency", "latency_ms": 600, "rate": 1},
]


@dataclass
class Scenario:
    name: str
    plan: FaultPlan
    command: str  # how the plan is written down (file, or file + extra rules)
    devices: int = 12
    duration_s: int = 1200
    batch_size: int = 25  # the first delivery: small batches, more calls to fail
    replay_batch_size: int = 100
    timeout_ms: int = h.DEFAULT_TIMEOUT_MS
    margin_ms: int = h.DEADLINE_MARGIN_MS
    shards: int = 2
    replays: bool = True
    virtual_only: bool = False  # the deadline scenarios: only injected time counts


def scenarios() -> list[Scenario]:
    mix = FaultPlan.from_file(EXAMPLES / "issue14-mix.json")
    raw_mix = json.loads((EXAMPLES / "issue14-mix.json").read_text())
    outage = FaultPlan.from_dict(
        {
            "seed": 14,
            "rules": [{"name": "sns-outage", "service": "sns", "kind": "throttle", "rate": 1, "end_s": 60}],
        },
        source="sns-outage-60s",
    )
    return [
        Scenario("issue 14 mix", mix, "examples/faults/issue14-mix.json"),
        Scenario(
            "issue 14 mix + brownouts",
            FaultPlan.from_dict({"seed": 14, "rules": raw_mix["rules"] + BROWNOUTS}, source="mix+brownouts"),
            "issue14-mix.json + sns PublishBatch throttle 0.6 + s3 PutObject http500 0.5",
        ),
        Scenario("SNS outage (first 60 s)", outage, "sns * throttle, rate 1, end_s 60 (plan time)"),
        Scenario(
            "slow registry and S3, margin 1 s",
            FaultPlan.from_dict({"seed": 5, "rules": SLOW}, source="slow"),
            "dynamodb GetItem +150 ms, s3 PutObject +200 ms (rate 1); timeout 3 s",
            devices=20,
            duration_s=120,
            batch_size=100,
            timeout_ms=3_000,
            shards=1,
            replays=False,
            virtual_only=True,
        ),
        Scenario(
            "slower S3, margin 1 s",
            FaultPlan.from_dict({"seed": 5, "rules": SLOWER_S3}, source="slower-s3"),
            "dynamodb GetItem +150 ms, s3 PutObject +600 ms (rate 1); timeout 3 s",
            devices=20,
            duration_s=120,
            batch_size=100,
            timeout_ms=3_000,
            shards=1,
            replays=False,
            virtual_only=True,
        ),
    ]


def fleet(devices: int, duration_s: int) -> tuple[SimConfig, list[Any]]:
    config = SimConfig(
        devices=devices,
        duration_s=duration_s,
        seed=12,
        start_ms=START_MS,
        scenario_rate=0.05,
        malformed_rate=0.02,
        min_excursions=2 if duration_s >= 600 else 0,
        scenario_mix={**DEFAULT_SCENARIO_MIX, DUPLICATE: 10.0},
    )
    return config, list(generate(config))


def run(s: Scenario) -> dict[str, Any]:
    config, records = fleet(s.devices, s.duration_s)
    end_ms = START_MS + s.duration_s * 1000
    clock = VirtualClock(real=not s.virtual_only)
    t0 = time.monotonic()
    with (
        contextlib.redirect_stdout(io.StringIO()),
        h.pipeline(
            s.plan,
            registry_items(config.resolved().fleet or ()),
            clock=clock,
            store_clock_ms=end_ms,
            deadline_margin_ms=s.margin_ms,
        ) as pipe,
    ):
        streams = h.shard_streams(records, end_ms, shards=s.shards)
        first = h.deliver_all(pipe, streams, s.batch_size, timeout_ms=s.timeout_ms)
        counts = pipe.counts()
        result = h.conservation(records, h.read_stored())
        messages = pipe.sns_messages()
        bus = pipe.bus_events()
        truth_ok = h.transitions_by_alarm(messages) == expected_transitions(records)
        sent_after = None
        if s.replays:
            for _ in range(3):
                h.deliver_all(pipe, streams, s.replay_batch_size, timeout_ms=s.timeout_ms)
            starts = {
                shard: next(i for i, r in enumerate(streams[shard]) if r.sequence_number == seq)
                for shard, seq in first.lowest_failed.items()
            }
            h.deliver_all(
                pipe, {k: streams[k] for k in starts}, s.batch_size, starts=starts, timeout_ms=s.timeout_ms
            )
            sent_after = (len(pipe.sns_messages()) - len(messages)) + (len(pipe.bus_events()) - len(bus))
    pills = {r.sequence_number for stream in streams.values() for r in stream} & {
        h.seq_number(i) for i, r in enumerate(records) if r.truth["kind"] == "malformed"
    }
    # A pill that stopped a batch: the lowest reported record, in a report that is not the whole batch
    # (a whole-batch report is an output write that failed, whatever the batch's first record is).
    pill_reported = sum(
        1
        for inv in first.invocations
        if inv.reported
        and min(inv.reported, key=int) in pills
        and len(inv.reported) < len(inv.sequence_numbers)
    )
    whole_batch = sum(1 for inv in first.invocations if inv.reported and inv.reported == inv.sequence_numbers)
    return {
        "name": s.name,
        "plan": s.command,
        "injected": {k: v for k, v in counts.items()},
        "published": result.published,
        "enriched": result.enriched,
        "quarantined": result.quarantined,
        "producer_duplicates": result.duplicates,
        "stored_twice": len(result.stored_twice),
        "missing": len(result.missing),
        "wrong_outcome": len(result.wrong_outcome),
        "conserved": result.ok,
        "transitions": len(messages),
        "transitions_match_truth": truth_ok,
        "duplicate_event_ids": len(h.duplicated_event_ids(messages, lambda m: str(m["event_id"]))),
        "sent_again_after_replays": sent_after,
        "invocations": len(first.invocations),
        "redeliveries": sum(1 for i in first.invocations if i.reported or i.error),
        "max_shard_stall": first.max_stall,
        "pill_lowest_reported": pill_reported,
        "whole_batch_reports": whole_batch,
        "min_deadline_margin_ms": min(i.margin_ms for i in first.invocations),
        "timeout_ms": s.timeout_ms,
        "wall_s": round(time.monotonic() - t0, 1),
    }


# The local-cloud rehearsals --demo runs: issue 14's mix, and SNS throttled for two minutes.
DEMO_PLANS = ("examples/faults/issue14-mix.json", "examples/faults/sns-outage-2min.json")


def run_demo(plan: str) -> dict[str, Any]:
    """``sensorflow demo --devices 10 --faults PLAN --json`` as a user runs it; its --json line."""
    cmd = [str(REPO / ".venv" / "bin" / "sensorflow"), "demo", "--devices", "10", "--faults", plan, "--json"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=1200, check=False)
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    summary["exit"] = proc.returncode
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    summary["command"] = " ".join(["sensorflow", *cmd[1:]])
    if not summary.get("checks"):
        summary["stderr_tail"] = proc.stderr[-1500:]
    return summary


def injected_text(counts: dict[str, dict[str, int]]) -> str:
    parts = []
    for label, c in counts.items():
        if c["calls"] == 0:
            continue
        extra = f", {c['entries_failed']} entries" if c["entries_failed"] else ""
        parts.append(f"`{label}` {c['injected']}/{c['calls']}{extra}")
    return "; ".join(parts) or "none"


INTRO = """
Each in-process row is the real ingest handler (`handlers/ingest.py` -> bootstrap -> adapters) under moto's
`mock_aws`, with the fault plan applied on botocore's `before-send`
(`sensorflow/localcloud/faults/botocore_injector.py`), so botocore's standard retry mode handles each fault
first. A simulated fleet (12 devices, 20 minutes of device time: 2% malformed payloads, producer duplicates,
unknown devices, clock skew, excursions that raise, escalate and clear) goes to two shards delivered in
batches of 25 with the Kinesis event source mapping's contract (`tests/reliability/harness.py`: checkpoint at
the lowest reported sequence number, redeliver from it), is read back from S3 and checked record by record
against the simulator's ground truth. Then the whole stream is replayed three times (batches of 100) and each
shard rewound to the lowest sequence number it ever reported; every SNS message and bus event sent after
that would be a duplicate notification.
"""


def render(results: list[dict[str, Any]], demos: list[dict[str, Any]], runs: list[str] | None = None) -> str:
    lines = [
        "# Reliability: what was injected, what was observed",
        "",
        "Generated by `scripts/reliability.py` (do not edit by hand): "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, Python {platform.python_version()}, "
        f"{platform.machine()}.",
        "",
        " ".join(INTRO.split()),
        "",
        "## Injected",
        "",
        "| scenario | plan | injected (rule: faults/matching calls) |",
        "| --- | --- | --- |",
    ]
    for r in results:
        lines.append(f"| {r['name']} | {r['plan']} | {injected_text(r['injected'])} |")
    lines += [
        "",
        "## Observed",
        "",
        "| scenario | published | enriched | quarantined | producer duplicates | stored twice | missing | "
        "transitions (= truth) | duplicate notifications after 3 replays + rewind | redelivered batches | "
        "max shard stall (invocations) | min deadline margin (ms, of timeout) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | --- |",
    ]
    for r in results:
        again = "-" if r["sent_again_after_replays"] is None else str(r["sent_again_after_replays"])
        truth = "match" if r["transitions_match_truth"] else "MISMATCH"
        lines.append(
            f"| {r['name']} | {r['published']} | {r['enriched']} | {r['quarantined']} | "
            f"{r['producer_duplicates']} | {r['stored_twice']} | {r['missing']} | "
            f"{r['transitions']} ({truth}, "
            f"{r['duplicate_event_ids']} ids twice) | {again} | {r['redeliveries']} of {r['invocations']} | "
            f"{r['max_shard_stall']} | {r['min_deadline_margin_ms']} of {r['timeout_ms']} |"
        )
    lines += [
        "",
        "Poison pills: the malformed records (the pills) never stopped a batch: the times a pill was the "
        "lowest reported record of a partial report were "
        + ", ".join(f"{r['name']}: {r['pill_lowest_reported']}" for r in results)
        + ". `max shard stall` is the most consecutive invocations of a shard whose checkpoint did not move; "
        "whole-batch reports (an S3 output write that failed after botocore's retries, so the batch is "
        "retried from its first record) were "
        + ", ".join(f"{r['name']}: {r['whole_batch_reports']}" for r in results)
        + ". Under the brownouts, botocore's standard-mode retry quota (a token bucket that a run of "
        "failures drains: 500 tokens, 5 per retry, 1 back per success) stops retrying, so each S3 write "
        "fails at the brownout's raw rate and a shard stalls for several invocations in a row; nothing is "
        "lost: every stalled batch is redelivered and conserved.",
        "",
        "Deadline rows: the fake Lambda context's clock counts only injected latency and botocore's backoff "
        "(`VirtualClock(real=False)`), with `DEADLINE_MARGIN_MS` 1000. The ingest service stops starting "
        "records when the time left is below the margin plus what the work after its record loop (the alarm "
        "writes, the silence lookup, the two S3 writes) took in the container's recent batches (assumed to "
        "be the margin until one was measured), so that work fits: every invocation returned before its "
        "deadline, with S3 writes 600 ms slow too (before this budget that row was -449 ms: a timeout on "
        "AWS, and a redelivery of the whole batch). A flush slower than everything seen before can still "
        "overrun once; the next batch allows for it.",
    ]
    if demos:
        lines += [
            "",
            "## Local cloud",
            "",
            "`sensorflow demo` (10 devices, 15 minutes of device time, every wire format) with `--faults`: "
            "its exit code holds every record accounted for once, the transitions equal to the ground truth "
            "and one webhook message per notified transition. Latency is from a record's arrival in "
            "Kinesis to the checkpoint passing it: during an outage the shard holds its batch, redelivering "
            "it, and the records wait until the service is back instead of going to the on-failure queue.",
        ]
    for demo in demos:
        faults = demo.get("faults") or {}
        rules = faults.get("rules", [])
        checks = demo.get("checks", {})
        lines += [
            "",
            f"`{demo['command'].replace(str(REPO) + '/', '')}` "
            f"(exit {demo['exit']}, {demo.get('wall_s') or '-'} s): "
            "the fault proxy in front of moto applied the plan to the deployed functions' calls (the demo "
            "also arms its usual four S3 `SlowDown` answers, which outlast botocore's retries once).",
            "",
            "| rule | injected / calls | entries failed |",
            "| --- | ---: | ---: |",
            *(f"| `{r['label']}` | {r['injected']} / {r['calls']} | {r['entries_failed']} |" for r in rules),
            "",
            "| published | enriched | quarantined | stored twice | batches retried | latency p50 / p95 (ms) "
            "| checks |",
            "| ---: | ---: | ---: | ---: | ---: | --- | --- |",
            f"| {demo.get('published')} | {demo.get('enriched')} | "
            f"{sum((demo.get('quarantined') or {}).values())} "
            f"| {demo.get('duplicates')} | {demo.get('batches_retried')} | "
            f"{(demo.get('latency_ms') or {}).get('p50')} / {(demo.get('latency_ms') or {}).get('p95')} | "
            + ", ".join(f"{k} {v}" for k, v in checks.items())
            + " |",
        ]
        if demo.get("stderr_tail"):
            lines += ["", "```", demo["stderr_tail"], "```"]
    lines += runs or []
    lines += [
        "",
        "## Reproduce",
        "",
        "```bash",
        "make reliability                         # = .venv/bin/python scripts/reliability.py --demo",
        ".venv/bin/python scripts/reliability.py  # the in-process rows only",
        ".venv/bin/pytest tests/integration/test_reliability.py tests/e2e/test_fault_plan.py  # invariants",
        "sensorflow demo --faults examples/faults/issue14-mix.json",
        "sensorflow demo --faults examples/faults/sns-outage-2min.json",
        "make fuzz                                # FUZZ_INPUTS=100000 by default; build/fuzz-report.json",
        "make soak                                # SOAK_MINUTES=10 (FAULTS=examples/faults/...json)",
        "```",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--demo", action="store_true", help="also run sensorflow demo --faults on the local cloud"
    )
    parser.add_argument("--out", default=str(REPO / "RELIABILITY.md"), help="output file, or - for stdout")
    parser.add_argument("--reuse-demo", default=None, help="take the demo row from an earlier --json file")
    parser.add_argument("--json", default=None, help="also write the raw figures to this JSON file")
    parser.add_argument("--fuzz", default=str(REPO / "build" / "fuzz-report.json"), help="make fuzz's report")
    parser.add_argument(
        "--soak", default=str(REPO / ".sensorflow" / "soak" / "soak.json"), help="make soak's summary"
    )
    args = parser.parse_args(argv)
    results = []
    for s in scenarios():
        print(f"running: {s.name} ...", file=sys.stderr, flush=True)
        results.append(run(s))
        print(f"  {json.dumps(results[-1])}", file=sys.stderr, flush=True)
    demos = [run_demo(plan) for plan in DEMO_PLANS] if args.demo else []
    if args.reuse_demo:  # the demo rows of an earlier run's --json output
        demos = json.loads(Path(args.reuse_demo).read_text())["demos"]
    text = render(results, demos, fuzz_section(Path(args.fuzz)) + soak_section(Path(args.soak)))
    if args.json:
        Path(args.json).write_text(json.dumps({"scenarios": results, "demos": demos}, indent=2))
    if args.out == "-":
        print(text)
    else:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    ok = all(
        r["conserved"] and r["transitions_match_truth"] and not r["sent_again_after_replays"] for r in results
    )
    return 0 if ok and all(d.get("exit") == 0 for d in demos) else 1


if __name__ == "__main__":
    sys.exit(main())
