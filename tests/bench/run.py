"""``make bench``: one command, one run, every figure of issue 9 side by side, each next to its target.

    .venv/bin/python -m tests.bench.run            # full run: prints the table, writes BENCHMARKS.md
                                                   # and bench-results.json at the repo root
    .venv/bin/python -m tests.bench.run --smoke    # tiny fleets, no latency sleeps, no files (make test)

Figures (all on the same simulator-generated Kinesis events; see ``tests.bench.workload``):

- floor: ``b64decode`` + ``fastavro.schemaless_reader``, schema parsed once;
- peer: ``tests.bench.peer_handler`` (Powertools BatchProcessor + Parser + pydantic + fastavro.validate +
  one Publish and one PutEvents per reading past a threshold);
- ours: ``handlers.ingest.handler`` over ``tests.bench.aws_fakes`` clients, warm (warm-up batches first);
- AWS calls, DynamoDB items written and capacity units per reading, by operation, 2,000 and 200 devices;
- latency model: per-batch wall time with the per-call latencies slept, readings/s per shard;
- peak memory: a fresh subprocess handling one 9,000-record batch (ru_maxrss; tracemalloc separately);
- cold start: import time of each handler module and of boto3, fresh processes, median of 7;
- cost per million readings at arm64 on-demand prices;
- framings: one fleet sent raw, Glue, Glue+zlib, Confluent, KPL-aggregated and as Glue-framed v1 (schema
  resolution into v2), each run through ``ReadingDecoder.decode`` (KPL: de-aggregation too) and through
  the handler; microseconds per reading next to raw Avro (``fastavro.schemaless_reader`` alone).

Speed is a figure here, never an assertion; the smoke test only checks that every figure was produced.
"""

from __future__ import annotations

import os

# Before anything imports sensorflow.observability: the figures, not per-record logs, metrics or traces.
os.environ.update(
    POWERTOOLS_LOG_LEVEL="WARNING",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_DISABLED="1",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    # Any client the fakes do not cover fails fast here instead of reaching AWS.
    AWS_ENDPOINT_URL="http://127.0.0.1:9",
)

import argparse
import base64
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fastavro

from sensorflow.core import schemas
from tests.bench import report
from tests.bench.aws_fakes import FakeAws, Latency, Ledger
from tests.bench.peer_handler import make_handler
from tests.bench.stack import (
    ROOT,
    FunctionSpec,
    IngestStack,
    deployed_param,
    function_spec,
    publish_schemas,
    registry_ids,
)
from tests.bench.workload import Workload, WorkloadSpec, big_batch, build

COLD_START_MODULES = (
    "boto3",
    "handlers.ingest",
    "handlers.notify",
    "handlers.incidents",
    "handlers.heartbeat",
)


@dataclass(frozen=True, slots=True)
class Plan:
    """How big a run is: the full benchmark, or the smoke that ``make test`` runs."""

    smoke: bool
    big: WorkloadSpec  # the 2,000-device fleet
    small: WorkloadSpec  # the 200-device fleet (writes per reading)
    repeats: int  # CPU runs per figure (median)
    latency_batches: int
    latency_scale: float  # 1 = the latency model, 0 = no sleeps
    memory_batch: int
    cold_repeats: int
    framing: WorkloadSpec  # the fleet re-sent in each framing


