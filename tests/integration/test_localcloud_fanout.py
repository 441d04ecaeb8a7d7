"""SNS subscriptions and EventBridge rules that target Lambda, delivered by the local runtime.

The stack is deployed through moto's CloudFormation, which records ``AWS::SNS::Subscription`` without
creating it, so these tests also prove the runtime wires what the template declares.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.emulator.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[2]


def template(record_to: Path) -> dict[str, Any]:
    return {
        "Conditions": {"Never": {"Fn::Equals": ["a", "b"]}},
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
            "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "alerts-bus"}},
            "NotifyLambdaFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "FunctionName": "notify",
                    "Handler": "tests/e2e/fixtures/handlers.recorder",
                    "Runtime": "python3.12",
                    "Role": {"Fn::GetAtt": ["Role", "Arn"]},
                    "Code": {"ZipFile": "placeholder"},
                    "Environment": {"Variables": {"RECORD_TO": str(record_to)}},
                },
            },
            "NotifySubscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "lambda",
                    "Endpoint": {"Fn::GetAtt": ["NotifyLambdaFunction", "Arn"]},
                    "FilterPolicy": {"severity": ["critical"]},
                },
            },
            "CriticalQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "critical"}},
            "CriticalQueueSubscription": {
                "Type": "AWS::SNS::Subscription",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["CriticalQueue", "Arn"]},
                    "RawMessageDelivery": True,
                    "FilterPolicy": {"severity": ["critical"]},
                },
            },
            # Left out by its condition: the runtime must not subscribe it.
            "SkippedQueueSubscription": {
                "Type": "AWS::SNS::Subscription",
                "Condition": "Never",
                "Properties": {
                    "TopicArn": {"Ref": "Topic"},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": ["CriticalQueue", "Arn"]},
                },
            },
            "CriticalRule": {
                "Type": "AWS::Events::Rule",
                "DependsOn": "Bus",
                "Properties": {
                    "Name": "critical",
                    "EventBusName": "alerts-bus",
                    "EventPattern": {
                        "source": ["sensorflow.services.ingest"],
                        "detail": {"severity": ["critical"]},
                    },
                    "State": "ENABLED",
                    "Targets": [{"Id": "notify", "Arn": {"Fn::GetAtt": ["NotifyLambdaFunction", "Arn"]}}],
                },
            },
        },
    }


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Endpoint, LocalRuntime, Path]]:
    record_to = tmp_path / "events.jsonl"
    record_to.touch()
    with MotoServer(0, tmp_path / "moto.log") as server:
        endpoint = Endpoint(server.url)
        endpoint.client("cloudformation").create_stack(
            StackName="fanout", TemplateBody=json.dumps(template(record_to))
        )
        runtime = LocalRuntime(endpoint, task_root=REPO, log_dir=tmp_path / "logs", stack_name="fanout")
        runtime.start()
        try:
            yield endpoint, runtime, record_to
        finally:
            runtime.stop()


def received(path: Path, count: int, runtime: LocalRuntime, timeout_s: float = 15.0) -> list[dict[str, Any]]:
    """What the function wrote once ``count`` events arrived and the runtime is idle (its own signal that
    nothing more is in flight: tap queues drained, no asynchronous invocation or retry pending)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(path.read_text().splitlines()) < count:
        time.sleep(0.1)
    assert runtime.wait_idle(max(1.0, deadline - time.monotonic()))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sns_lambda_subscription_gets_the_lambda_sns_event_with_the_filter_applied(
    deployed: tuple[Endpoint, LocalRuntime, Path],
) -> None:
    endpoint, runtime, record_to = deployed
    sns = endpoint.client("sns")
    topic_arn = sns.list_topics()["Topics"][0]["TopicArn"]
    # WHEN a warning (filtered out) and a critical alert are published
    for severity in ("warning", "critical"):
        sns.publish(
            TopicArn=topic_arn,
            Subject="sensor alert",
            Message=json.dumps({"severity": severity}),
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
    # THEN only the critical one arrives, shaped as Lambda's SNS event
    [event] = received(record_to, 1, runtime)
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"].startswith(topic_arn + ":")
    sns_part = record["Sns"]
    assert sns_part["Type"] == "Notification"
    assert sns_part["TopicArn"] == topic_arn
    assert sns_part["Subject"] == "sensor alert"
    assert json.loads(sns_part["Message"]) == {"severity": "critical"}
    assert sns_part["MessageAttributes"] == {"severity": {"Type": "String", "Value": "critical"}}
    assert set(sns_part) == {
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertUrl",
        "UnsubscribeUrl",
        "MessageAttributes",
    }
    assert runtime.status()["subscriptions"]["NotifySubscription"]["delivered"] == 1


def test_sns_sqs_subscription_from_the_template_exists_with_raw_delivery_and_its_filter(
    deployed: tuple[Endpoint, LocalRuntime, Path],
) -> None:
    endpoint, runtime, _ = deployed
    sns, sqs = endpoint.client("sns"), endpoint.client("sqs")
    topic_arn = sns.list_topics()["Topics"][0]["TopicArn"]
    # GIVEN the deployed template's SNS -> SQS subscription (moto's CloudFormation creates none)
    queue_url = sqs.get_queue_url(QueueName="critical")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscriptions = [
        s
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
        if s["Protocol"] == "sqs"
    ]
    declared = [s for s in subscriptions if s["Endpoint"] == queue_arn]
    assert len(declared) == 1  # the one with a false Condition was not created
    attributes = sns.get_subscription_attributes(SubscriptionArn=declared[0]["SubscriptionArn"])["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    assert json.loads(attributes["FilterPolicy"]) == {"severity": ["critical"]}
    assert runtime.status()["queue_subscriptions"] == {
        "CriticalQueueSubscription": {"topic": topic_arn, "queue": queue_arn}
    }
    # WHEN a warning and a critical message are published
    for severity in ("warning", "critical"):
        sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps({"severity": severity}),
            MessageAttributes={"severity": {"DataType": "String", "StringValue": severity}},
        )
    # THEN only the critical one is in the queue, raw (the message itself, no SNS envelope)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"severity": "critical"}]


def test_eventbridge_rule_with_a_lambda_target_delivers_matching_events_only(
    deployed: tuple[Endpoint, LocalRuntime, Path],
) -> None:
    endpoint, runtime, record_to = deployed
    events = endpoint.client("events")
    entries = [
        {
            "Source": "sensorflow.services.ingest",
            "DetailType": "SensorAlert",
            "Detail": json.dumps({"severity": s}),
        }
        for s in ("warning", "critical")
    ]
    assert (
        events.put_events(Entries=[{**e, "EventBusName": "alerts-bus"} for e in entries])["FailedEntryCount"]
        == 0
    )
    [event] = received(record_to, 1, runtime)
    assert event["source"] == "sensorflow.services.ingest"
    assert event["detail-type"] == "SensorAlert"
    assert event["detail"] == {"severity": "critical"}
    assert list(event) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
