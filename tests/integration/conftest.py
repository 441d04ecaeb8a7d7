"""Integration tier: real boto3 calls against moto's in-process ``mock_aws``.

The fixture builds the resources the stack defines (names follow serverless.yml for stage ``test``)
and wires the real adapters through ``bootstrap`` with clients created inside the mock.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.config import IngestSettings

REGION = "us-east-1"
STAGE = "test"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@dataclass
class Stack:
    settings: IngestSettings
    clients: dict[str, Any]
    critical_queue_url: str
    all_alerts_queue_url: str
    bus_queue_url: str

    def put_device(self, device_id: str, **fields: Any) -> None:
        item = {
            "device_id": device_id,
            "site": "site-a",
            "location": "hall-1",
            "model": "TH-200",
            "owner_team": "ops",
        }
        item.update(fields)
        boto3.resource("dynamodb", region_name=REGION).Table(self.settings.device_table).put_item(Item=item)

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        sqs, out = self.clients["sqs"], []
        while True:
            msgs = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            for m in msgs:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def create_alarms_table(ddb: Any, name: str = f"sensorflow-{STAGE}-alarms") -> str:
    """The alarms table as serverless.yml defines it: pk alarm_id, sparse keys-only GSI stale-due."""
    from sensorflow.adapters.dynamodb_alarms import STALE_INDEX

    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "alarm_id", "AttributeType": "S"},
            {"AttributeName": "stale_bucket", "AttributeType": "S"},
            {"AttributeName": "stale_due_ms", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "alarm_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": STALE_INDEX,
                "KeySchema": [
                    {"AttributeName": "stale_bucket", "KeyType": "HASH"},
                    {"AttributeName": "stale_due_ms", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


@pytest.fixture
def stack() -> Iterator[Stack]:
    with mock_aws():
        c = {
            name: boto3.client(name, region_name=REGION)
            for name in ("s3", "sns", "sqs", "events", "dynamodb", "kinesis")
        }
        prefix = f"sensorflow-{STAGE}"
        c["dynamodb"].create_table(
            TableName=f"{prefix}-devices",
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        alarms_table = create_alarms_table(c["dynamodb"])
        for bucket in ("readings", "quarantine"):
            c["s3"].create_bucket(Bucket=f"{prefix}-{bucket}-123456789012-{REGION}")
        topic_arn = c["sns"].create_topic(Name=f"{prefix}-alerts")["TopicArn"]
        bus = f"{prefix}-alerts"
        c["events"].create_event_bus(Name=bus)

        critical_url, critical_arn = _queue(c["sqs"], "critical-only")
        c["sns"].subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=critical_arn,
            Attributes={"FilterPolicy": json.dumps({"severity": ["critical"]}), "RawMessageDelivery": "true"},
        )
        all_url, all_arn = _queue(c["sqs"], "all-alerts")
        c["sns"].subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=all_arn, Attributes={"RawMessageDelivery": "true"}
        )
        bus_url, bus_arn = _queue(c["sqs"], "bus-critical")
        c["events"].put_rule(
            Name="critical-alerts",
            EventBusName=bus,
            EventPattern=json.dumps(
                {"source": ["sensorflow.alarms"], "detail": {"alarm": {"severity": ["critical"]}}}
            ),
        )
        c["events"].put_targets(
            Rule="critical-alerts", EventBusName=bus, Targets=[{"Id": "q", "Arn": bus_arn}]
        )

        settings = IngestSettings(
            device_table=f"{prefix}-devices",
            readings_bucket=f"{prefix}-readings-123456789012-{REGION}",
            quarantine_bucket=f"{prefix}-quarantine-123456789012-{REGION}",
            alerts_topic_arn=topic_arn,
            alerts_event_bus=bus,
            alarms_table=alarms_table,
            deadline_margin_ms=1000,
        )
        client_factory.reset()
        bootstrap.ingest_service.cache_clear()
        yield Stack(settings, c, critical_url, all_url, bus_url)
        bootstrap.ingest_service.cache_clear()
        client_factory.reset()


class FakeContext:
    """The parts of LambdaContext the handler and Powertools use."""

    function_name = "sensorflow-test-ingest"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sensorflow-test-ingest"
    memory_limit_in_mb = 1024
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    log_group_name = "/aws/lambda/sensorflow-test-ingest"
    log_stream_name = "2026/11/29/[$LATEST]0"

    def __init__(self, remaining_ms: int = 60_000) -> None:
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining


@pytest.fixture
def lambda_env(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    s = stack.settings
    monkeypatch.setenv("DEVICE_TABLE_NAME", s.device_table)
    monkeypatch.setenv("READINGS_BUCKET_NAME", s.readings_bucket)
    monkeypatch.setenv("QUARANTINE_BUCKET_NAME", s.quarantine_bucket)
    monkeypatch.setenv("ALERTS_TOPIC_ARN", s.alerts_topic_arn)
    monkeypatch.setenv("ALERTS_EVENT_BUS_NAME", s.alerts_event_bus)
    monkeypatch.setenv("ALARMS_TABLE_NAME", s.alarms_table)
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "1000")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    return stack
