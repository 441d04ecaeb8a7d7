"""``sensorflow plan``: shards, ingest settings and monthly cost for a fleet, from the benchmark's figures.

This module holds the flags, turns them into ``planner.PlanInputs`` (a bad value is one line naming the
flag) and renders the plan as a table or, with ``--json``, as JSON. The arithmetic is in
``sensorflow.planner``.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

from sensorflow.cli.errors import UsageError
from sensorflow.planner import Plan, PlanInputError, PlanInputs, load, make_plan
from sensorflow.planner import service_limits as lim
from sensorflow.planner.measured import BENCH_RESULTS_PATH
from sensorflow.planner.sizing import EFO_RECOMMENDED_ABOVE_CONSUMERS
from sensorflow.planner.workload import DEFAULT_PAYLOAD_BYTES

DESCRIPTION = """\
Plan a stage for a fleet: Kinesis shards for writes (1 MiB/s and 1,000 records/s each) and reads (shared
2 MiB/s per shard, or enhanced fan-out above two consumers), provisioned vs on-demand, the ingest mapping's
batchSize, batchWindow and parallelizationFactor from the benchmark's measured batch time (each shard kept
at most half busy), Lambda concurrency, iterator-age headroom, the monthly cost line by line, and warnings
where a default quota needs raising. Pure arithmetic: no AWS call.
"""

EPILOG = """\
how readings map to Kinesis records: one reading per record (raw, Glue and Confluent framing, as the
simulator sends them); --aggregation N for KPL aggregates of N readings (the simulator's --format kpl
aggregates one device tick: N = --sensors-per-device).

figures: bench-results.json at the repository root when present (make bench), else the committed ones;
--bench FILE reads another, --bench none the committed ones. Prices: us-east-1 list prices, no free tier,
each cited in sensorflow/planner/prices.py with the date it was read; limits in service_limits.py.

examples:
  sensorflow plan --devices 1000000 --interval 10
  sensorflow plan --devices 10000 --interval 10 --sensors-per-device 3 --aggregation 3 --json
  sensorflow plan --devices 50000 --interval 30 --consumers 4 --alert-rate 0.001
  # a batch spanning two intervals writes each device's alarm state once per two readings
  sensorflow plan --devices 1000000 --interval 10 --batch-window 20
"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="shards, ingest batch settings and monthly cost for a fleet",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--devices", metavar="N", help="devices in the fleet (required)")
    parser.add_argument(
        "--interval", metavar="SECONDS", help="seconds between a device's readings (required)"
    )
    parser.add_argument("--sensors-per-device", metavar="K", default="1", help="readings per device tick (1)")
    parser.add_argument(
        "--payload-bytes",
        metavar="B",
        default=str(DEFAULT_PAYLOAD_BYTES),
        help="bytes per encoded reading (48)",
    )
    parser.add_argument(
        "--alert-rate", metavar="R", help="alarm transitions per reading, 0..1 (default: as measured)"
    )
    parser.add_argument(
        "--consumers", metavar="C", default="1", help="consumers of the stream, ingest included (1)"
    )
    parser.add_argument(
        "--aggregation", metavar="N", default="1", help="readings per Kinesis record, KPL (1)"
    )
    parser.add_argument(
        "--batch-window", metavar="SECONDS", help="impose ingest's batching window, 1..300 (default: chosen)"
    )
    parser.add_argument("--bench", metavar="FILE", help="bench-results.json to read, or 'none'")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(func=run)


def _int(flag: str, value: str | None) -> int:
    if value is None:
        raise UsageError(f"{flag} is required (e.g. --devices 10000 --interval 10)")
    try:
        return int(value)
    except ValueError:
        raise UsageError(f"{flag} must be a whole number; got {value!r}") from None


def _number(flag: str, value: str | None) -> Fraction:
    if value is None:
        raise UsageError(f"{flag} is required (e.g. --devices 10000 --interval 10)")
    try:
        return Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise UsageError(f"{flag} must be a number; got {value!r}") from None


def inputs_from(args: argparse.Namespace) -> PlanInputs:
    alert_rate = None if args.alert_rate is None else float(_number("--alert-rate", args.alert_rate))
    try:
        return PlanInputs(
            devices=_int("--devices", args.devices),
            interval_s=_number("--interval", args.interval),
            sensors_per_device=_int("--sensors-per-device", args.sensors_per_device),
            payload_bytes=_int("--payload-bytes", args.payload_bytes),
            alert_rate=alert_rate,
            consumers=_int("--consumers", args.consumers),
            aggregation=_int("--aggregation", args.aggregation),
            batch_window_s=None if args.batch_window is None else _int("--batch-window", args.batch_window),
        )
    except PlanInputError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    inputs = inputs_from(args)
    bench = BENCH_RESULTS_PATH if args.bench is None else None if args.bench == "none" else Path(args.bench)
    if bench is not None and args.bench is not None and not bench.exists():
        raise UsageError(f"--bench {args.bench}: no such file (run `make bench`, or pass --bench none)")
    try:
        plan = make_plan(inputs, load(bench))
    except PlanInputError as exc:
        raise UsageError(str(exc)) from None
    out = out or sys.stdout
    if args.json:
        out.write(json.dumps(plan.to_dict(), indent=2) + "\n")
    else:
        out.write(render(plan))
    return 0


