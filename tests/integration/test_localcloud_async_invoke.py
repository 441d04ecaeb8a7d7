"""Asynchronous invocation as Lambda documents it (invocation-async.html), on the local runtime.

The function's ``EventInvokeConfig`` comes from the deployed template (moto does not model it): retries,
the request id kept across them, and on-failure / on-success destinations with Lambda's invocation record.
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
DELAYS = (0.2, 0.4)  # the local stand-ins for AWS's ~1 and ~2 minutes


def function(name: str, handler: str, record_to: Path) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {
            "FunctionName": name,
            "Handler": f"tests/e2e/fixtures/handlers.{handler}",
            "Runtime": "python3.12",
            "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "placeholder"},
            "Environment": {"Variables": {"RECORD_TO": str(record_to)}},
        },
    }


def subscription(logical_function: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SNS::Subscription",
        "Properties": {
            "TopicArn": {"Ref": "Topic"},
            "Protocol": "lambda",
            "Endpoint": {"Fn::GetAtt": [logical_function, "Arn"]},
        },
    }


def template(tmp_path: Path) -> dict[str, Any]:
    return {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
            "FailuresQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "failures"}},
            "SuccessQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "successes"}},
            "FailsLambdaFunction": function("fails", "failing_recorder", tmp_path / "fails.jsonl"),
            "FailsSubscription": subscription("FailsLambdaFunction"),
            "FailsInvokeConfig": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "FailsLambdaFunction"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 1,
                    "MaximumEventAgeInSeconds": 3600,
                    "DestinationConfig": {
                        "OnFailure": {"Destination": {"Fn::GetAtt": ["FailuresQueue", "Arn"]}}
                    },
                },
            },
            "OnceLambdaFunction": function("once", "failing_recorder", tmp_path / "once.jsonl"),
            "OnceSubscription": subscription("OnceLambdaFunction"),
            "OnceInvokeConfig": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "OnceLambdaFunction"},
                    "Qualifier": "$LATEST",
                    "MaximumRetryAttempts": 0,
                    "DestinationConfig": {},
                },
            },
            "WorksLambdaFunction": function("works", "recorder", tmp_path / "works.jsonl"),
            "WorksSubscription": subscription("WorksLambdaFunction"),
            "WorksInvokeConfig": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "WorksLambdaFunction"},
                    "Qualifier": "$LATEST",
                    "DestinationConfig": {
                        "OnSuccess": {"Destination": {"Fn::GetAtt": ["SuccessQueue", "Arn"]}}
                    },
                },
            },
        }
    }


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[tuple[Endpoint, LocalRuntime]]:
    for name in ("fails", "once", "works"):
        (tmp_path / f"{name}.jsonl").touch()
    with MotoServer(0, tmp_path / "moto.log") as server:
        endpoint = Endpoint(server.url)
        endpoint.client("cloudformation").create_stack(
            StackName="async", TemplateBody=json.dumps(template(tmp_path))
        )
        runtime = LocalRuntime(
            endpoint,
            task_root=REPO,
            log_dir=tmp_path / "logs",
            stack_name="async",
            async_retry_delays_s=DELAYS,
        )
        runtime.start()
        try:
            yield endpoint, runtime
        finally:
            runtime.stop()


def queue_records(endpoint: Endpoint, name: str) -> list[dict[str, Any]]:
    sqs = endpoint.client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_retries_keep_the_request_id_and_the_last_failure_goes_to_the_on_failure_destination(
    cloud: tuple[Endpoint, LocalRuntime], tmp_path: Path
) -> None:
    endpoint, runtime = cloud
    sns = endpoint.client("sns")
    started = time.monotonic()
    # WHEN one alert is published to the topic all three functions subscribe to
    sns.publish(
        TopicArn=sns.list_topics()["Topics"][0]["TopicArn"], Message=json.dumps({"severity": "critical"})
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(lines(tmp_path / "fails.jsonl")) < 2:
        time.sleep(0.05)
    assert runtime.wait_idle(20)
    # THEN "fails" (MaximumRetryAttempts 1) ran twice with one request id, the retry after the delay ...
    attempts = lines(tmp_path / "fails.jsonl")
    assert len(attempts) == 2
    assert attempts[0]["request_id"] == attempts[1]["request_id"]
    assert time.monotonic() - started >= DELAYS[0]
    # ... and its on-failure destination got Lambda's invocation record, once
    [record] = queue_records(endpoint, "failures")
    function_arn = runtime.functions["fails"].arn
    assert record["requestContext"] == {
        "requestId": attempts[0]["request_id"],
        "functionArn": f"{function_arn}:$LATEST",
        "condition": "RetriesExhausted",
        "approximateInvokeCount": 2,
    }
    assert record["requestPayload"] == attempts[0]["event"]
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    # "once" (MaximumRetryAttempts 0) ran exactly once
    assert len(lines(tmp_path / "once.jsonl")) == 1
    # "works" succeeded at once and its on-success destination says so
    [success] = queue_records(endpoint, "successes")
    assert success["requestContext"]["condition"] == "Success"
    assert success["requestContext"]["approximateInvokeCount"] == 1
    assert success["requestPayload"] == lines(tmp_path / "works.jsonl")[0]


def test_the_runtime_waits_as_long_as_aws_between_async_retries_by_default(tmp_path: Path) -> None:
    with MotoServer(0, tmp_path / "moto.log") as server:
        runtime = LocalRuntime(Endpoint(server.url), task_root=REPO, log_dir=tmp_path / "logs")
        assert runtime.async_retry_delays_s == (60.0, 120.0)
