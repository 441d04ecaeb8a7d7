"""``sensorflow simulate``: simulate a sensor fleet and publish it to Kinesis, or write it to a file.

This module only holds the flags, runs the dry run or the publishing, and prints the report; the flags
become a ``SimConfig`` in ``sensorflow.simulate.run_config``, the simulation lives in ``generator`` and
publishing in ``producer``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlparse

from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.stack_outputs import check_stage, read_outputs, require_output, stack_name
from sensorflow.simulate import manifest, scenarios, truth, wire
from sensorflow.simulate.errors import ProducerError, SimulationError
from sensorflow.simulate.fleet import DEFAULT_FLEET_PATH
from sensorflow.simulate.generator import generate
from sensorflow.simulate.producer import SHARD_RECORDS_PER_S, KinesisProducer, ProducerReport, shard_limits
from sensorflow.simulate.progress import ProgressBar
from sensorflow.simulate.run_config import build_config
from sensorflow.simulate.sim_types import (
    DEFAULT_DURATION_S,
    DEFAULT_MALFORMED_RATE,
    DEFAULT_SCENARIO_RATE,
    SimConfig,
    SimRecord,
)
from sensorflow.simulate.truth import Expectation

STREAM_OUTPUT = "SensorStreamName"
REGISTRY_OUTPUT = "SchemaRegistryName"
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
  --stage STAGE       publish to output {STREAM_OUTPUT} of stack {stack_name("<STAGE>")}

wire formats (--format, --schema-versions; see sensorflow/simulate/wire.py):
  raw         schemaless Avro in --raw-schema-version (default: the current schema), as ingest's
              RAW_WRITER_SCHEMA_VERSION must say
  glue        AWS Glue Schema Registry header (0x03, 0x00, the schema version UUID) + Avro
  glue-zlib   the same with compression 0x05: the body zlib-compressed
  confluent   0x00 + the 4-byte schema id of schemas/confluent-ids.json + Avro
  kpl         KPL aggregation: each device tick's records are the sub-records of one Kinesis record
  A comma list is a mix, one format per device in fleet order; --schema-versions 1,2 spreads firmware
  generations over the glue, glue-zlib and confluent devices the same way. Glue version ids are the
  registry's: read with GetSchemaByDefinition from --registry NAME, or from output {REGISTRY_OUTPUT}
  with --stage (run `sensorflow schemas publish --stage STAGE` first). A dry run without --registry uses
  placeholder ids (uuid5 of the schema and version): reproducible bytes that no registry resolves.
  Dry-run lines are one reading each; a KPL reading's "data" is its sub-record, and truth "aggregate"
  names the Kinesis record it is aggregated into (sensorflow.simulate.wire.kinesis_records rebuilds it).

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
  # every wire format at once, two firmware generations, Glue ids from the local cloud's registry
  sensorflow simulate --stage local --format raw,glue,glue-zlib,confluent,kpl --schema-versions 1,2
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
    formats = parser.add_argument_group("wire format")
    formats.add_argument(
        "--format",
        metavar="FORMATS",
        help=f"{'|'.join(wire.FORMATS)}, or a comma list: one per device (default: raw)",
    )
    formats.add_argument(
        "--schema-versions",
        metavar="N,M",
        help="schema versions of the glue/confluent devices, spread over them (default: the current one)",
    )
    formats.add_argument(
        "--raw-schema-version",
        metavar="N",
        help="schema version raw and kpl devices write (default: the current one)",
    )
    formats.add_argument(
        "--registry",
        metavar="NAME",
        help="Glue registry to read the schema version ids from (default with --stage: its registry)",
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
    try:
        cfg = build_config(vars(args))
    except SimulationError as exc:
        raise UsageError(str(exc)) from None
    stdout, stderr = sys.stdout, sys.stderr
    if args.out:
        if args.stream or args.stage or args.manifest:
            raise UsageError(
                "--out is a dry run and publishes nothing; drop --stream/--stage/--manifest, "
                "or drop --out and use --manifest FILE to record a published run"
            )
        if args.registry and _uses_glue(cfg):
            cfg = _with_registry_ids(cfg, args, args.registry)
        return _dry_run(cfg, Path(args.out), stdout, stderr, args.quiet)
    if args.stream and args.stage:
        raise UsageError("pass either --stream NAME or --stage STAGE, not both")
    if not args.stream and not args.stage:
        raise UsageError(
            "nowhere to send: pass --stream NAME or --stage STAGE to publish, or --out FILE for a dry run"
        )
    if args.stage:
        check_stage(args.stage)
    return _publish(cfg, args, stdout, stderr)


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
    with aws_errors("connect to AWS"):
        session = boto3.session.Session(region_name=args.region)
        kinesis = session.client("kinesis", config=boto_config)
        cloudformation = session.client("cloudformation", config=boto_config) if args.stage else None
    registry = args.registry
    if args.stage:
        outputs = read_outputs(cloudformation, args.stage)
        stream = require_output(outputs, STREAM_OUTPUT, args.stage, "redeploy it or pass --stream NAME")
        if _uses_glue(cfg) and not registry:
            registry = require_output(outputs, REGISTRY_OUTPUT, args.stage, "redeploy it or pass --registry")
    else:
        stream = args.stream
    if _uses_glue(cfg):
        if not registry:
            raise UsageError(
                "Glue-framed records need the registry's schema version ids: pass --registry NAME "
                "(or --stage STAGE)"
            )
        cfg = _with_registry_ids(cfg, args, registry, session)
    with aws_errors(f"find stream {stream}"):
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
                for reading in record.readings:
                    fh.write(manifest.to_line(reading, delivered=error_code is None))

        records = wire.kinesis_records(_tracked(generate(cfg), kinds, expect, bar))
        try:
            report = _send(producer, records, on_done, stream)
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


def _uses_glue(cfg: SimConfig) -> bool:
    return any(f in (wire.GLUE, wire.GLUE_ZLIB) for f in cfg.formats)


def _with_registry_ids(
    cfg: SimConfig, args: argparse.Namespace, registry: str, session: Any = None
) -> SimConfig:
    """``cfg`` with the Glue schema version ids the registry assigned (``GetSchemaByDefinition``)."""
    from dataclasses import replace

    if session is None:
        import boto3

        with aws_errors("connect to AWS"):
            session = boto3.session.Session(region_name=args.region)
    with aws_errors(f"read schema registry {registry}"):
        try:
            ids = wire.registry_glue_ids(session.client("glue"), registry)
        except SimulationError as exc:
            raise UsageError(str(exc)) from None
    return replace(cfg, glue_version_ids=ids)


def _send(producer: KinesisProducer, records: Iterable[Any], on_done: Any, stream: str) -> ProducerReport:
    with aws_errors(f"publish to stream {stream}"):
        try:
            return producer.send(records, on_done=on_done)
        except ProducerError as exc:  # the producer's own verdict: retrying cannot fix it
            raise UsageError(f"publish to stream {stream}: {exc}") from None


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
    by_format = "  ".join(f"{f} {expect.formats[f]:,}" for f in wire.FORMATS if expect.formats[f])
    predicted = truth.summary(expect.transitions(now_ms=cfg.end_ms))
    alarms = "  ".join(f"{name} {predicted.get(name, 0):,}" for name in truth.PREDICTED)
    return (
        f"  kinds      {by_kind or 'none'}\n"
        f"  formats    {by_format or 'none'} (readings)\n"
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
