"""``sensorflow simulate``: simulate a sensor fleet and publish it to Kinesis, or write it to a file.

This module only translates flags into a ``SimConfig`` and a destination; the simulation lives in
``generator`` and publishing in ``producer``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from sensorflow.cli.main import UsageError
from sensorflow.jsonfile import read_json
from sensorflow.simulate import manifest, scenarios, truth
from sensorflow.simulate.errors import ProducerError, SimulationError
from sensorflow.simulate.fleet import DEFAULT_FLEET_PATH, DeviceSpec, load_fleet, parse_fleet
from sensorflow.simulate.generator import (
    DEFAULT_DURATION_S,
    DEFAULT_MALFORMED_RATE,
    DEFAULT_SCENARIO_RATE,
    SimConfig,
    SimRecord,
    generate,
)
from sensorflow.simulate.producer import SHARD_RECORDS_PER_S, KinesisProducer, ProducerReport, shard_limits
from sensorflow.simulate.progress import ProgressBar
from sensorflow.simulate.truth import Expectation

STACK_NAME = "sensorflow-{stage}"
STREAM_OUTPUT = "SensorStreamName"
CONFIG_KEYS = (
    "devices",
    "duration_s",
    "interval_s",
    "seed",
    "start",
    "rate",
    "malformed_rate",
    "scenario_rate",
    "min_excursions",
    "trailing_dropouts",
    "fleet",
    "scenarios",
    "malformed",
)
_STAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DESCRIPTION = """\
Simulate a fleet of IoT sensors and publish its readings to the sensorflow Kinesis stream, or write
them to a JSON Lines file (dry run). Signals follow a daily cycle with site-wide weather, drift, noise
and battery decay; scenarios are injected at --scenario-rate (excursions past the critical threshold
with recovery, spikes, stuck sensors, dropouts, clock skew, late/out-of-order readings, producer-retry
duplicates, unknown devices) and malformed payloads at --malformed-rate (truncated, random bytes,
wrong schema, trailing bytes). Every record carries its ground truth, including the alarm transitions
the default rules (sensorflow/rules.json) give each excursion (raised, escalated, cleared, each on the
reading that causes it) and spike (none: the rules debounce it). --min-excursions and
--trailing-dropouts force alarm scenarios: excursions that complete inside the run, and devices that
fall silent long enough before the end for the heartbeat to report them stale.

Device time: --duration seconds of it, ending now unless --start says otherwise; records are sent as
fast as the stream allows (--rate caps records/s). Reproducible: the same --seed and --start give
byte-for-byte identical records, truth and --out files on every run.
"""

EPILOG = f"""\
destinations (pick one):
  --out FILE          dry run: write JSON Lines {{"partition_key", "data" (base64), "truth"}}, publish nothing
  --stream NAME       publish to this Kinesis stream (name or ARN)
  --stage STAGE       publish to output {STREAM_OUTPUT} of stack {STACK_NAME.format(stage="<STAGE>")}

  AWS credentials and region resolve the standard boto3 way (AWS_PROFILE, AWS_DEFAULT_REGION, --region, ...).
  AWS_ENDPOINT_URL points boto3 at the local cloud. On real AWS, publishing is paced to the stream's
  open shards (1,000 records/s and 1 MiB/s each); against a local endpoint it runs unpaced.

--config FILE (JSON; flags win over it):
  {{"devices": 50, "duration_s": 3600, "interval_s": 10, "seed": 7, "start": "2025-01-01T00:00:00Z",
   "rate": 500, "malformed_rate": 0.01, "scenario_rate": 0.005, "min_excursions": 5, "trailing_dropouts": 2,
   "fleet": "my-fleet.json" or [ {{device objects as in fleet.json}} ],
   "scenarios": {{{", ".join(f'"{n}": {w:g}' for n, w in scenarios.DEFAULT_SCENARIO_MIX.items())}}},
   "malformed": {{{", ".join(f'"{n}": 1' for n in scenarios.MALFORMED_KINDS)}}}}}
  Scenario and malformed weights are relative: scenario X starts at a device tick with probability
  scenario_rate * w[X] / sum(w). Set a weight to 0 to turn a scenario off.

