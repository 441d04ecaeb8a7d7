"""What each simulated device's firmware puts on the wire: its framing and its schema version.

A run's devices share the formats it is given (``SimConfig.formats``), one per device, in fleet order
(device *i* uses ``formats[i % len(formats)]``), and the schema versions (``SimConfig.schema_versions``,
the device's "firmware generation") the same way over the devices of one format. So a mix is spread
evenly and depends on nothing random: adding a format changes no reading, only its bytes.

The formats, as the ingest function reads them (``sensorflow.core.framing``, ``sensorflow.core.kpl``):

- ``raw``: schemaless Avro. Raw bytes name no schema, so a raw device writes the stage's raw writer
  version (``SimConfig.raw_schema_version``, ingest's ``RAW_WRITER_SCHEMA_VERSION``), whatever the mix.
- ``glue`` / ``glue-zlib``: the AWS Glue Schema Registry header (``0x03``, compression ``0x00`` or
  ``0x05`` with the body zlib-compressed, the 16-byte schema version UUID), then the body in the device's
  version. Version ids are assigned by the registry when ``sensorflow schemas publish`` registers them:
  a run given none (a dry run without ``--registry``) uses ``placeholder_glue_ids()``, uuid5 ids that no
  registry holds, so the bytes are reproducible but quarantine as ``glue_unknown_schema`` if published.
- ``confluent``: ``0x00``, the 4-byte big-endian schema id of ``schemas/confluent-ids.json`` for the
  device's version, then the body.
- ``kpl``: the Kinesis Producer Library's aggregation of raw records (raw writer version): the records a
  device sends at one reporting tick (its readings, and any malformed twin, late or ghost reading that
  goes with them) become the sub-records of one aggregated Kinesis record. Each ``SimRecord`` stays one
  reading, its ``data`` the sub-record's bytes and ``truth["aggregate"]`` naming the Kinesis record it is
  part of; ``kinesis_records`` builds those records (``core.kpl.aggregate``, deterministic).

Malformed twins, producer duplicates and unknown devices' readings keep the bytes they always had
(unframed raw corruption, the original's bytes, a raw reading): their expected outcome does not depend on
the device's format. Inside a KPL aggregate they are sub-records like the others.
"""

from __future__ import annotations

import io
import json
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_writer

from sensorflow.core import kpl, schemas
from sensorflow.core.framing import (
    CONFLUENT_MAGIC,
    GLUE_COMPRESSION_NONE,
    GLUE_COMPRESSION_ZLIB,
    GLUE_HEADER_VERSION,
)
from sensorflow.simulate.errors import SimulationError

RAW, GLUE, GLUE_ZLIB, CONFLUENT, KPL = "raw", "glue", "glue-zlib", "confluent", "kpl"
FORMATS = (RAW, GLUE, GLUE_ZLIB, CONFLUENT, KPL)
# Formats whose bytes name their writer schema; the others carry the raw writer version.
SELF_DESCRIBING = frozenset({GLUE, GLUE_ZLIB, CONFLUENT})
PLACEHOLDER_NAMESPACE = uuid.UUID("5e1f7a2c-0d13-4b0e-9a6f-73656e736f72")  # "sensor" in the node bytes


def parse_formats(text: str, flag: str = "--format") -> tuple[str, ...]:
    """``raw``, or a comma list of formats (a mix, one per device, in the order given)."""
    words = tuple(w.strip() for w in text.split(",") if w.strip())
    unknown = [w for w in words if w not in FORMATS]
    if unknown or not words:
        raise SimulationError(
            f"{flag} {text!r}: expected one of {', '.join(FORMATS)} or a comma list of them"
        )
    return tuple(dict.fromkeys(words))


def parse_versions(text: str, flag: str = "--schema-versions", most: int | None = None) -> tuple[int, ...]:
    """A comma list of schema version numbers (``1,2``); each must be in ``schemas/history``."""
    known = history_versions()
    try:
        versions = tuple(dict.fromkeys(int(w.strip().lower().removeprefix("v")) for w in text.split(",")))
    except ValueError:
        versions = ()
    bad = [v for v in versions if v not in known]
    if not versions or bad or (most is not None and len(versions) > most):
        raise SimulationError(
            f"{flag} {text!r}: expected {'a comma list of' if most is None else 'one of'} the kept versions "
            f"{','.join(map(str, known))} of {schemas.READING}"
        )
    return versions


