"""Avro schemas from ``schemas/``, parsed once per process (once per Lambda container).

``schemas/<full name>.avsc`` is the current schema of each type; the reading schema's earlier versions are
kept in ``schemas/history/<full name>/v<N>.avsc``, numbered from 1 without gaps, each self-contained (named
types inlined: what a schema registry stores), the newest equal to the current schema. ``sensorflow schemas
check`` verifies each version against its predecessor (``sensorflow.core.compatibility``).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro.schema

from sensorflow.core.errors import ConfigError

# The repo root in a checkout, and the zip root in Lambda: both hold sensorflow/ and schemas/.
SCHEMA_DIR = Path(os.environ.get("SENSORFLOW_SCHEMA_DIR", Path(__file__).resolve().parents[2] / "schemas"))
HISTORY = "history"

READING = "sensorflow.SensorReading"
ENRICHED = "sensorflow.EnrichedReading"
TRANSITION = "sensorflow.TransitionEvent"

_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")


@functools.cache
def load(full_name: str) -> Any:
    """Parse ``schemas/<full_name>.avsc``; named types resolve from files in the same directory."""
    return fastavro.schema.load_schema(str(SCHEMA_DIR / f"{full_name}.avsc"))


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.avsc"))


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One kept version of a schema: its number, file, and definition (the JSON a registry stores)."""

    full_name: str
    version: int
    path: Path
    definition: str

    @property
    def schema(self) -> Any:
        """The definition as JSON (not parsed by fastavro)."""
        return json.loads(self.definition)


def history(full_name: str = READING, schema_dir: Path | None = None) -> tuple[SchemaVersion, ...]:
    """The kept versions of ``full_name``, oldest first. ``ConfigError`` if the numbering has a gap or a file
    is not a ``v<N>.avsc``."""
    directory = (schema_dir or SCHEMA_DIR) / HISTORY / full_name
    found: dict[int, Path] = {}
    for path in sorted(directory.glob("*.avsc")):
        m = _VERSION_FILE.fullmatch(path.name)
        if m is None:
            raise ConfigError(f"{path}: history files are named v<N>.avsc")
        found[int(m.group(1))] = path
    if sorted(found) != list(range(1, len(found) + 1)):
        raise ConfigError(f"{directory}: versions {sorted(found)} are not numbered 1..N without gaps")
    return tuple(SchemaVersion(full_name, n, found[n], found[n].read_text()) for n in sorted(found))


@functools.cache
def version(n: int, full_name: str = READING) -> Any:
    """Version ``n`` of ``full_name``, parsed (``schemas/history``): e.g. the raw writer schema of a stage
    whose raw producers still send an older version."""
    for v in history(full_name):
        if v.version == n:
            return fastavro.schema.parse_schema(v.schema)
    raise ConfigError(f"{full_name} has no version {n} in {SCHEMA_DIR / HISTORY / full_name}")
