"""Writer schemas of Confluent-framed records: the 4-byte schema id, resolved through a file shipped with
the function.

There is no Confluent registry server in AWS, so the ids producers stamp on records are mapped here, in
``schemas/confluent-ids.json`` (or the file ``CONFLUENT_SCHEMA_IDS_FILE`` names), to kept versions of a
schema (``schemas/history/<full name>/v<N>.avsc``, ``core.schemas.history``)::

    {"ids": {"1": {"schema": "sensorflow.SensorReading", "version": 1},
             "2": {"schema": "sensorflow.SensorReading", "version": 2}}}

The file is part of the Lambda zip (``package.patterns`` keeps ``schemas/**``), so a new id is a deploy,
like a new reader schema. It is read, and every schema it names parsed, when the function starts: a broken
mapping fails the first invocation with a ``ConfigError`` naming the entry, never a record. A file rather
than an SSM parameter: no call, no IAM grant and no outage on the hot path, and the mapping is reviewed
with the schemas it points at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fastavro

from sensorflow.core import schemas
from sensorflow.core.errors import ConfigError, UnknownSchemaError

# Confluent framing carries the id as a 4-byte big-endian integer.
MAX_SCHEMA_ID = 2**32 - 1


class ConfluentSchemaIds:
    """``WriterSchemas.confluent``: schema id -> parsed writer schema, all parsed at construction."""

    def __init__(self, mapping_file: Path, schema_dir: Path | None = None) -> None:
        self.mapping_file = mapping_file
        self._schemas = _load(mapping_file, schema_dir or schemas.SCHEMA_DIR)

    def get(self, schema_id: int) -> Any:
        try:
            return self._schemas[schema_id]
        except KeyError:
            raise UnknownSchemaError(
                f"Confluent schema id {schema_id} is not in {self.mapping_file.name}"
            ) from None

    def ids(self) -> list[int]:
        return sorted(self._schemas)


def _load(mapping_file: Path, schema_dir: Path) -> dict[int, Any]:
    where = f"Confluent schema id map {mapping_file}"
    try:
        document = json.loads(mapping_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{where} cannot be read as JSON: {exc}") from None
    ids = document.get("ids") if isinstance(document, dict) else None
    if not isinstance(ids, dict):
        raise ConfigError(
            f'{where}: expected {{"ids": {{"<id>": {{"schema": "<full name>", "version": <n>}}}}}}'
        )
    histories: dict[str, dict[int, str]] = {}
    out: dict[int, Any] = {}
    for key, entry in ids.items():
        if not (key.isdigit() and int(key) <= MAX_SCHEMA_ID):
            raise ConfigError(f"{where}: id {key!r} is not an integer from 0 to {MAX_SCHEMA_ID}")
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("schema"), str)
            and type(entry.get("version")) is int
            and set(entry) == {"schema", "version"}
        ):
            raise ConfigError(f'{where}: id {key}: expected {{"schema": "<full name>", "version": <n>}}')
        name, number = entry["schema"], entry["version"]
        if name not in histories:
            histories[name] = {v.version: v.definition for v in schemas.history(name, schema_dir)}
        definition = histories[name].get(number)
        if definition is None:
            raise ConfigError(
                f"{where}: id {key}: {name} has no version {number} in {schema_dir / schemas.HISTORY / name}"
            )
        try:
            out[int(key)] = fastavro.parse_schema(json.loads(definition))
        except Exception as exc:  # fastavro raises many types for a bad schema
            raise ConfigError(
                f"{where}: id {key}: {name} v{number} is not a valid Avro schema: {exc}"
            ) from exc
    return out
