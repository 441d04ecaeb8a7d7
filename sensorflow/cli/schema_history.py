"""The kept schema versions checked against each other (``sensorflow schemas check`` and the gate
``schemas publish`` runs before registering anything): each BACKWARD compatible with its predecessor, the
newest the current schema, and the reading schema's first field the ``device_id`` string."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastavro.schema

from sensorflow.core import compatibility, schemas
from sensorflow.core.errors import ConfigError


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
