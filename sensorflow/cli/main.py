"""The ``sensorflow`` command line: ``simulate``, ``local``, ``demo`` and ``alarms``.

Each tool registers its own sub-command from its package, imported lazily so ``--help`` stays fast.
A bad flag or config is reported as one clear line on stderr (exit 2), never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# sub-command -> module exposing ``add_parser(subparsers)``; each parser sets ``func(args) -> int``.
_COMMANDS: dict[str, str] = {
    "simulate": "sensorflow.cli.simulate_command",
    "local": "sensorflow.cli.local_command",
    "demo": "sensorflow.cli.demo_command",
    "alarms": "sensorflow.cli.alarms_command",
}


class UsageError(Exception):
    """A user-facing error: bad flags, config or environment. Printed without a traceback."""


def aws_setup_hint(exc: BaseException) -> str | None:
    """A one-line fix for AWS set-up problems any sub-command can hit (region, credentials, endpoint)."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or export AWS_DEFAULT_REGION (e.g. us-east-1)"
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials: configure a profile (aws configure / AWS_PROFILE), or for the local cloud "
            "run the exports that `sensorflow local up --detach` prints"
        )
    if isinstance(exc, EndpointConnectionError):
        endpoint = exc.kwargs.get("endpoint_url")
        return f"cannot reach {endpoint}: is `sensorflow local up` running, or is AWS_ENDPOINT_URL stale?"
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensorflow",
        description="sensorflow tools: simulate sensor fleets, run a local cloud, operate alarms.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for _name, module_name in _COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"sensorflow {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        hint = aws_setup_hint(exc)
        if hint is None:
            raise
        print(f"sensorflow {args.command}: error: {hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
