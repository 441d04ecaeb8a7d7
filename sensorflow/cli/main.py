"""The ``sensorflow`` command line: ``simulate``, ``local``, ``demo`` and ``alarms``.

Each tool registers its own sub-command from its package, imported lazily so ``--help`` stays fast.
A bad flag or config is reported as one clear line on stderr (exit 2), never as a traceback: the
sub-commands raise ``cli.errors.UsageError``, and AWS failures go through ``cli.errors``' one translator.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sensorflow.cli.errors import UsageError, aws_setup_message

# sub-command -> module exposing ``add_parser(subparsers)``; each parser sets ``func(args) -> int``.
_COMMANDS: dict[str, str] = {
    "simulate": "sensorflow.cli.simulate_command",
    "local": "sensorflow.cli.local_command",
    "demo": "sensorflow.cli.demo_command",
    "alarms": "sensorflow.cli.alarms_command",
    "rules": "sensorflow.cli.rules_command",
    "silences": "sensorflow.cli.silences_command",
    "schemas": "sensorflow.cli.schemas_command",
    "console": "sensorflow.cli.console_command",
    "plan": "sensorflow.cli.plan_command",
    "quarantine": "sensorflow.cli.quarantine_command",
}


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
        message = aws_setup_message(exc)  # an AWS set-up error raised outside any `aws_errors` block
        if message is None:
            raise
        print(f"sensorflow {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
