"""Writer schemas of Glue-framed records: ``GetSchemaVersion`` by the record's schema version id.

A version's definition never changes once registered, so a found one is kept for the container's life
(one ``GetSchemaVersion`` per id per container). An id Glue does not know is remembered for
``negative_ttl_s`` only: a stream full of one bad id costs one call per TTL, not one per record, and a
version registered meanwhile is seen once the TTL has run out. Both caches are bounded.

Errors, as the decoder needs them (``core.errors``):

- ``UnknownSchemaError`` (permanent: the record is quarantined) for an id Glue does not have
  (``EntityNotFoundException``), one of another registry, a definition that is not Avro or does not
  parse, a version whose registration failed or is being deleted, and ``AccessDeniedException``: the
  ingest role may read this stage's registry only (serverless.yml, ``ReadWriterSchemas``), so a denial
  is what a version id of another registry gets on AWS. Quarantined records keep their bytes and can
  be replayed; a stalled shard keeps nothing moving.
- ``TransientError`` (the batch is retried from that record) for throttling, Glue's 5xx, timeouts and
  connection failures, after botocore's own retries (``clients.RETRY_CONFIG``), and for a version still
  ``PENDING`` its compatibility check.

Source: docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaVersion.html (errors: AccessDeniedException,
EntityNotFoundException, InternalServiceException, InvalidInputException).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import fastavro
from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.adapters import clients
from sensorflow.core.errors import TransientError, UnknownSchemaError

DEFAULT_NEGATIVE_TTL_S = 60.0
# Far above any real registry's version count; an attacker's stream of random ids only churns the
# negative side, which is cleared when it reaches its bound.
MAX_CACHED_VERSIONS = 10_000
MAX_CACHED_UNKNOWN = 10_000

# Errors that say the id will not resolve, however often it is asked for.
PERMANENT_CODES = frozenset({"EntityNotFoundException", "InvalidInputException", "AccessDeniedException"})
# SchemaVersionStatus: AVAILABLE | PENDING | FAILURE | DELETING
# (docs.aws.amazon.com/glue/latest/dg/aws-glue-api-schema-registry-api.html). PENDING resolves by itself.
AVAILABLE, PENDING = "AVAILABLE", "PENDING"


class GlueSchemaVersions:
    """``WriterSchemas.glue``: the parsed writer schema of a Glue schema version id, cached."""

    def __init__(
        self,
        registry_name: str,
        client: Any = None,
        negative_ttl_s: float = DEFAULT_NEGATIVE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry_name = registry_name
        self._client = client
        self._negative_ttl_s = negative_ttl_s
        self._clock = clock
        self._found: dict[uuid.UUID, Any] = {}
        self._unknown: dict[uuid.UUID, tuple[float, str]] = {}  # id -> (expires at, why)

    client = clients.lazy_client("glue")

    def get(self, version_id: uuid.UUID) -> Any:
        """The parsed writer schema; ``UnknownSchemaError`` or ``TransientError`` as above."""
        found = self._found.get(version_id)
        if found is not None:
            return found
        now = self._clock()
        unknown = self._unknown.get(version_id)
        if unknown is not None and unknown[0] > now:
            raise UnknownSchemaError(unknown[1])
        try:
            schema = self._fetch(version_id)
        except UnknownSchemaError as exc:
            if len(self._unknown) >= MAX_CACHED_UNKNOWN:
                self._unknown.clear()
            self._unknown[version_id] = (now + self._negative_ttl_s, str(exc))
            raise
        self._unknown.pop(version_id, None)
        if len(self._found) >= MAX_CACHED_VERSIONS:
            self._found.clear()
        self._found[version_id] = schema
        return schema

    def _fetch(self, version_id: uuid.UUID) -> Any:
        try:
            response = self.client.get_schema_version(SchemaVersionId=str(version_id))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Unknown")
            if code in PERMANENT_CODES:
                raise UnknownSchemaError(
                    f"schema version {version_id}: glue:GetSchemaVersion {code}"
                ) from exc
            raise TransientError(f"glue:GetSchemaVersion {version_id} failed: {code}") from exc
        except BotoCoreError as exc:
            raise TransientError(f"glue:GetSchemaVersion {version_id} failed: {type(exc).__name__}") from exc
        return self._parse(version_id, response)

    def _parse(self, version_id: uuid.UUID, response: dict[str, Any]) -> Any:
        status = response.get("Status", AVAILABLE)
        if status == PENDING:
            raise TransientError(f"schema version {version_id} is PENDING its compatibility check")
        if status != AVAILABLE:
            raise UnknownSchemaError(f"schema version {version_id} is {status}")
        registry = _registry_of(response.get("SchemaArn", ""))
        if registry != self.registry_name:
            raise UnknownSchemaError(
                f"schema version {version_id} belongs to registry {registry!r}, not {self.registry_name!r}"
            )
        if response.get("DataFormat") != "AVRO":
            raise UnknownSchemaError(f"schema version {version_id} is {response.get('DataFormat')}, not AVRO")
        try:
            return fastavro.parse_schema(json.loads(response["SchemaDefinition"]))
        # RecursionError: a definition nested past the interpreter's limit (json.loads); permanent too
        except (KeyError, ValueError, TypeError, RecursionError, fastavro.schema.SchemaParseException) as exc:
            raise UnknownSchemaError(
                f"schema version {version_id}: definition is not Avro ({type(exc).__name__}: {exc})"
            ) from exc


def _registry_of(schema_arn: str) -> str:
    """``arn:aws:glue:<region>:<account>:schema/<registry>/<schema>`` -> ``<registry>`` ('' if not one)."""
    resource = schema_arn.split(":", 5)[-1] if schema_arn.count(":") >= 5 else ""
    parts = resource.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "schema" else ""
