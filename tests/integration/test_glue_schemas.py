"""Writer schemas from the Glue Schema Registry under moto: the lookup cache, its errors, and ``sensorflow
schemas publish``.

Glue calls are counted with botocore's event system (``before-call.glue.<Operation>``); outages are
injected with a ``before-send`` handler that answers as Glue does (HTTP 500 ``InternalServiceException``,
HTTP 400 ``ThrottlingException``), so botocore's own retry logic runs before the adapter sees the error.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import uuid
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import fastavro
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from moto import mock_aws

from sensorflow.adapters.confluent_schemas import ConfluentSchemaIds
from sensorflow.adapters.glue_schemas import GlueSchemaVersions
from sensorflow.adapters.writer_schemas import RegistryWriterSchemas
from sensorflow.cli import schemas_publish_command as publish_command
from sensorflow.cli.errors import UsageError
from sensorflow.core import schemas
from sensorflow.core.errors import ConfigError, TransientError, UnknownSchemaError

REGION = "us-east-1"
STAGE = "test"
REGISTRY = f"sensorflow-{STAGE}"
SCHEMA = schemas.READING
# One retry (botocore's max_attempts counts retries): its backoff sleeps for real, up to a second or so.
RETRIES = Config(retries={"mode": "standard", "max_attempts": 1})


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Calls:
    """Glue operations as botocore sends them (one per attempt: ``before-send`` fires for retries too), on a
    client or on every client of a session."""

    def __init__(self, glue: Any) -> None:
        self.names: list[str] = []
        events = glue.events if isinstance(glue, boto3.session.Session) else glue.meta.events
        events.register("before-send.glue.*", self._record)

    def _record(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        self.names.append((target.decode() if isinstance(target, bytes) else target).rpartition(".")[2])

    def count(self, operation: str) -> int:
        return self.names.count(operation)


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


def glue_answers(status: int, code: str) -> Any:
    """A ``before-send`` handler: every request is answered with Glue's JSON error ``code``."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, status, headers, _Body(body))

    return answer


@pytest.fixture
def glue() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("glue", region_name=REGION, config=RETRIES)
        client.create_registry(RegistryName=REGISTRY)
        yield client


@pytest.fixture
def published(glue: Any) -> list[publish_command.Published]:
    return publish_command.publish(glue, REGISTRY, publish_command.checked_history())


def reading_v1() -> dict[str, Any]:
    return {
        "device_id": "dev-000001",
        "sensor_type": "temperature",
        "value": 21.5,
        "unit": "C",
        "timestamp": 1_767_225_600_000,
        "seq": 7,
        "battery_pct": None,
        "firmware": "1.0.3",
    }


# --- GetSchemaVersion and its cache ------------------------------------------------------------------


def test_one_get_schema_version_per_id_per_container(glue: Any, published: list[Any]):
    # GIVEN the two published versions and a fresh container's lookup
    versions = GlueSchemaVersions(REGISTRY, glue)
    calls = Calls(glue)
    v1, v2 = (uuid.UUID(p.version_id) for p in published)
    # WHEN records name v1 three times and v2 twice
    got = [versions.get(v) for v in (v1, v2, v1, v1, v2)]
    # THEN Glue is asked once per id, and each answer is the version's parsed definition
    assert calls.count("GetSchemaVersion") == 2
    history = schemas.history()
    assert got[0] == fastavro.parse_schema(history[0].schema)
    assert got[1] == fastavro.parse_schema(history[1].schema)
    assert got[2] is got[0] and got[4] is got[1]


def test_a_v1_record_decodes_with_the_schema_glue_returns(glue: Any, published: list[Any]):
    # GIVEN a body written with v1, as a v1 producer writes it
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schemas.history()[0].schema), reading_v1())
    writer = GlueSchemaVersions(REGISTRY, glue).get(uuid.UUID(published[0].version_id))
    # WHEN it is read with the writer schema from Glue and the current reader schema
    decoded = fastavro.schemaless_reader(io.BytesIO(body.getvalue()), writer, schemas.load(SCHEMA))
    # THEN v2's fields take their defaults
    assert decoded["device_id"] == "dev-000001"
    assert decoded["firmware_generation"] == 1 and decoded["battery_mv"] is None