FULL = Plan(
    smoke=False,
    big=WorkloadSpec(devices=2000, batch_size=500, measured_batches=20, scenario_rate=0.03),
    small=WorkloadSpec(devices=200, batch_size=500, measured_batches=20, scenario_rate=0.02),
    repeats=3,
    latency_batches=4,
    latency_scale=1.0,
    memory_batch=9000,
    cold_repeats=7,
    framing=WorkloadSpec(devices=200, batch_size=500, measured_batches=10, scenario_rate=0.02),
)
SMOKE = Plan(
    smoke=True,
    big=WorkloadSpec(devices=60, batch_size=50, measured_batches=2, warmup_s=10, scenario_rate=0.05),
    small=WorkloadSpec(devices=20, batch_size=50, measured_batches=2, warmup_s=10, scenario_rate=0.05),
    repeats=1,
    latency_batches=1,
    latency_scale=0.0,
    memory_batch=100,
    cold_repeats=1,
    framing=WorkloadSpec(devices=20, batch_size=50, measured_batches=2, warmup_s=10, scenario_rate=0.05),
)
# (figure, formats, schema versions): each framing of the same fleet; the last is v1 -> v2 resolution.
FRAMINGS: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("raw", "raw", ()),
    ("glue", "glue", ()),
    ("glue-zlib", "glue-zlib", ()),
    ("confluent", "confluent", ()),
    ("kpl", "kpl", ()),
    ("v1->v2", "glue", (1,)),
)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Lambda writes logs and EMF to stdout: keep the cost (the writes happen), drop the text."""
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        yield


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _timed_events(invoke: Callable[[dict[str, Any]], object], events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    for event in events:
        invoke(event)
    return time.perf_counter() - start


# --- CPU: floor, peer, ours -------------------------------------------------------------------------------


def floor_us(work: Workload, repeats: int) -> float:
    schema = schemas.load(schemas.READING)
    datas = [r["kinesis"]["data"] for e in work.measured for r in e["Records"]]

    def run() -> None:
        for data in datas:
            try:
                fastavro.schemaless_reader(io.BytesIO(base64.b64decode(data)), schema, None)
            except Exception:  # a malformed payload: the floor only pays for trying
                continue

    run()
    return statistics.median(_timed(run) for _ in range(repeats)) / len(datas) * 1e6


def peer_us(work: Workload, spec: FunctionSpec, repeats: int) -> tuple[float, float]:
    """µs per reading, and alerts published per reading (its Publish calls)."""
    times, alerts = [], 0.0
    for _ in range(repeats):
        aws = FakeAws.build(spec.schemas)
        handler = make_handler(aws.sns, aws.events, "arn:aws:sns:us-east-1:123456789012:peer", "peer-bus")
        ctx = _context(spec)
        with quiet():
            handler(work.warmup[0], ctx)
            before = aws.ledger.snapshot()
            times.append(_timed_events(_bind(handler, ctx), work.measured))
        alerts = aws.ledger.since(before).calls["sns:Publish"] / work.measured_records
    return statistics.median(times) / work.measured_records * 1e6, alerts


def _bind(handler: Callable[[dict[str, Any], Any], object], ctx: Any) -> Callable[[dict[str, Any]], object]:
    return lambda event: handler(event, ctx)


def _context(spec: FunctionSpec) -> Any:
    from tests.bench.stack import FakeContext

    return FakeContext(spec.timeout_s, spec.memory_mb)


@dataclass
class OursRun:
    us_per_reading: float
    ledger: Ledger  # the measured batches only
    failures: int
    fake_cpu_us: float  # of us_per_reading, CPU spent inside the fakes


def warm_stack(work: Workload, spec: FunctionSpec, latency: Latency | None = None) -> IngestStack:
    stack = IngestStack(spec, work.registry, latency)
    with quiet():
        for event in work.warmup:
            stack.invoke(event)
    return stack


def ours(work: Workload, spec: FunctionSpec, repeats: int) -> OursRun:
    runs: list[OursRun] = []
    for _ in range(repeats):
        stack = warm_stack(work, spec)
        before, failures = stack.aws.ledger.snapshot(), stack.failures
        with quiet():
            elapsed = _timed_events(stack.invoke, work.measured)
        spent = stack.aws.ledger.since(before)
        n = work.measured_records
        runs.append(
            OursRun(elapsed / n * 1e6, spent, stack.failures - failures, spent.fake_seconds / n * 1e6)
        )
    runs.sort(key=lambda r: r.us_per_reading)
    return runs[len(runs) // 2]


def latency_model(work: Workload, spec: FunctionSpec, plan: Plan) -> dict[str, Any]:
    """Warm up without sleeps, then time whole batches with the latency model's sleeps on."""
    latency = Latency(scale=0.0)
    stack = warm_stack(work, spec, latency)
    latency.scale = plan.latency_scale
    before, failures = stack.aws.ledger.snapshot(), stack.failures
    batches = work.measured[: plan.latency_batches]
    walls = []
    with quiet():
        for event in batches:
            walls.append(_timed_events(stack.invoke, [event]))
    spent = stack.aws.ledger.since(before)
    per_batch = statistics.mean(walls)
    size = statistics.mean(len(e["Records"]) for e in batches)
    return {
        "batch_wall_s": per_batch,
        "batch_records": size,
        "readings_per_s": size / per_batch,
        "calls_per_batch": {k: v / len(batches) for k, v in sorted(spent.calls.items())},
        "failures": stack.failures - failures,
        "latency_scale": plan.latency_scale,
    }


# --- framings: the same fleet in each wire format ----------------------------------------------------------


