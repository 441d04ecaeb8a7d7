"""``sensorflow rules check|import-iotevents``: validate a rules file; import AWS IoT Events alarm models.

``check FILE`` runs the parser the functions run when a container starts (``config.load_rule_book``), so
a file it accepts loads in Lambda, and its error names the rule and the field the same way.
(A minimal group written by the importer; the ``rules check`` owner may extend it.)
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sensorflow.cli import rules_import_command
from sensorflow.cli.errors import UsageError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="validate a rules file, or import AWS IoT Events alarm models into one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a rules file with the functions' own parser")
    check.add_argument("file", type=Path, metavar="FILE")
    check.set_defaults(func=run_check)
    rules_import_command.add_parser(sub)


def run_check(args: argparse.Namespace) -> int:
    from sensorflow.config import load_rule_book
    from sensorflow.core.errors import ConfigError

    try:
        book = load_rule_book(args.file)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    print(f"{args.file}: {len(list(book))} rule(s) OK")
    return 0