def test_an_unknown_id_is_permanent_and_asked_again_only_after_the_ttl(glue: Any, published: list[Any]):
    clock = Clock()
    versions = GlueSchemaVersions(REGISTRY, glue, negative_ttl_s=60.0, clock=clock)
    calls = Calls(glue)
    unknown = uuid.UUID("0f0e0d0c-0b0a-4908-8706-050403020100")
    # WHEN a stream repeats an id Glue does not know, within the TTL
    for _ in range(5):
        with pytest.raises(UnknownSchemaError, match="EntityNotFoundException"):
            versions.get(unknown)
        clock.now += 11.0
    # THEN Glue was asked once for the five records
    assert calls.count("GetSchemaVersion") == 1
    # WHEN the TTL has run out
    clock.now += 10.0
    with pytest.raises(UnknownSchemaError):
        versions.get(unknown)
    # THEN it is asked again, once
    assert calls.count("GetSchemaVersion") == 2


def test_a_deleted_version_is_unknown_and_does_not_hide_the_others(glue: Any, published: list[Any]):
    # GIVEN a version that was registered, then deleted with its schema
    created = glue.create_schema(
        RegistryId={"RegistryName": REGISTRY},
        SchemaName="retired",
        DataFormat="AVRO",
        Compatibility="BACKWARD",
        SchemaDefinition=json.dumps({"type": "record", "name": "Retired", "fields": []}),
    )
    glue.delete_schema(SchemaId={"RegistryName": REGISTRY, "SchemaName": "retired"})
    versions = GlueSchemaVersions(REGISTRY, glue)
    # WHEN records name it, then v1
    with pytest.raises(UnknownSchemaError, match="EntityNotFoundException"):
        versions.get(uuid.UUID(created["SchemaVersionId"]))
    # THEN it is unknown, and v1 still resolves: a negative entry is per id
    assert versions.get(uuid.UUID(published[0].version_id)) == fastavro.parse_schema(
        schemas.history()[0].schema
    )


@pytest.mark.parametrize(
    ("status", "code"), [(500, "InternalServiceException"), (400, "ThrottlingException")]
)
def test_an_outage_is_transient_and_not_remembered(glue: Any, published: list[Any], status: int, code: str):
    versions = GlueSchemaVersions(REGISTRY, glue)
    v1 = uuid.UUID(published[0].version_id)
    calls = Calls(glue)
    outage = glue_answers(status, code)
    glue.meta.events.register_first("before-send.glue.GetSchemaVersion", outage)
    # WHEN Glue fails every attempt
    with pytest.raises(TransientError, match=code):
        versions.get(v1)
    # THEN botocore retried (one retry: two sends) and the adapter reports an outage, not an unknown schema
    assert calls.count("GetSchemaVersion") == 2
    # WHEN Glue is back, the next record's lookup succeeds: the failure was not cached
    glue.meta.events.unregister("before-send.glue.GetSchemaVersion", outage)
    assert versions.get(v1) == fastavro.parse_schema(schemas.history()[0].schema)


def test_a_denied_lookup_is_permanent(glue: Any, published: list[Any]):
    # On AWS a version id of another registry is denied: the ingest role reads this registry only.
    versions = GlueSchemaVersions(REGISTRY, glue)
    glue.meta.events.register_first(
        "before-send.glue.GetSchemaVersion", glue_answers(400, "AccessDeniedException")
    )
    with pytest.raises(UnknownSchemaError, match="AccessDeniedException"):
        versions.get(uuid.UUID(published[0].version_id))


def test_a_version_of_another_registry_is_unknown(glue: Any, published: list[Any]):
    # moto (like an over-broad policy) answers for any registry in the account: the adapter checks the ARN.
    versions = GlueSchemaVersions("sensorflow-other", glue)
    with pytest.raises(UnknownSchemaError, match=f"belongs to registry '{REGISTRY}'"):
        versions.get(uuid.UUID(published[0].version_id))


def test_a_definition_that_is_not_avro_is_unknown(glue: Any):
    created = glue.create_schema(
        RegistryId={"RegistryName": REGISTRY},
        SchemaName="json-thing",
        DataFormat="JSON",
        Compatibility="NONE",
        SchemaDefinition=json.dumps({"type": "object"}),
    )
    with pytest.raises(UnknownSchemaError, match="JSON, not AVRO"):
        GlueSchemaVersions(REGISTRY, glue).get(uuid.UUID(created["SchemaVersionId"]))