def framing_figures(plan: Plan, spec: FunctionSpec) -> dict[str, Any]:
    """µs per reading of each framing: the decoder (framing, writer schema, Avro; KPL de-aggregation) and
    the whole handler, next to raw Avro (``schemaless_reader`` of the raw bodies, schema parsed once)."""
    from dataclasses import replace

    out: dict[str, Any] = {}
    ids = registry_ids(spec)
    for name, fmt, versions in FRAMINGS:
        work = build(replace(plan.framing, formats=(fmt,), schema_versions=versions, glue_version_ids=ids))
        if name == "raw":
            out["raw_avro_us"] = floor_us(work, max(plan.repeats, 3))
        run = ours(work, spec, plan.repeats)
        out[name] = {
            "decode_us": decode_us(work, spec, max(plan.repeats, 3)),
            "ours_us": run.us_per_reading,
            "readings": work.measured_records,
            "kinesis_records": sum(len(e["Records"]) for e in work.measured),
            "failures": run.failures,
        }
    for name, _, _ in FRAMINGS:
        out[name]["decode_over_raw_avro"] = out[name]["decode_us"] / out["raw_avro_us"]
        out[name]["ours_over_raw"] = out[name]["ours_us"] / out["raw"]["ours_us"]
    return out


def decode_us(work: Workload, spec: FunctionSpec, repeats: int) -> float:
    """``ReadingDecoder.decode`` per reading, as ingest builds it (writer schemas over the fake registry,
    warm: each schema version fetched once before timing); KPL records are de-aggregated first."""
    from sensorflow import bootstrap
    from sensorflow.config import IngestSettings
    from sensorflow.core import kpl
    from sensorflow.core.decode import ReadingDecoder
    from sensorflow.core.errors import InvalidRecordError

    settings = IngestSettings.from_env(spec.env)
    aws = FakeAws.build(spec.schemas)
    publish_schemas(aws, settings.schema_registry_name)
    decoder = ReadingDecoder(
        writer_schemas=bootstrap.build_writer_schemas(settings, aws.glue),
        raw_writer=bootstrap.raw_writer_schema(settings),
        framings=settings.accepted_framings,
    )
    datas = [base64.b64decode(r["kinesis"]["data"]) for e in work.measured for r in e["Records"]]

    def run() -> None:
        for data in datas:
            for body in [s.data for s in kpl.deaggregate(data)] if kpl.is_aggregated(data) else [data]:
                try:
                    decoder.decode(body)
                except InvalidRecordError:  # a malformed reading: the decoder pays for refusing it
                    continue

    run()
    return statistics.median(_timed(run) for _ in range(repeats)) / work.measured_records * 1e6


# --- memory and cold start (fresh processes) ---------------------------------------------------------------


def memory_child(mode: str) -> None:
    """Child process: read one Kinesis event (JSON) on stdin, handle it cold, print the figures."""
    event = json.load(sys.stdin)
    devices = int(os.environ["BENCH_DEVICES"])
    from sensorflow.simulate.fleet import build_default_fleet, registry_items

    stack = IngestStack(function_spec(), registry_items(build_default_fleet(devices)))
    if mode == "traced":
        tracemalloc.start()
    with quiet():
        stack.invoke(event)
    out: dict[str, Any] = {"records": len(event["Records"]), "failures": stack.failures}
    if mode == "traced":
        out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    else:
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps(out))


def peak_memory(plan: Plan) -> dict[str, Any]:
    event = json.dumps(big_batch(plan.big, plan.memory_batch))
    out: dict[str, Any] = {"event_bytes": len(event)}
    for mode in ("rss", "traced"):
        proc = subprocess.run(
            [sys.executable, "-m", "tests.bench.run", "--memory-child", mode],
            input=event,
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "BENCH_DEVICES": str(plan.big.devices)},
            check=True,
        )
        out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


SDK_ON = "handlers.ingest (X-Ray SDK on)"


def cold_start(plan: Plan) -> dict[str, Any]:
    """Import time of each module in a fresh interpreter, interleaved so noise hits all alike.

    The handlers are imported with the deployed default of ``POWERTOOLS_TRACE_DISABLED`` (serverless.yml's
    ``params.default.tracerDisabled``), and ``handlers.ingest`` once more with the X-Ray SDK on, so the
    price of turning it on for a stage is a figure too.
    """
    code = "import time; t = time.perf_counter(); import {m}; print(time.perf_counter() - t)"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "POWERTOOLS_TRACE_DISABLED": deployed_param("tracerDisabled"),
    }
    runs = [(m, m, env) for m in COLD_START_MODULES]
    runs.append((SDK_ON, "handlers.ingest", {**env, "POWERTOOLS_TRACE_DISABLED": "false"}))
    samples: dict[str, list[float]] = {label: [] for label, _, _ in runs}
    discard = 1 if plan.cold_repeats > 1 else 0  # a first round warms the page cache and .pyc files
    for round_ in range(plan.cold_repeats + discard):
        for label, module, run_env in runs:
            proc = subprocess.run(
                [sys.executable, "-c", code.format(m=module)],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env=run_env,
                check=True,
            )
            if round_ >= discard:
                samples[label].append(float(proc.stdout.strip()))
    medians = {m: statistics.median(v) for m, v in samples.items()}
    return {
        "repeats": plan.cold_repeats,
        "tracer_disabled": env["POWERTOOLS_TRACE_DISABLED"],
        "median_s": medians,
        "ratio_to_boto3": {m: medians[m] / medians["boto3"] for m in medians if m != "boto3"},
    }