examples:
  # dry run, 50 devices, one hour of device time
  sensorflow simulate --devices 50 --duration 3600 --out sim.jsonl
  # an alarm demo: 5 excursions that raise, escalate and clear, 2 devices that go stale
  sensorflow simulate --devices 50 --duration 900 --min-excursions 5 --trailing-dropouts 2 --out alarms.jsonl
  # byte-for-byte reproducible
  sensorflow simulate --seed 7 --start 2025-01-01T00:00:00Z --duration 600 --out a.jsonl
  # the local cloud
  AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_DEFAULT_REGION=us-east-1 sensorflow simulate --stage local
  # AWS: stack sensorflow-dev, capped at 500 records/s, with a manifest of what was sent
  sensorflow simulate --stage dev --region eu-west-1 --duration 3600 --rate 500 --manifest run.jsonl

exit status: 0 all delivered, 1 some records undelivered (listed on stderr), 2 bad usage or environment.
"""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="simulate a sensor fleet and publish it to Kinesis (or write it to a file)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fleet = parser.add_argument_group("fleet and time")
    fleet.add_argument(
        "--devices", metavar="N", help="simulate the first N devices of the fleet (default: all)"
    )
    fleet.add_argument(
        "--duration", metavar="SECONDS", help=f"seconds of device time (default: {DEFAULT_DURATION_S:g})"
    )
    fleet.add_argument("--interval", metavar="SECONDS", help="override every device's reporting interval")
    fleet.add_argument(
        "--start",
        metavar="TIME",
        help="device time of the start: ISO-8601 (UTC if no offset) or epoch ms (default: now - duration)",
    )
    fleet.add_argument(
        "--seed", metavar="INT", help="random seed; with --start, output is identical across runs"
    )
    fleet.add_argument(
        "--fleet", metavar="FILE", help=f"fleet JSON file (default: {DEFAULT_FLEET_PATH.name})"
    )
    fleet.add_argument(
        "--config", metavar="FILE", help="JSON file with fleet, scenario mix and defaults (below)"
    )
    faults = parser.add_argument_group("faults")
    faults.add_argument(
        "--scenario-rate",
        metavar="P",
        help=f"chance a device starts a scenario at a reporting tick (default: {DEFAULT_SCENARIO_RATE:g})",
    )
    faults.add_argument(
        "--malformed-rate",
        metavar="P",
        help=f"chance a reading is followed by a malformed payload (default: {DEFAULT_MALFORMED_RATE:g})",
    )
    faults.add_argument(
        "--min-excursions",
        metavar="K",
        help="force K excursions (on K devices) that raise, escalate and clear inside the run (default: 0)",
    )
    faults.add_argument(
        "--trailing-dropouts",
        metavar="N",
        help="force N devices silent for the last stale_after + 60 s or more, so a heartbeat after the run "
        "finds them stale (default: 0)",
    )
    out = parser.add_argument_group("destination")
    out.add_argument("--stream", metavar="NAME", help="Kinesis stream name or ARN to publish to")
    out.add_argument("--stage", metavar="STAGE", help="publish to the stream of stack sensorflow-STAGE")
    out.add_argument("--out", metavar="FILE", help="dry run: write JSON Lines here instead of publishing")
    out.add_argument(
        "--manifest", metavar="FILE", help="when publishing, also write the records sent (JSON Lines)"
    )
    out.add_argument(
        "--rate", metavar="RECORDS_PER_S", help="cap the publishing rate (default: shard limits)"
    )
    out.add_argument("--region", metavar="REGION", help="AWS region (default: the standard boto3 resolution)")
    out.add_argument(
        "--quiet", action="store_true", help="no progress bar and no report (errors still print)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    cfg = build_config(args)
    stdout, stderr = sys.stdout, sys.stderr
    if args.out:
        if args.stream or args.stage or args.manifest:
            raise UsageError(
                "--out is a dry run and publishes nothing; drop --stream/--stage/--manifest, "
                "or drop --out and use --manifest FILE to record a published run"
            )
        return _dry_run(cfg, Path(args.out), stdout, stderr, args.quiet)
    if args.stream and args.stage:
        raise UsageError("pass either --stream NAME or --stage STAGE, not both")
    if not args.stream and not args.stage:
        raise UsageError(
            "nowhere to send: pass --stream NAME or --stage STAGE to publish, or --out FILE for a dry run"
        )
    if args.stage and not _STAGE.fullmatch(args.stage):
        raise UsageError(f"--stage {args.stage!r} is not a stage name (letters, digits and '-')")
    return _publish(cfg, args, stdout, stderr)


# --- configuration --------------------------------------------------------------------------------------


def build_config(args: argparse.Namespace) -> SimConfig:
    """Merge ``--config`` and flags (flags win) into a resolved, validated ``SimConfig``."""
    values: dict[str, Any] = {}
    fleet: tuple[DeviceSpec, ...] | None = None
    fleet_source = DEFAULT_FLEET_PATH.name
    scenario_mix: dict[str, float] = dict(scenarios.DEFAULT_SCENARIO_MIX)
    malformed_mix: dict[str, float] = dict(scenarios.DEFAULT_MALFORMED_MIX)
    if args.config:
        raw = _read_config(Path(args.config))
        for key in ("devices", "seed", "min_excursions", "trailing_dropouts"):
            if key in raw:
                values[key] = _int(raw[key], f"{args.config}: {key}", minimum=1 if key == "devices" else 0)
        for key in ("duration_s", "interval_s", "rate", "malformed_rate", "scenario_rate"):
            if key in raw:
                values[key] = _number(raw[key], f"{args.config}: {key}")
        if "start" in raw:
            values["start_ms"] = parse_start(raw["start"], f"{args.config}: start")
        if "fleet" in raw:
            fleet = _config_fleet(raw["fleet"], Path(args.config))
            fleet_source = f"the fleet of {args.config}"
        if "scenarios" in raw:
            scenario_mix = _mix(raw["scenarios"], f"{args.config}: scenarios", scenarios.SCENARIOS)
        if "malformed" in raw:
            malformed_mix = _mix(raw["malformed"], f"{args.config}: malformed", scenarios.MALFORMED_KINDS)
    if args.fleet:
        fleet = tuple(_load_fleet(args.fleet))
        fleet_source = args.fleet
    if args.devices is not None:
        values["devices"] = _int(args.devices, "--devices", minimum=1)
    if args.seed is not None:
        values["seed"] = _int(args.seed, "--seed", minimum=0)
    for flag in ("min_excursions", "trailing_dropouts"):
        if getattr(args, flag) is not None:
            values[flag] = _int(getattr(args, flag), "--" + flag.replace("_", "-"), minimum=0)
    for flag, key in (
        ("duration", "duration_s"),
        ("interval", "interval_s"),
        ("rate", "rate"),
        ("malformed_rate", "malformed_rate"),
        ("scenario_rate", "scenario_rate"),
    ):
        if getattr(args, flag) is not None:
            values[key] = _number(getattr(args, flag), "--" + flag.replace("_", "-"))
    if args.start is not None:
        values["start_ms"] = parse_start(args.start, "--start")
    if fleet is None:
        fleet = tuple(_load_fleet(None))
    if values.get("devices", 0) > len(fleet):
        raise UsageError(
            f"--devices {values['devices']} exceeds the {len(fleet)} devices in {fleet_source}; "
            f"use --devices {len(fleet)} or fewer, or --fleet FILE with more devices"
        )
    try:
        cfg = SimConfig(
            fleet=fleet, scenario_mix=scenario_mix, malformed_mix=malformed_mix, **values
        ).resolved()
        generate(cfg)  # plans the forced scenarios now: one that does not fit is a usage error
        return cfg
    except SimulationError as exc:
        raise UsageError(str(exc)) from None


def parse_start(value: Any, what: str) -> int:
    """Epoch milliseconds from an integer (ms) or an ISO-8601 string (UTC when it has no offset)."""
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        ms = int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                f"{what} {value!r} is neither epoch milliseconds nor ISO-8601; e.g. 2025-01-01T00:00:00Z "
                "or 1735689600000"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = round(parsed.timestamp() * 1000)
    else:
        raise UsageError(f"{what} must be ISO-8601 text or epoch milliseconds; got {value!r}")
    if ms < 0:
        raise UsageError(f"{what} must be at or after 1970-01-01T00:00:00Z")
    return ms


def _read_config(path: Path) -> dict[str, Any]:
    raw = read_json(path, f"--config {path}", UsageError)
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path} must hold a JSON object with keys from: {', '.join(CONFIG_KEYS)}")
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise UsageError(
            f"--config {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
        )
    return raw


def _config_fleet(value: Any, config_path: Path) -> tuple[DeviceSpec, ...]:
    if isinstance(value, str):
        return tuple(_load_fleet(str((config_path.parent / value).resolve())))
    try:
        return tuple(parse_fleet(value, source=f"{config_path}: fleet"))
    except SimulationError as exc:
        raise UsageError(str(exc)) from None


def _load_fleet(path: str | None) -> list[DeviceSpec]:
    try:
        return load_fleet(path)
    except SimulationError as exc:
        raise UsageError(
            f"{exc} (pass --fleet FILE with a JSON list of devices like {DEFAULT_FLEET_PATH.name})"
        ) from None


def _mix(value: Any, what: str, allowed: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(value, dict):
        raise UsageError(f"{what} must be an object of name -> weight, names from: {', '.join(allowed)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise UsageError(f"{what}: unknown name(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    mix = dict.fromkeys(allowed, 0.0)
    for name, weight in value.items():
        number = _number(weight, f"{what}: {name}")
        if number < 0:
            raise UsageError(f"{what}: weight of {name} must be >= 0; got {weight!r}")
        mix[name] = number
    return mix


def _int(value: Any, what: str, minimum: int) -> int:
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise UsageError(f"{what} must be a whole number >= {minimum}; got {value!r}")
    return number


def _number(value: Any, what: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise UsageError(f"{what} must be a number; got {value!r}")
    return number


# --- dry run --------------------------------------------------------------------------------------------


def _dry_run(cfg: SimConfig, path: Path, stdout: TextIO, stderr: TextIO, quiet: bool) -> int:
    kinds: Counter[str] = Counter()
    expect = Expectation()
    nbytes = 0
    try:
        with path.open("w", encoding="utf-8") as fh:
            for record in _counted(generate(cfg), kinds, expect):
                fh.write(manifest.to_line(record))
                nbytes += len(record.data)
    except OSError as exc:
        raise UsageError(f"--out {path}: cannot write: {exc.strerror or exc}") from None
    if not quiet:
        total = sum(kinds.values())
        stdout.write(f"wrote {total:,} records ({nbytes:,} payload bytes) to {path}\n")
        stdout.write(_summary(cfg, kinds, expect))
    return 0


# --- publishing -----------------------------------------------------------------------------------------


def _publish(cfg: SimConfig, args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    import boto3  # only when publishing, so a dry run and --help never need AWS configuration
    from botocore.config import Config

    # Standard retry mode: bounded, jittered retries of throttling and 5xx (boto3's default is legacy).
    boto_config = Config(retries={"mode": "standard", "max_attempts": 3})
    with _aws_errors("connect to AWS"):
        session = boto3.session.Session(region_name=args.region)
        kinesis = session.client("kinesis", config=boto_config)
    if args.stage:
        with _aws_errors(f"read stack {STACK_NAME.format(stage=args.stage)}"):
            stream = _stream_of_stage(session.client("cloudformation", config=boto_config), args.stage)
    else:
        stream = args.stream
    with _aws_errors(f"find stream {stream}"):
        open_shards = _open_shards(kinesis, stream)
    rate, byte_rate = cfg.rate, None
    local = urlparse(kinesis.meta.endpoint_url).hostname in _LOCAL_HOSTS
    if not local:
        shard_rate, byte_rate = shard_limits(open_shards)
        rate = min(rate, shard_rate) if rate is not None else shard_rate
    assert cfg.start_ms is not None
    now_ms = time.time_ns() // 1_000_000
    if not args.quiet and abs(cfg.end_ms - now_ms) > 5 * 60_000:
        stderr.write(
            "note: device time ends at "
            f"{_iso(cfg.end_ms)}, not now; the pipeline judges timestamps against arrival time "
            "(-7 days..+5 min), so the truth's clock-skew expectations may not hold\n"
        )
    bar = ProgressBar(stderr, cfg.start_ms, cfg.end_ms, enabled=not args.quiet and stderr.isatty())
    producer = KinesisProducer(kinesis, stream, rate=rate, byte_rate=byte_rate, progress=bar.update)
    kinds: Counter[str] = Counter()
    expect = Expectation()
    with contextlib.ExitStack() as stack:
        on_done = None
        if args.manifest:
            try:
                fh = stack.enter_context(Path(args.manifest).open("w", encoding="utf-8"))
            except OSError as exc:
                raise UsageError(f"--manifest {args.manifest}: cannot write: {exc.strerror or exc}") from None

            def on_done(record: Any, error_code: str | None) -> None:
                fh.write(manifest.to_line(record, delivered=error_code is None))

        records = _tracked(generate(cfg), kinds, expect, bar)
        try:
            with _aws_errors(f"publish to stream {stream}"):
                report = producer.send(records, on_done=on_done)
        except UsageError:
            bar.close()
            raise
        bar.update(report.sent, report.failed, report.bytes, final=True)
        bar.close()
    if not args.quiet:
        stdout.write(_report(report, stream, open_shards, local, cfg, kinds, expect))
    if report.failed:
        shown = report.failed_records[:5]
        stderr.write(f"{report.failed:,} records were not delivered after retries, e.g.:\n")
        for failed in shown:
            stderr.write(f"  {failed.partition_key}: {failed.error_code}: {failed.error_message}\n")
        return 1
    return 0


def _stream_of_stage(cloudformation: Any, stage: str) -> str:
    from botocore.exceptions import ClientError

    stack = STACK_NAME.format(stage=stage)
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationError":
            raise UsageError(
                f"stack {stack} not found in this region; deploy it (npx sls deploy --stage {stage}), "
                "check --region, or pass --stream NAME"
            ) from None
        raise
    for output in stacks[0].get("Outputs", []):
        if output.get("OutputKey") == STREAM_OUTPUT:
            return str(output["OutputValue"])
    raise UsageError(f"stack {stack} has no output {STREAM_OUTPUT}; redeploy it or pass --stream NAME")


def _open_shards(kinesis: Any, stream: str) -> int:
    from botocore.exceptions import ClientError

    from sensorflow.simulate.producer import open_shard_count

    try:
        return open_shard_count(kinesis, stream)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise UsageError(
                f"stream {stream} does not exist in this account and region; check --stream/--region"
            ) from None
        raise


@contextlib.contextmanager
def _aws_errors(action: str) -> Iterator[None]:
    """Turn what boto3 raises for a missing environment into one line that says how to fix it."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise UsageError(
            f"cannot {action}: no AWS credentials; set AWS_PROFILE or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (any fake values for the local cloud, with AWS_ENDPOINT_URL)"
        ) from None
    except NoRegionError:
        raise UsageError(f"cannot {action}: no AWS region; pass --region or set AWS_DEFAULT_REGION") from None
    except ProfileNotFound as exc:
        raise UsageError(f"cannot {action}: {exc}; check AWS_PROFILE") from None
    except EndpointConnectionError as exc:
        raise UsageError(
            f"cannot {action}: cannot reach {exc.kwargs.get('endpoint_url', 'the endpoint')}; "
            "is the local cloud running (check AWS_ENDPOINT_URL) or the network up?"
        ) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UsageError(f"cannot {action}: {error.get('Code')}: {error.get('Message')}") from None
    except ProducerError as exc:
        raise UsageError(f"cannot {action}: {exc}") from None


