"""``core.ports.WriterSchemas`` as the ingest function has it: Glue-framed records resolve through the
stage's Glue registry (``glue_schemas``), Confluent-framed ones through the shipped id map
(``confluent_schemas``)."""

from __future__ import annotations

import uuid
from typing import Any

from sensorflow.adapters.confluent_schemas import ConfluentSchemaIds
from sensorflow.adapters.glue_schemas import GlueSchemaVersions
from sensorflow.core.errors import UnknownSchemaError


class RegistryWriterSchemas:
    def __init__(self, glue: GlueSchemaVersions | None, confluent: ConfluentSchemaIds) -> None:
        self._glue = glue
        self._confluent = confluent

    def glue(self, version_id: uuid.UUID) -> Any:
        if self._glue is None:  # a stack without a registry (SCHEMA_REGISTRY_NAME unset)
            raise UnknownSchemaError(
                f"schema version {version_id}: this function has no Glue schema registry"
            )
        return self._glue.get(version_id)

    def confluent(self, schema_id: int) -> Any:
        return self._confluent.get(schema_id)
