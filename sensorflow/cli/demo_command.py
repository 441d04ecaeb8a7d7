"""``sensorflow demo``: the whole pipeline on a local cloud, from simulated sensors to stored readings,
alarm transitions, webhook messages and incidents.

Brings the local cloud up (moto + the real serverless.yml + the local Lambda runtime + a loopback webhook
receiver whose URL is in the stage's SSM SecureString), publishes a simulated fleet with alarm
excursions (raise, escalate, clear), devices that go silent for good, and malformed records, makes the
readings bucket answer ``SlowDown`` to a few writes (a transient downstream fault, injected by the fault
proxy in front of moto, so retries show), and waits until the stream is drained, the heartbeat has run
after the last record was processed (so ``Device Stale`` can fire) and notify/incidents deliveries have
settled. Then it reads everything back and checks:

- every published record is accounted for exactly once: enriched + quarantined == published, nothing
  stored twice (the exit code);
- the alarm transitions (counted from a queue subscribed raw to the alerts topic) are the ones the
  simulator's ground truth predicts (the exit code too: the pipeline is deterministic and replay-safe);
- the webhook received exactly one message per transition notify's filter policy accepts (ditto);
- every wire format's records (--formats: raw, Glue, Glue with zlib, Confluent-style, KPL aggregates,
  mixed in one stream, one format per device, v1 and v2 firmware over the Glue and Confluent devices) are
  all enriched or quarantined: the summary counts published / enriched / quarantined per format (ditto).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sensorflow.cli.errors import UsageError
from sensorflow.cli.local_command import check_port, load_fault_plan
from sensorflow.localcloud.demo import report
from sensorflow.localcloud.demo.drive import (
    DEFAULT_DEVICES,
    DEFAULT_DURATION_S,
    DEFAULT_FORMATS,
    DEFAULT_SCHEMA_VERSIONS,
    DemoOptions,
    generate_records,
    run_demo,
)
from sensorflow.localcloud.emulator.moto_server import PortInUseError


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a local cloud with a simulated fleet and print a summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--devices", type=int, default=DEFAULT_DEVICES, help=f"devices (default {DEFAULT_DEVICES})"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_S,
        metavar="SECONDS",
        help=f"seconds of device time to simulate (default {DEFAULT_DURATION_S:g})",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument(
        "--formats",
        default=",".join(DEFAULT_FORMATS),
        help=f"wire formats, one per device, mixed in one stream (default {','.join(DEFAULT_FORMATS)})",
    )
    parser.add_argument(
        "--schema-versions",
        default=",".join(map(str, DEFAULT_SCHEMA_VERSIONS)),
        metavar="N,M",
        help="firmware generations (schema versions) of the glue/confluent devices (default "
        f"{','.join(map(str, DEFAULT_SCHEMA_VERSIONS))})",
    )
    parser.add_argument(
        "--faults",
        metavar="PLAN",
        help="a fault plan (JSON, examples/faults/) applied to the functions' AWS calls while publishing; "
        "the summary counts what each rule injected",
    )
    parser.add_argument("--port", type=int, default=0, help="moto server port (default: any free port)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object, last line")
    parser.add_argument(
        "--profile", action="store_true", help="also print moto's request count and time per AWS operation"
    )
    parser.set_defaults(func=run)
    return parser


def _validate(args: argparse.Namespace) -> None:
    from sensorflow.simulate import load_fleet

    if args.devices < 1:
        raise UsageError(f"--devices {args.devices}: need at least 1 device")
    if args.duration <= 0:
        raise UsageError(f"--duration {args.duration:g}: must be a positive number of seconds")
    if args.port:  # 0: any free port
        check_port(args.port)
    fleet = load_fleet()
    if args.devices > len(fleet):
        raise UsageError(f"--devices {args.devices}: the committed fleet has {len(fleet)} devices")


def run(args: argparse.Namespace) -> int:
    from sensorflow.simulate import SimulationError, wire

    _validate(args)
    try:
        formats = wire.parse_formats(args.formats, "--formats")
        versions = wire.parse_versions(args.schema_versions)
    except SimulationError as exc:
        raise UsageError(str(exc)) from None
    faults = load_fault_plan(args.faults)
    options = DemoOptions(
        args.devices, args.duration, args.seed, args.port, args.profile, formats, versions, faults
    )
    say = (
        (lambda line: print(line, file=sys.stderr, flush=True))
        if args.json
        else (lambda line: print(line, flush=True))
    )
    try:
        generate_records(options)  # bad options fail here, before a minute of deploying
        result = run_demo(options, say)
    except SimulationError as exc:
        raise UsageError(str(exc)) from exc
    except PortInUseError as exc:
        raise UsageError(f"{exc}; pick another with --port N") from exc
    if result is None:
        return 1
    print(report.render(result.summary, result.checks))
    if args.profile:
        print(report.render_profile(result.profile))
    if args.json:
        print(report.json_line(result.summary, result.checks))
    return 0 if result.ok else 1
