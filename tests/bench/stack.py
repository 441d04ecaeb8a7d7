"""The deployed ``ingest`` function, rebuilt over in-memory clients: the real handler, the real service.

Everything comes from ``serverless.yml`` rather than from the code under test: the function's
environment (each ``!Ref`` to a resource becomes a ``bench-<Resource>`` name), the key schema and global
secondary indexes of every DynamoDB table it references, its memory size and timeout. The service is
built by ``bootstrap.build_ingest_service(IngestSettings.from_env(env), clients=...)`` and invoked
through ``handlers.ingest.handler`` (decorators included), with ``bootstrap.ingest_service`` returning
it. So the harness follows whatever the state layer becomes, through public entry points only.

Import this module after the Powertools environment is set (``tests.bench.run`` does it first).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sensorflow import bootstrap
from sensorflow.config import IngestSettings
from sensorflow.core import schemas
from tests.bench.aws_fakes import FakeAws, Latency, TableSchema, glue_version_id

ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = ROOT / "serverless.yml"
ACCOUNT = "123456789012"
REGION = "us-east-1"


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    env: dict[str, str]
    schemas: dict[str, TableSchema]  # table name -> keys and indexes
    memory_mb: int
    timeout_s: float
    architecture: str


def _table_schema(props: dict[str, Any]) -> TableSchema:
    keys = tuple(k["AttributeName"] for k in props["KeySchema"])
    indexes = {
        gsi["IndexName"]: (
            tuple(k["AttributeName"] for k in gsi["KeySchema"]),
            gsi.get("Projection", {}).get("ProjectionType", "ALL") == "ALL",
        )
        for gsi in props.get("GlobalSecondaryIndexes", [])
    }
    return TableSchema(keys, indexes)


def deployed_param(name: str, path: Path = SERVERLESS) -> str:
    """A stage parameter's default (``params.default.<name>`` in serverless.yml), as text."""
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    return str(doc["params"]["default"][name])


def function_spec(name: str = "ingest", path: Path = SERVERLESS) -> FunctionSpec:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)
    provider, fn = doc["provider"], doc["functions"][name]
    # `resources` is a list osls merges (resources/monitoring.yml as a ${file()} string, then the stack's own)
    resources = {
        k: v for part in doc["resources"] if isinstance(part, dict) for k, v in part["Resources"].items()
    }
    env: dict[str, str] = {}
    schemas: dict[str, TableSchema] = {}
    for var, value in (fn.get("environment") or {}).items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in resources:
            resource = resources[value["Ref"]]
            physical = f"bench-{value['Ref']}"
            if resource["Type"] == "AWS::DynamoDB::Table":
                schemas[physical] = _table_schema(resource["Properties"])
            elif resource["Type"] == "AWS::SNS::Topic":
                physical = f"arn:aws:sns:{REGION}:{ACCOUNT}:{physical}"
            env[var] = physical
        elif isinstance(value, dict) or (isinstance(value, str) and "${" in value):
            env[var] = f"bench-{var.lower().replace('_', '-')}"
        else:
            env[var] = str(value)
    return FunctionSpec(
        name=name,
        env=env,
        schemas=schemas,
        memory_mb=int(fn.get("memorySize", provider.get("memorySize", 1024))),
        timeout_s=float(fn.get("timeout", provider.get("timeout", 6))),
        architecture=str(fn.get("architecture", provider.get("architecture", "x86_64"))),
    )


class FakeContext:
    """The parts of LambdaContext the handler and Powertools use; the remaining time counts down."""

    function_name = "sensorflow-bench-ingest"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:sensorflow-bench-ingest"
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/sensorflow-bench-ingest"
    log_stream_name = "bench"

    def __init__(self, timeout_s: float, memory_mb: int) -> None:
        self.memory_limit_in_mb = memory_mb
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextlib.contextmanager
def serving(service: Any) -> Iterator[None]:
    """``bootstrap.ingest_service()`` returns ``service`` inside the block (the container's service)."""
    original = bootstrap.ingest_service
    bootstrap.ingest_service = lambda: service  # type: ignore[assignment]
    try:
        yield
    finally:
        bootstrap.ingest_service = original  # type: ignore[assignment]


def publish_schemas(aws: FakeAws, registry_name: str | None) -> dict[int, str]:
    """Register every kept version of the reading schema in the fake registry: version -> version id."""
    if not registry_name:
        return {}
    return {
        v.version: aws.glue.register(registry_name, v.full_name, v.definition, v.version)
        for v in schemas.history(schemas.READING)
    }


def registry_ids(spec: FunctionSpec) -> dict[int, uuid.UUID]:
    """The Glue version ids an ``IngestStack`` of ``spec`` registers, by version (for Glue workloads)."""
    registry = spec.env.get("SCHEMA_REGISTRY_NAME", "")
    return {v.version: glue_version_id(registry, v.full_name, v.definition) for v in schemas.history()}


class IngestStack:
    """One warm container of the ingest function over fresh in-memory AWS."""

    def __init__(self, spec: FunctionSpec, registry: list[dict[str, Any]], latency: Latency | None = None):
        self.spec = spec
        self.aws = FakeAws.build(spec.schemas, latency)
        settings = IngestSettings.from_env(spec.env)
        self.aws.dynamodb.seed(settings.device_table, registry)
        # What `sensorflow schemas publish` registers: every kept version of the reading schema.
        self.glue_versions = publish_schemas(self.aws, settings.schema_registry_name)
        self.service = bootstrap.build_ingest_service(settings, clients=self.aws.clients())
        self.failures = 0  # batchItemFailures returned, over every invoke

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        from handlers.ingest import handler

        with serving(self.service):
            response: dict[str, Any] = handler(
                event,
                FakeContext(self.spec.timeout_s, self.spec.memory_mb),  # type: ignore[arg-type]
            )
        self.failures += len(response.get("batchItemFailures", []))
        return response