def _money(x: float) -> str:
    return f"${x:,.2f}"


def _qty(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:,.3g}"


def render(plan: Plan) -> str:
    return "\n".join([*_summary(plan), "", *_cost_table(plan), *_warnings(plan)]) + "\n"


def _summary(plan: Plan) -> list[str]:
    i, t, s, tu = plan.inputs, plan.traffic, plan.shards, plan.tuning
    kin_p = sum(x.monthly for x in plan.costs.provisioned_kinesis)
    kin_o = sum(x.monthly for x in plan.costs.on_demand_kinesis)
    read_mode = (
        f"enhanced fan-out, {i.consumers} consumers"
        if s.efo
        else f"shared throughput, {i.consumers} consumer{'s' if i.consumers > 1 else ''} "
        f"(enhanced fan-out above {EFO_RECOMMENDED_ABOVE_CONSUMERS})"
    )
    if tu.stall_drain_s is None:
        drain = "never at this factor"
    else:
        drain = "under a second" if tu.stall_drain_s < 1 else f"{tu.stall_drain_s:,.0f} s"
    rows = [
        ("Fleet", f"{i.devices:,} devices x {i.sensors_per_device} every {float(i.interval_s):g} s"),
        ("readings/s", f"{float(t.readings_per_s):,.1f}"),
        (
            "Kinesis records/s",
            f"{float(t.records_per_s):,.1f} ({i.aggregation} reading(s), {t.record_bytes} B each)",
        ),
        ("write throughput", f"{float(t.bytes_per_s) / lim.MIB:,.3f} MiB/s"),
        ("shards for writes", f"{s.write:,} (1,000 records/s and 1 MiB/s per shard)"),
        (
            "shards for reads",
            f"{s.read_shared:,} shared (2 MiB/s, 2,000 records/s per shard) / {s.read_efo:,} with EFO",
        ),
        ("read mode", read_mode),
        ("stream shards", f"{s.shards:,} ({s.write_utilisation:.0%} of the write limit)"),
        (
            "stream mode",
            f"{plan.costs.stream_mode}: Kinesis {_money(kin_p)}/month provisioned, {_money(kin_o)} on-demand",
        ),
        ("batchSize", f"{tu.batch_size:,} records"),
        ("batchWindow", f"{tu.batch_window_s} s (a steady batch holds {tu.batch_span_s:,.1f} s of a shard)"),
        ("parallelizationFactor", f"{tu.parallelization_factor}"),
        (
            "steady batch",
            f"{tu.steady_batch_readings:,.1f} readings, {tu.batch_duration_s:.3f} s on Lambda "
            f"({tu.utilisation:.0%} busy)",
        ),
        (
            "Lambda concurrency",
            f"{tu.max_concurrency:,} max (shards x factor), {tu.mean_concurrency:,.1f} on average",
        ),
        ("iterator age", f"~{tu.iterator_age_s:.1f} s steady; a 10-minute stall drains in {drain}"),
        ("alarm transitions/s", f"{plan.alerts_per_s:,.2f}"),
        (
            "readings per device-batch",
            f"{plan.readings_per_device_batch:,.2f} (the alarm state is written once per device per batch)",
        ),
        ("serverless.yml", ", ".join(f"{k}: {v}" for k, v in plan.settings.items())),
        ("figures from", plan.measured.source),
    ]
    width = max(len(k) for k, _ in rows)
    return [f"{k:<{width}}  {v}" for k, v in rows]


def _cost_table(plan: Plan) -> list[str]:
    header = ("Service", "Item", "Quantity", "Unit", "Unit price", "Monthly")
    body = [
        (x.service, x.item, _qty(x.quantity), x.unit, f"${x.unit_price:.4g}", _money(x.monthly))
        for x in plan.costs.lines
    ]
    footer = ("Total", "per month, us-east-1 list prices", "", "", "", _money(plan.costs.total))
    table = [header, *body, footer]
    widths = [max(len(r[c]) for r in table) for c in range(len(header))]
    right = {2, 4, 5}

    def fmt(r: tuple[str, ...]) -> str:
        cells = [r[c].rjust(widths[c]) if c in right else r[c].ljust(widths[c]) for c in range(len(r))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [fmt(header), rule, *(fmt(r) for r in body), rule, fmt(footer)]


def _warnings(plan: Plan) -> list[str]:
    if not plan.warnings:
        return []
    return ["", "Warnings:", *(f"  ! {w}" for w in plan.warnings)]