def _tracked(
    records: Iterable[SimRecord], kinds: Counter[str], expect: Expectation, bar: ProgressBar
) -> Iterator[SimRecord]:
    for record in records:
        kinds[record.truth["kind"]] += 1
        expect.add(record.truth)
        bar.device_ms = record.truth["tick_ms"]
        yield record


def _counted(records: Iterable[SimRecord], kinds: Counter[str], expect: Expectation) -> Iterator[SimRecord]:
    for record in records:
        kinds[record.truth["kind"]] += 1
        expect.add(record.truth)
        yield record


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _summary(cfg: SimConfig, kinds: Counter[str], expect: Expectation) -> str:
    assert cfg.start_ms is not None and cfg.fleet is not None
    by_kind = "  ".join(f"{k} {kinds[k]:,}" for k in scenarios.KINDS if kinds[k])
    predicted = truth.summary(expect.transitions(now_ms=cfg.end_ms))
    alarms = "  ".join(f"{name} {predicted.get(name, 0):,}" for name in truth.PREDICTED)
    return (
        f"  kinds      {by_kind or 'none'}\n"
        f"  alarms     {alarms} (predicted; Device Stale for a heartbeat at the end of device time)\n"
        f"  devices    {len(cfg.fleet)}, device time {_iso(cfg.start_ms)} .. {_iso(cfg.end_ms)}\n"
        f"  reproduce  --seed {cfg.seed} --start {cfg.start_ms} (with the same other flags)\n"
    )


def _report(
    report: ProducerReport,
    stream: str,
    shards: int,
    local: bool,
    cfg: SimConfig,
    kinds: Counter[str],
    expect: Expectation,
) -> str:
    pacing = "unpaced (local endpoint)" if local else f"paced to {shards} open shard(s)"
    return (
        f"published to {stream} ({shards} open shard(s), {pacing})\n"
        f"  sent       {report.sent:,}\n"
        f"  retried    {report.retried:,}\n"
        f"  failed     {report.failed:,}\n"
        f"  records/s  {report.records_per_s:,.0f} (one shard accepts {SHARD_RECORDS_PER_S:,}/s)\n"
        f"  bytes      {report.bytes:,} in {report.calls:,} PutRecords calls, {report.elapsed_s:.2f} s\n"
        + _summary(cfg, kinds, expect)
    )