def test_without_a_registry_glue_framed_records_are_unknown(tmp_path: Path):
    ids = ConfluentSchemaIds(schemas.SCHEMA_DIR / "confluent-ids.json")
    with pytest.raises(UnknownSchemaError, match="no Glue schema registry"):
        RegistryWriterSchemas(None, ids).glue(uuid.uuid4())


# --- the Confluent id map ----------------------------------------------------------------------------------


def test_the_shipped_confluent_map_resolves_every_id_to_its_history_version():
    ids = ConfluentSchemaIds(schemas.SCHEMA_DIR / "confluent-ids.json")
    history = schemas.history()
    assert ids.ids() == [1, 2]
    assert ids.get(1) == fastavro.parse_schema(history[0].schema)
    assert ids.get(2) == fastavro.parse_schema(history[1].schema)
    with pytest.raises(UnknownSchemaError, match=r"Confluent schema id 3 is not in confluent-ids\.json"):
        ids.get(3)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"ids": {"x": {"schema": SCHEMA, "version": 1}}}, "id 'x' is not an integer"),
        ({"ids": {"4294967296": {"schema": SCHEMA, "version": 1}}}, "is not an integer from 0"),
        ({"ids": {"1": "v1.avsc"}}, 'id 1: expected {"schema"'),
        ({"ids": {"1": {"schema": SCHEMA, "version": 9}}}, "has no version 9"),
        ({"ids": {"1": {"schema": SCHEMA, "version": True}}}, 'id 1: expected {"schema"'),
        ({"1": {"schema": SCHEMA, "version": 1}}, 'expected {"ids"'),
    ],
)
def test_a_broken_confluent_map_fails_at_start_naming_the_entry(tmp_path: Path, document: Any, message: str):
    mapping = tmp_path / "ids.json"
    mapping.write_text(json.dumps(document))
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("(", r"\(")):
        ConfluentSchemaIds(mapping)


# --- sensorflow schemas publish ----------------------------------------------------------------------------


def stage_stack(cloudformation: Any) -> None:
    """Stack ``sensorflow-test`` with the output the command reads (moto's CloudFormation creates no
    ``AWS::Glue::Registry``: the ``glue`` fixture made it)."""
    template = {
        "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "placeholder"}}},
        "Outputs": {"SchemaRegistryName": {"Value": REGISTRY}},
    }
    cloudformation.create_stack(StackName=f"sensorflow-{STAGE}", TemplateBody=json.dumps(template))


def run_publish(schema_dir: Path | None = None) -> str:
    args = argparse.Namespace(stage=STAGE, region=REGION)
    out = io.StringIO()
    with redirect_stdout(out):
        assert publish_command.run(args, schema_dir) == 0
    return out.getvalue()


def registered_versions(glue: Any) -> list[int]:
    """Version numbers of the reading schema in the registry (moto has no ListSchemaVersions)."""
    schema_id = {"RegistryName": REGISTRY, "SchemaName": SCHEMA}
    latest = glue.get_schema_version(SchemaId=schema_id, SchemaVersionNumber={"LatestVersion": True})
    return list(range(1, int(latest["VersionNumber"]) + 1))


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> boto3.session.Session:
    """The session the command makes its clients from (``cli.operator.aws_session``)."""
    from sensorflow.cli import operator
    from sensorflow.cli.main import build_parser

    # Import every command first: one that does `from ...operator import aws_session` while the patch is
    # on would keep the patched function after the test.
    build_parser()
    made = boto3.session.Session(region_name=REGION)
    monkeypatch.setattr(operator, "aws_session", lambda region: made)
    return made


def test_publish_registers_the_history_in_order_and_a_second_run_registers_nothing(
    glue: Any, session: boto3.session.Session
):
    stage_stack(boto3.client("cloudformation", region_name=REGION))
    calls = Calls(session)
    # WHEN publish runs on an empty registry, then again
    first = run_publish()
    second = run_publish()
    # THEN the first registers v1 then v2 as versions 1 and 2, the second finds both and registers none
    assert (
        f"{SCHEMA} v1: registered as version 1" in first and f"{SCHEMA} v2: registered as version 2" in first
    )
    assert first.endswith(f"registry {REGISTRY}: 2 version(s), 2 new\n")
    assert f"{SCHEMA} v1: already registered as version 1" in second
    assert second.endswith(f"registry {REGISTRY}: 2 version(s), 0 new\n")
    assert registered_versions(glue) == [1, 2]
    assert calls.count("CreateSchema") == 1 and calls.count("RegisterSchemaVersion") == 1
    # AND the registered definitions are the history files' JSON
    schema = glue.get_schema(SchemaId={"RegistryName": REGISTRY, "SchemaName": SCHEMA})
    assert schema["Compatibility"] == "BACKWARD" and schema["DataFormat"] == "AVRO"
    for v in schemas.history():
        found = glue.get_schema_by_definition(
            SchemaId={"RegistryName": REGISTRY, "SchemaName": SCHEMA}, SchemaDefinition=json.dumps(v.schema)
        )
        assert found["Status"] == "AVAILABLE"