def history_versions() -> tuple[int, ...]:
    return tuple(v.version for v in schemas.history(schemas.READING))


def current_version() -> int:
    return history_versions()[-1]


def placeholder_glue_ids() -> dict[int, uuid.UUID]:
    """Stand-in Glue schema version ids for runs without a registry: ``uuid5`` of the schema and version."""
    return {v: uuid.uuid5(PLACEHOLDER_NAMESPACE, f"{schemas.READING}/v{v}") for v in history_versions()}


def confluent_ids(path: Any = None) -> dict[int, int]:
    """Version -> Confluent schema id, from ``schemas/confluent-ids.json`` (the lowest id of a version)."""
    from sensorflow.config import DEFAULT_CONFLUENT_IDS_FILE

    document = json.loads((path or DEFAULT_CONFLUENT_IDS_FILE).read_text(encoding="utf-8"))
    out: dict[int, int] = {}
    for key, entry in sorted(document["ids"].items(), key=lambda kv: int(kv[0])):
        if entry["schema"] == schemas.READING:
            out.setdefault(int(entry["version"]), int(key))
    return out


def registry_glue_ids(glue: Any, registry_name: str) -> dict[int, uuid.UUID]:
    """The version ids the stage's registry assigned to each kept version (what ``sensorflow schemas
    publish`` registered), looked up as the Glue serializer does: ``GetSchemaByDefinition``."""
    out: dict[int, uuid.UUID] = {}
    for v in schemas.history(schemas.READING):
        try:
            # The text publish registers (the file's JSON re-serialised, what the Glue serializer sends):
            # moto compares definitions as text.
            found = glue.get_schema_by_definition(
                SchemaId={"RegistryName": registry_name, "SchemaName": v.full_name},
                SchemaDefinition=json.dumps(v.schema),
            )
        except Exception as exc:  # boto3 raises ClientError and its modeled subclasses
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise SimulationError(
                f"registry {registry_name}: {v.full_name} v{v.version} is not registered ({code}); "
                "run `sensorflow schemas publish --stage STAGE` first"
            ) from exc
        out[v.version] = uuid.UUID(found["SchemaVersionId"])
    return out


@dataclass(frozen=True, slots=True)
class Firmware:
    """How one device writes a reading: its format and the schema version of its bodies."""

    format: str
    version: int
    schema: Any  # the parsed writer schema of ``version``
    header: bytes  # the Glue or Confluent header ('' for raw and kpl)

    def encode(self, reading: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        schemaless_writer(buf, self.schema, reading)
        body = buf.getvalue()
        if self.format == GLUE_ZLIB:
            return self.header + zlib.compress(body)
        return self.header + body


def firmware(
    fmt: str,
    version: int,
    glue_ids: Mapping[int, uuid.UUID],
    confluent: Mapping[int, int],
) -> Firmware:
    schema = schemas.version(version)
    if fmt in (GLUE, GLUE_ZLIB):
        compression = GLUE_COMPRESSION_ZLIB if fmt == GLUE_ZLIB else GLUE_COMPRESSION_NONE
        header = bytes([GLUE_HEADER_VERSION, compression]) + glue_ids[version].bytes
    elif fmt == CONFLUENT:
        header = bytes([CONFLUENT_MAGIC]) + confluent[version].to_bytes(4, "big")
    else:
        header = b""
    return Firmware(fmt, version, schema, header)


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One Kinesis record: its partition key, exact data, and the simulated readings it carries (one, or a
    KPL aggregate's sub-records in order)."""

    partition_key: str
    data: bytes
    readings: tuple[Any, ...]  # SimRecord


def kinesis_records(records: Iterable[Any]) -> Iterator[WireRecord]:
    """The Kinesis records of a run's ``SimRecord``s, in order: consecutive readings of one KPL aggregate
    (``truth["aggregate"]``) become one aggregated record keyed by its first reading's partition key."""
    group: list[Any] = []
    for record in records:
        aggregate = record.truth.get("aggregate")
        if group and aggregate != group[0].truth.get("aggregate"):
            yield _wire(group)
            group = []
        if aggregate is None:
            yield WireRecord(record.partition_key, record.data, (record,))
        else:
            group.append(record)
    if group:
        yield _wire(group)


def _wire(group: list[Any]) -> WireRecord:
    data = kpl.aggregate([(r.partition_key, r.data) for r in group])
    return WireRecord(group[0].partition_key, data, tuple(group))
