"""``sensorflow console --stage S [--port N]``: the operator console of a stage, on 127.0.0.1 only.

A small web page (``sensorflow.cli.console``): the alarms table (filter by state, site and team) with ack,
snooze, disable and silence buttons that go through the same code as ``sensorflow alarms`` and
``sensorflow silences`` and record the same identity (``--by``, default ``$USER``, and the caller ARN of
the credentials in use); the recent transitions; a device's readings chart and alarm history; the
quarantine by reason; and the pipeline's health. The stage is found as every operator command finds it
(stack ``sensorflow-<stage>``; the local cloud through ``AWS_ENDPOINT_URL``). It listens on 127.0.0.1 and
nowhere else, answers only requests addressed to 127.0.0.1:PORT, and takes actions only from its own
pages (a CSRF token and an Origin check).
"""

from __future__ import annotations

import argparse
import errno
from pathlib import Path
from typing import Any

from sensorflow.cli.console import DEFAULT_PORT, LOOPBACK
from sensorflow.cli.errors import UsageError
from sensorflow.cli.stack_outputs import add_stage_arguments, check_stage


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "console",
        help="serve the operator console of a stage on 127.0.0.1 (alarms, transitions, devices, health)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stage_arguments(parser, "to operate")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--host", default=LOOPBACK, help=f"listen address: {LOOPBACK} only (anything else is refused)"
    )
    parser.add_argument("--by", help="who acts (default: $USER, else your AWS identity's name)")
    parser.add_argument("--rules", type=Path, help="rules file (default: the packaged sensorflow/rules.json)")
    parser.set_defaults(func=run)


def check_args(args: argparse.Namespace) -> None:
    check_stage(args.stage)
    if args.host != LOOPBACK:
        raise UsageError(
            f"--host {args.host!r}: the console serves on {LOOPBACK} only (it acts with your AWS "
            "credentials); reach it from elsewhere through an SSH tunnel"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port} is not a TCP port (0-65535)")


def run(args: argparse.Namespace) -> int:
    from sensorflow.cli.console.app import ConsoleServer
    from sensorflow.cli.console.routes import Console
    from sensorflow.cli.console.stage import open_stage
    from sensorflow.cli.operator import check_by

    check_args(args)
    check_by(args.by)
    source, actions = open_stage(args.stage, args.region, args.by, args.rules)
    operator = actions.operator()  # the credentials work, and this is who the actions are recorded as
    console = Console(source, actions, args.port)
    try:
        server = ConsoleServer(console, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {args.port} on {LOOPBACK} is already in use; pick another with --port N"
            ) from None
        raise
    print(f"sensorflow console for stage {args.stage}: {server.url}", flush=True)
    print(f"acting as {operator.by} ({operator.caller_arn}); Ctrl-C to stop", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