def incompatible_history(tmp_path: Path) -> Path:
    """schemas/ with the real v1 and v2 and a v3 that adds a field without a default."""
    directory = tmp_path / "schemas" / schemas.HISTORY / SCHEMA
    directory.mkdir(parents=True)
    for v in schemas.history():
        shutil.copy(v.path, directory / v.path.name)
    v3 = schemas.history()[-1].schema
    v3["fields"].append({"name": "humidity_raw", "type": "int"})
    (directory / "v3.avsc").write_text(json.dumps(v3, indent=2))
    return tmp_path / "schemas"


def test_publish_refuses_an_incompatible_history_before_registering_anything(glue: Any, tmp_path: Path):
    stage_stack(boto3.client("cloudformation", region_name=REGION))
    with pytest.raises(UsageError) as refused:
        run_publish(incompatible_history(tmp_path))
    assert str(refused.value) == (
        f"schemas check failed, nothing published: {SCHEMA} v3 cannot read data written with v2: "
        "SensorReading.humidity_raw: field 'humidity_raw' is new without a default; "
        "data written before cannot fill it"
    )
    with pytest.raises(glue.exceptions.EntityNotFoundException):
        glue.get_schema(SchemaId={"RegistryName": REGISTRY, "SchemaName": SCHEMA})


def test_publish_refuses_a_version_incompatible_with_the_registrys_latest(glue: Any):
    # GIVEN a registry whose latest version was registered by someone else and changes battery_mv's type
    history = schemas.history()
    publish_command.publish(glue, REGISTRY, history[:1])
    theirs = history[1].schema
    next(f for f in theirs["fields"] if f["name"] == "battery_mv")["type"] = "string"
    glue.register_schema_version(
        SchemaId={"RegistryName": REGISTRY, "SchemaName": SCHEMA}, SchemaDefinition=json.dumps(theirs)
    )
    # WHEN our v2 is published THEN it is refused (moto would register it: it enforces no compatibility)
    with pytest.raises(
        UsageError, match=r"v2 is not BACKWARD compatible with the registry's latest version 2"
    ):
        publish_command.publish(glue, REGISTRY, history)
    assert registered_versions(glue) == [1, 2]


def test_publish_names_the_missing_registry(glue: Any):
    glue.delete_registry(RegistryId={"RegistryName": REGISTRY})
    with pytest.raises(UsageError, match=f"Glue registry {REGISTRY} does not exist"):
        publish_command.publish(glue, REGISTRY, schemas.history())


def test_publish_without_the_stack_output_says_what_to_deploy(glue: Any):
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}}}
        ),
    )
    with pytest.raises(UsageError, match=r"has no output SchemaRegistryName; deploy this serverless\.yml"):
        run_publish()


def test_the_cli_reports_a_missing_stack_in_one_line_then_publishes(
    glue: Any, session: boto3.session.Session, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from sensorflow.cli.main import main

    # GIVEN no stack yet WHEN `sensorflow schemas publish` runs THEN one line says what to deploy (exit 2)
    assert main(["schemas", "publish", "--stage", STAGE, "--region", REGION]) == 2
    assert capsys.readouterr().err == (
        f"sensorflow schemas: error: stack sensorflow-{STAGE} not found in this region; deploy it "
        f"(npx sls deploy --stage {STAGE}) or check --stage, --region and AWS_ENDPOINT_URL\n"
    )
    # GIVEN the stack WHEN it runs THEN both versions are registered (exit 0)
    stage_stack(session.client("cloudformation"))
    assert main(["schemas", "publish", "--stage", STAGE]) == 0
    assert capsys.readouterr().out.endswith(f"registry {REGISTRY}: 2 version(s), 2 new\n")