# --- the run --------------------------------------------------------------------------------------------


def per_reading(ledger: Ledger, n: int) -> dict[str, Any]:
    def norm(counter: Any) -> dict[str, float]:
        return {k: v / n for k, v in sorted(counter.items())}

    return {
        "calls": norm(ledger.calls),
        "calls_total": sum(ledger.calls.values()) / n,
        "items_written": norm(ledger.items_written),
        "items_written_total": sum(ledger.items_written.values()) / n,
        "write_units": norm(ledger.write_units),
        "gsi_write_units": norm(ledger.gsi_write_units),
        "read_units": norm(ledger.read_units),
        "billed": norm(ledger.billed),
        "conflicts": norm(ledger.conflicts),
    }


def measure(plan: Plan, log: Callable[[str], None]) -> dict[str, Any]:
    spec = function_spec()
    log(f"workload: {plan.big.devices} and {plan.small.devices} devices, batches of {plan.big.batch_size}")
    big, small = build(plan.big), build(plan.small)
    log("cpu: floor, peer, ours")
    floor = floor_us(big, max(plan.repeats, 3))
    peer, peer_alerts = peer_us(big, spec, plan.repeats)
    ours_big = ours(big, spec, plan.repeats)
    log(f"ours on {plan.small.devices} devices")
    ours_small = ours(small, spec, 1)
    log("latency model")
    latency = latency_model(big, spec, plan)
    log("peak memory (fresh process)")
    memory = peak_memory(plan)
    log("cold start (fresh processes)")
    cold = cold_start(plan)
    log(f"framings: {', '.join(name for name, _, _ in FRAMINGS)} ({plan.framing.devices} devices)")
    framings = framing_figures(plan, spec)
    results: dict[str, Any] = {
        "mode": "smoke" if plan.smoke else "full",
        "function": {"memory_mb": spec.memory_mb, "timeout_s": spec.timeout_s, "arch": spec.architecture},
        "workload": {
            str(w.spec.devices): {
                "devices": w.spec.devices,
                "batch_size": w.spec.batch_size,
                "warmup_batches": len(w.warmup),
                "measured_batches": len(w.measured),
                "measured_records": w.measured_records,
                "scenario_rate": w.spec.scenario_rate,
                "malformed_rate": w.spec.malformed_rate,
                "shares": w.shares,
            }
            for w in (big, small)
        },
        "cpu": {
            "floor_us": floor,
            "peer_us": peer,
            "peer_alerts_per_reading": peer_alerts,
            "ours_us": ours_big.us_per_reading,
            "ours_fake_clients_us": ours_big.fake_cpu_us,
            "ours_over_floor": ours_big.us_per_reading / floor,
            "ours_over_peer": ours_big.us_per_reading / peer,
            "repeats": plan.repeats,
        },
        "aws": {
            str(big.spec.devices): per_reading(ours_big.ledger, big.measured_records),
            str(small.spec.devices): per_reading(ours_small.ledger, small.measured_records),
        },
        "failures": {
            "ours": ours_big.failures,
            "ours_small": ours_small.failures,
            "latency": latency["failures"],
            "framings": sum(framings[name]["failures"] for name, _, _ in FRAMINGS),
        },
        "latency": latency,
        "memory": memory,
        "cold_start": cold,
        "framings": framings,
        "framing_devices": plan.framing.devices,
    }
    results["cost"] = report.cost(results, big.spec.devices)
    results["targets"] = report.targets(results, big.spec.devices, small.spec.devices)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--smoke", action="store_true", help="tiny run, no sleeps, no files (make test)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--memory-child", choices=("rss", "traced"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    plan = SMOKE if args.smoke else FULL
    started = time.perf_counter()
    results = measure(plan, lambda msg: print(f"bench: {msg}", file=sys.stderr, flush=True))
    results["machine"] = report.machine()
    results["command"] = "make bench" if not plan.smoke else "python -m tests.bench.run --smoke"
    results["elapsed_s"] = time.perf_counter() - started
    table = report.table(results)
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print(table)
    if not plan.smoke:
        (ROOT / "bench-results.json").write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
        (ROOT / "BENCHMARKS.md").write_text(report.markdown(results, table))
        print("wrote BENCHMARKS.md and bench-results.json", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
