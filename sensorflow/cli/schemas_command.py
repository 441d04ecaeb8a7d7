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

Other ``schemas`` sub-commands live in their own modules and register themselves here (``EXTENSIONS``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import fastavro.schema

from sensorflow.core import compatibility, schemas
from sensorflow.core.errors import ConfigError

# Modules that add a ``schemas`` sub-command: each exposes ``add_parser(schemas_subparsers)`` and sets
# ``func``; one that is missing is skipped, as in ``cli.main``.
EXTENSIONS = ("sensorflow.cli.schemas_publish_command",)  # publish


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
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.add_parser(sub)


def check_history(schema_dir: Path | None = None) -> tuple[dict[str, list[int]], list[str]]:
    """The versions of every schema with a history, and the problems found (empty: all compatible)."""
    root = schema_dir or schemas.SCHEMA_DIR
    found: dict[str, list[int]] = {}
    problems: list[str] = []
    for directory in sorted(p for p in (root / schemas.HISTORY).glob("*") if p.is_dir()):
        name = directory.name
        try:
            versions = schemas.history(name, root)
        except ConfigError as exc:
            problems.append(str(exc))
            continue
        found[name] = [v.version for v in versions]
        problems += _check_versions(name, versions, root)
    return found, problems


def _check_versions(name: str, versions: tuple[schemas.SchemaVersion, ...], root: Path) -> list[str]:
    problems: list[str] = []
    parsed: list[Any] = []
    for v in versions:
        try:
            parsed.append(v.schema)
            fastavro.schema.parse_schema(v.schema)
        except (ValueError, fastavro.schema.SchemaParseException) as exc:
            return [f"{name} v{v.version} ({v.path.name}) does not parse: {exc}"]
    for before, after, schema_before, schema_after in zip(
        versions, versions[1:], parsed, parsed[1:], strict=False
    ):
        problems += [
            f"{name} v{after.version} cannot read data written with v{before.version}: {p}"
            for p in compatibility.problems(schema_after, schema_before)
        ]
    if name == schemas.READING:
        for v, schema in zip(versions, parsed, strict=True):
            first = schema["fields"][0] if schema.get("fields") else {}
            if first.get("name") != "device_id" or first.get("type") != "string":
                problems.append(
                    f"{name} v{v.version}: the first field must be device_id (string): "
                    "framing detection needs it"
                )
    current = root / f"{name}.avsc"
    if versions and current.exists():
        newest = fastavro.schema.to_parsing_canonical_form(fastavro.schema.parse_schema(parsed[-1]))
        reader = fastavro.schema.to_parsing_canonical_form(fastavro.schema.load_schema(str(current)))
        if newest != reader:
            n = versions[-1].version
            problems.append(
                f"{name}: schemas/{current.name} differs from the newest kept version v{n}; "
                f"keep it as v{n + 1} in {schemas.HISTORY}/{name}/"
            )
    return problems


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
