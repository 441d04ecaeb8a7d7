"""``sensorflow rules check FILE [--json]``: validate a rules file as the functions do at start;
``sensorflow rules import-iotevents``: convert AWS IoT Events alarm models (``cli.rules_import_command``).

``check`` loads FILE with ``config.load_rule_book`` (the very call the ingest and heartbeat functions
make), so it passes exactly when they would start, and fails with the message they would log, naming the
rule and the field. It prints ``FILE: N rules OK`` and a table of the rules (exit 0), or the message
(exit 1). ``--json`` prints one object instead: ``{"file", "ok", "rules"}`` or ``{"file", "ok", "error"}``.

``import-iotevents`` is ``sensorflow.cli.rules_import_command``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sensorflow.cli import rules_import_command
from sensorflow.core.errors import ConfigError
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.core.thresholds import SEVERITIES

# Modules that add a ``rules`` sub-command: each exposes ``add_parser(rules_subparsers)`` and sets
# ``func``; one that is missing is skipped, as in ``cli.main``.
COLUMNS = ("id", "sensor_type", "levels", "latch", "repeat_every")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rules",
        help="validate a rules file, or import AWS IoT Events alarm models into one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a rules file with the functions' own start-up checks")
    check.add_argument("file", type=Path, metavar="FILE", help="the rules file (JSON, version 1 or 2)")
    check.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    check.set_defaults(func=run_check)
    rules_import_command.add_parser(sub)


def check_rules_file(path: Path) -> RuleBook:
    """The validated rules of ``path``; ``ConfigError`` with the message the functions would log."""
    from sensorflow.config import load_rule_book

    return load_rule_book(path)


def run_check(args: argparse.Namespace) -> int:
    try:
        book = check_rules_file(args.file)
    except ConfigError as exc:
        if args.json:
            print(json.dumps({"file": str(args.file), "ok": False, "error": str(exc)}))
        else:
            print(f"sensorflow rules: error: {exc}", file=sys.stderr)
        return 1
    rules = list(book)
    if args.json:
        print(json.dumps({"file": str(args.file), "ok": True, "rules": [_summary(r) for r in rules]}))
        return 0
    print(f"{args.file}: {len(rules)} rules OK")
    rows = [COLUMNS] + [_row(r) for r in rules]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def _levels(rule: AlarmRule) -> dict[str, str]:
    return {sev: rule.levels[sev].describe() for sev in reversed(SEVERITIES) if sev in rule.levels}


def _row(rule: AlarmRule) -> tuple[str, ...]:
    levels = "; ".join(f"{sev} {text}" for sev, text in _levels(rule).items())
    repeat = f"{rule.repeat_every}s" if rule.repeat_every is not None else "-"
    return (rule.rule_id, rule.sensor_type, levels, "yes" if rule.latch else "no", repeat)


def _summary(rule: AlarmRule) -> dict[str, Any]:
    return {
        "id": rule.rule_id,
        "sensor_type": rule.sensor_type,
        "levels": _levels(rule),
        "latch": rule.latch,
        "repeat_every": rule.repeat_every,
        "disabled_on_initialization": rule.disabled_on_initialization,
    }
