"""A producer using AWS's own Glue Schema Registry serializer (``aws-glue-schema-registry`` on PyPI), with
no sensorflow code on its side, consumed by the ingest handler, all under moto.

The stage's registry holds what ``sensorflow schemas publish`` registered; the producer serializes with the
library's ``KafkaSerializer`` (it finds the published version with ``GetSchemaByDefinition`` and frames the
body with the version's UUID) into a Kinesis stream; the records are read back with ``GetRecords`` and
handed to the handler as the event source mapping would.
"""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from typing import Any

import pytest
from aws_schema_registry import DataAndSchema, KafkaSerializer, SchemaRegistryClient
from aws_schema_registry.avro import AvroSchema
from aws_schema_registry.codec import encode
from aws_schema_registry.naming import record_name_strategy

from handlers.ingest import handler
from sensorflow.cli import schemas_publish_command as publish_command
from sensorflow.core import schemas
from sensorflow.core.records import StreamRecord
from tests.factories import kinesis_event
from tests.integration.conftest import REGION, STAGE, FakeContext, Stack
from tests.integration.test_ingest import read_quarantine, read_readings

REGISTRY = f"sensorflow-{STAGE}"
STREAM = f"sensorflow-{STAGE}-readings"


class Producer:
    """What a device gateway would run: the library's serializer, writing to Kinesis."""

    def __init__(self, glue: Any, kinesis: Any) -> None:
        client = SchemaRegistryClient(glue, registry_name=REGISTRY)
        self.serializer = KafkaSerializer(client, schema_naming_strategy=record_name_strategy)
        self.kinesis = kinesis
        self.versions = {v.version: AvroSchema(v.definition) for v in schemas.history()}

    def frame(self, reading: dict[str, Any], version: int, compress: bool = False) -> bytes:
        framed = self.serializer.serialize(STREAM, DataAndSchema(reading, self.versions[version]))
        if not compress:
            return bytes(framed)
        # The Python serializer never compresses; the library's codec does, as the Java one's ZLIB setting.
        body = self.versions[version].write(reading)
        return bytes(encode(body, uuid.UUID(bytes=framed[2:18]), compression=True))

    def put(self, payloads: list[tuple[str, bytes]]) -> None:
        self.kinesis.put_records(
            StreamName=STREAM, Records=[{"PartitionKey": key, "Data": data} for key, data in payloads]
        )


def consume(kinesis: Any) -> list[StreamRecord]:
    """Every record of the stream's one shard, as the event source mapping hands them over."""
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    out = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [
        StreamRecord(
            shard,
            r["SequenceNumber"],
            r["PartitionKey"],
            r["Data"],
            int(r["ApproximateArrivalTimestamp"].timestamp() * 1000),
        )
        for r in out
    ]


@pytest.fixture
def gateway(lambda_env: Stack, monkeypatch: pytest.MonkeyPatch) -> Producer:
    import boto3

    monkeypatch.setenv("SCHEMA_REGISTRY_NAME", REGISTRY)
    glue = boto3.client("glue", region_name=REGION)
    glue.create_registry(RegistryName=REGISTRY)
    publish_command.publish(glue, REGISTRY, publish_command.checked_history())
    lambda_env.clients["kinesis"].create_stream(StreamName=STREAM, ShardCount=1)
    for i in range(3):
        lambda_env.put_device(f"dev-{i:05d}", site="site-a")
    return Producer(glue, lambda_env.clients["kinesis"])


def reading(device: int, seq: int, version: int) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "device_id": f"dev-{device:05d}",
        "sensor_type": "temperature",
        "value": 20.0 + seq,
        "unit": "C",
        "timestamp": dt.datetime.fromtimestamp(time.time() - 1, dt.UTC),
        "seq": seq,
        "battery_pct": 80.0,
        "firmware": f"{version}.0.0",
    }
    if version >= 2:
        fields.update(firmware_generation=2, battery_mv=3_700)
    return fields


def test_records_from_the_glue_serializer_library_are_enriched(lambda_env: Stack, gateway: Producer):
    # GIVEN two firmware generations producing through the library, one of them zlib-compressing
    gateway.put(
        [
            ("dev-00000", gateway.frame(reading(0, 1, version=1), 1)),
            ("dev-00001", gateway.frame(reading(1, 1, version=2), 2)),
            ("dev-00002", gateway.frame(reading(2, 1, version=2), 2, compress=True)),
        ]
    )
    records = consume(lambda_env.clients["kinesis"])
    assert [r.data[:2] for r in records] == [b"\x03\x00", b"\x03\x00", b"\x03\x05"]
    # WHEN the ingest handler gets them
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    # THEN all three are enriched in the current schema: v1's new fields take their defaults
    rows = sorted(read_readings(lambda_env), key=lambda r: r["device_id"])
    assert [(r["device_id"], r["firmware_generation"], r["battery_mv"]) for r in rows] == [
        ("dev-00000", 1, None),
        ("dev-00001", 2, 3_700),
        ("dev-00002", 2, 3_700),
    ]
    assert read_quarantine(lambda_env) == []


def test_a_glue_outage_is_retried_and_the_replay_is_enriched(lambda_env: Stack, gateway: Producer):
    from sensorflow.adapters import clients as client_factory

    gateway.put([("dev-00000", gateway.frame(reading(0, 1, version=2), 2))])
    records = consume(lambda_env.clients["kinesis"])
    # GIVEN Glue throttles the function's GetSchemaVersion calls
    glue = client_factory.client("glue")

    def throttled(**_: Any) -> tuple[Any, dict[str, Any]]:
        from botocore.awsrequest import AWSResponse

        return AWSResponse("https://glue.invalid/", 400, {}, None), {
            "Error": {"Code": "ThrottlingException", "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    glue.meta.events.register("before-call.glue.GetSchemaVersion", throttled)
    # WHEN the batch is delivered THEN the record is reported for retry, not quarantined
    assert handler(kinesis_event(records), FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": records[0].sequence_number}]
    }
    assert read_readings(lambda_env) == [] and read_quarantine(lambda_env) == []
    # WHEN Glue is back and Lambda redelivers THEN it is enriched
    glue.meta.events.unregister("before-call.glue.GetSchemaVersion", throttled)
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    assert [r["battery_mv"] for r in read_readings(lambda_env)] == [3_700]


def test_a_version_id_the_registry_does_not_have_is_quarantined_with_its_bytes(
    lambda_env: Stack, gateway: Producer
):
    body = gateway.versions[2].write(reading(0, 1, version=2))
    unknown = bytes(encode(body, uuid.UUID("00000000-0000-4000-8000-000000000001")))
    gateway.put([("dev-00000", unknown)])
    records = consume(lambda_env.clients["kinesis"])
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    [line] = read_quarantine(lambda_env)
    assert line["reason"] == "glue_unknown_schema"
    assert "EntityNotFoundException" in line["detail"]
    assert base64.b64decode(line["payload"]) == unknown
