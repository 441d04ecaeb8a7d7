"""``sensorflow schemas publish --stage S``: register every kept version of the reading schema
(``schemas/history/sensorflow.SensorReading/v<N>.avsc``, oldest first) in the stage's AWS Glue Schema
Registry, the one ``serverless.yml`` creates and names in stack output ``SchemaRegistryName``.

Run it after every ``sls deploy`` (the local cloud runs it after its own deploy). It is idempotent: a
version whose definition the registry already has (``GetSchemaByDefinition``) is not registered again, so
a second run registers nothing. It refuses an incompatible change before registering anything: every
version must be BACKWARD compatible with its predecessor (``sensorflow.core.compatibility``, as ``sensorflow
schemas check``), and a new one also with the registry's latest version, because moto's Glue enforces no
compatibility mode (AWS's does: the schema is created with ``Compatibility=BACKWARD``).

Each version is registered as its file's JSON re-serialised (``json.dumps``), the exact text the
``aws-glue-schema-registry`` serializer sends for it, so a producer using that library finds the published
version instead of registering its own (AWS canonicalises definitions; moto compares them as text).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.stack_outputs import add_stage_arguments, check_stage, read_outputs, require_output
from sensorflow.core import compatibility, schemas
from sensorflow.core.errors import ConfigError

REGISTRY_OUTPUT = "SchemaRegistryName"
SCHEMA_NAME = schemas.READING  # the Glue schema: the record's full name (the library's record_name_strategy)
COMPATIBILITY = "BACKWARD"
DESCRIPTION = "sensorflow readings (schemas/history), registered by sensorflow schemas publish"
# Glue runs the compatibility check of a new version asynchronously (status PENDING, then AVAILABLE or
# FAILURE): docs.aws.amazon.com/glue/latest/dg/schema-registry-gs.html. Poll it for at most this long.
AVAILABLE_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 1.0


@dataclass(frozen=True, slots=True)
class Published:
    """One kept version and where it is in the registry."""

    version: int  # the history file's N
    registry_version: int  # Glue's VersionNumber
    version_id: str  # Glue's SchemaVersionId: what Glue-framed records carry
    new: bool  # registered by this run


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="register schemas/history in the stage's Glue Schema Registry (idempotent)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_stage_arguments(parser, "names the registry")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, schema_dir: Path | None = None) -> int:
    from sensorflow.cli.operator import aws_session

    check_stage(args.stage)
    versions = checked_history(schema_dir)
    session = aws_session(args.region)
    outputs = read_outputs(session.client("cloudformation"), args.stage)
    registry = require_output(
        outputs,
        REGISTRY_OUTPUT,
        args.stage,
        f"deploy this serverless.yml first (npx sls deploy --stage {args.stage})",
    )
    published = publish(session.client("glue"), registry, versions)
    for p in published:
        what = "registered" if p.new else "already registered"
        sys.stdout.write(
            f"{SCHEMA_NAME} v{p.version}: {what} as version {p.registry_version} ({p.version_id})\n"
        )
    new = sum(p.new for p in published)
    sys.stdout.write(f"registry {registry}: {len(published)} version(s), {new} new\n")
    return 0


def checked_history(schema_dir: Path | None = None) -> tuple[schemas.SchemaVersion, ...]:
    """The kept versions of the reading schema, oldest first, once ``sensorflow schemas check`` passes on
    every history (each version BACKWARD compatible with its predecessor, the newest the current schema);
    ``UsageError`` naming each version and field otherwise."""
    from sensorflow.cli.schema_history import check_history

    _, problems = check_history(schema_dir)
    if problems:
        raise UsageError("schemas check failed, nothing published: " + "; ".join(problems))
    try:
        versions = schemas.history(SCHEMA_NAME, schema_dir)
    except ConfigError as exc:
        raise UsageError(f"schema history: {exc}") from None
    if not versions:
        root = (schema_dir or schemas.SCHEMA_DIR) / schemas.HISTORY
        raise UsageError(f"no versions of {SCHEMA_NAME} in {root}")
    return versions


def publish(
    glue: Any,
    registry: str,
    versions: Sequence[schemas.SchemaVersion],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Published]:
    """Register ``versions`` (already checked against each other) in order; return where each one is."""
    schema_id = {"RegistryName": registry, "SchemaName": SCHEMA_NAME}
    with aws_errors(f"publish {SCHEMA_NAME} to Glue registry {registry}"):
        _require_registry(glue, registry)
        out: list[Published] = []
        exists = _schema_exists(glue, schema_id)
        for v in versions:
            definition = json.dumps(v.schema)
            if not exists:
                created = glue.create_schema(
                    RegistryId={"RegistryName": registry},
                    SchemaName=SCHEMA_NAME,
                    DataFormat="AVRO",
                    Compatibility=COMPATIBILITY,
                    SchemaDefinition=definition,
                    Description=DESCRIPTION,
                )
                exists = True
                version_id = str(created["SchemaVersionId"])
                out.append(Published(v.version, _available(glue, version_id, sleep, clock), version_id, True))
                continue
            found = _find(glue, schema_id, definition)
            if found is not None:
                out.append(Published(v.version, found[1], found[0], False))
                continue
            latest = glue.get_schema_version(SchemaId=schema_id, SchemaVersionNumber={"LatestVersion": True})
            _refuse_incompatible(
                v.schema,
                json.loads(latest["SchemaDefinition"]),
                f"v{v.version}",
                f"the registry's latest version {latest['VersionNumber']}",
            )
            registered = glue.register_schema_version(SchemaId=schema_id, SchemaDefinition=definition)
            version_id = str(registered["SchemaVersionId"])
            out.append(Published(v.version, _available(glue, version_id, sleep, clock), version_id, True))
    return out


def _refuse_incompatible(reader: Any, writer: Any, reader_label: str, writer_label: str) -> None:
    try:
        found = compatibility.problems(reader, writer)
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{SCHEMA_NAME} {reader_label} cannot be checked against {writer_label}: {exc}"
        ) from None
    if found:
        raise UsageError(
            f"{SCHEMA_NAME} {reader_label} is not {COMPATIBILITY} compatible with {writer_label} "
            f"(nothing published): {'; '.join(found)}"
        )


def _code(exc: Exception) -> str:
    from botocore.exceptions import ClientError

    return str(exc.response.get("Error", {}).get("Code", "")) if isinstance(exc, ClientError) else ""


def _require_registry(glue: Any, registry: str) -> None:
    try:
        glue.get_registry(RegistryId={"RegistryName": registry})
    except Exception as exc:
        if _code(exc) == "EntityNotFoundException":
            raise UsageError(
                f"Glue registry {registry} does not exist: deploy the stack with this serverless.yml first"
            ) from None
        raise


def _schema_exists(glue: Any, schema_id: dict[str, str]) -> bool:
    try:
        glue.get_schema(SchemaId=schema_id)
    except Exception as exc:
        if _code(exc) == "EntityNotFoundException":
            return False
        raise
    return True


def _find(glue: Any, schema_id: dict[str, str], definition: str) -> tuple[str, int] | None:
    """``(SchemaVersionId, VersionNumber)`` of the version with exactly ``definition``, if registered."""
    try:
        found = glue.get_schema_by_definition(SchemaId=schema_id, SchemaDefinition=definition)
    except Exception as exc:
        if _code(exc) == "EntityNotFoundException":
            return None
        raise
    version = glue.get_schema_version(SchemaVersionId=found["SchemaVersionId"])
    return str(found["SchemaVersionId"]), int(version["VersionNumber"])


def _available(glue: Any, version_id: str, sleep: Callable[[float], None], clock: Callable[[], float]) -> int:
    """Wait for a new version's compatibility check; its VersionNumber once AVAILABLE."""
    deadline = clock() + AVAILABLE_TIMEOUT_S
    while True:
        version = glue.get_schema_version(SchemaVersionId=version_id)
        status = version.get("Status", "AVAILABLE")
        if status == "AVAILABLE":
            return int(version["VersionNumber"])
        if status != "PENDING":
            raise UsageError(
                f"Glue refused {SCHEMA_NAME} version {version.get('VersionNumber')} ({version_id}): "
                f"status {status} (not {COMPATIBILITY} compatible with the registered versions?)"
            )
        if clock() > deadline:
            raise UsageError(
                f"Glue version {version_id} still PENDING after {AVAILABLE_TIMEOUT_S:.0f}s; run again"
            )
        sleep(POLL_INTERVAL_S)
