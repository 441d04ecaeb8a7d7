"""``sensorflow schemas check [--dir DIR] [--json]``: verify the kept schema versions, locally.

For every schema with a history (``schemas/history/<full name>/v<N>.avsc``), ``check`` verifies that:

- each version is BACKWARD compatible with its predecessor: a reader with version N reads data written
  with version N-1 (``sensorflow.core.compatibility``, the Avro resolution rules: a new field needs a
  default, a type may only be promoted, an enum that drops a symbol needs a default, ...);
- the newest version is the current schema, ``schemas/<full name>.avsc`` (the ingest's reader schema);
- the reading schema's first field is the ``device_id`` string in every version (framing detection relies
  on it, ``sensorflow.core.framing``).

It prints one line per version (exit 0), or each problem naming the version and field (exit 1). moto's Glue
does not enforce compatibility modes, so this is the gate ``schemas publish`` also runs. ``--json`` prints
``{"ok", "schemas": {name: [versions]}, "problems": [...]}``.

``publish`` is ``sensorflow.cli.schemas_publish_command``; the checks are ``sensorflow.cli.schema_history``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sensorflow.cli import schemas_publish_command
from sensorflow.cli.schema_history import check_history

# Modules that add a ``schemas`` sub-command: each exposes ``add_parser(schemas_subparsers)`` and sets
# ``func``; one that is missing is skipped, as in ``cli.main``.


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "schemas",
        help="check the kept schema versions' compatibility, or publish them to the Glue registry",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="verify each kept version is BACKWARD compatible with the one before"
    )
    check.add_argument(
        "--dir", type=Path, default=None, help="the schemas directory (default: the project's schemas/)"
    )
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=run_check)
    schemas_publish_command.add_parser(sub)


def run_check(args: argparse.Namespace) -> int:
    found, problems = check_history(args.dir)
    if args.json:
        print(json.dumps({"ok": not problems, "schemas": found, "problems": problems}, indent=2))
        return 1 if problems else 0
    for name, versions in found.items():
        print(f"{name}: versions {', '.join(f'v{n}' for n in versions)}")
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 1
    print("every version is BACKWARD compatible with its predecessor")
    return 0
