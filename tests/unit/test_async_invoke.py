"""Lambda's asynchronous queue (async_invoke.AsyncInvoker) over fakes: event age and throttles."""

from __future__ import annotations

import json
import time
from typing import Any

from sensorflow.localcloud.emulator.async_invoke import AsyncInvoker, InvokeConfig, invoke_configs
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

ARN = "arn:aws:lambda:us-east-1:123456789012:function:notify"


def wait_for(predicate: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.01)
    return bool(predicate())


def test_an_event_older_than_the_maximum_age_is_not_retried_and_goes_to_on_failure() -> None:
    # GIVEN a function that fails, a maximum event age of 60 s and a clock that moves 45 s per attempt
    now = [1_000.0]
    attempts: list[str] = []
    sent: list[tuple[str, dict[str, Any]]] = []

    def invoke(function: str, event: dict[str, Any], request_id: str, source: str) -> InvokeResult:
        attempts.append(request_id)
        now[0] += 45
        return InvokeResult(request_id, ok=False, error_type="RuntimeError", error_message="boom")

    config = InvokeConfig(maximum_retry_attempts=2, maximum_event_age_s=60, on_failure="arn:aws:sqs:q")
    invoker = AsyncInvoker(
        invoke,
        lambda arn, doc: sent.append((arn, doc)),
        lambda: {"notify": config},
        lambda name: ARN,
        retry_delays_s=(0.01, 0.01),
        clock=lambda: now[0],
    )
    # WHEN
    request_id = invoker.submit("notify", {"n": 1}, "sns")
    # THEN the retry at 45 s runs, the one that would start at 90 s does not: EventAgeExceeded
    assert wait_for(invoker.idle)
    assert attempts == [request_id, request_id]
    [(arn, record)] = sent
    assert arn == "arn:aws:sqs:q"
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 2


def test_a_throttled_function_keeps_its_event_queued_without_using_an_attempt() -> None:
    paused = [True]
    attempts: list[str] = []

    def invoke(function: str, event: dict[str, Any], request_id: str, source: str) -> InvokeResult:
        attempts.append(request_id)
        return InvokeResult(request_id, ok=True)

    invoker = AsyncInvoker(
        invoke,
        lambda arn, doc: None,
        lambda: {"notify": InvokeConfig(maximum_retry_attempts=0)},
        lambda name: ARN,
        throttled=lambda function: paused[0],
    )
    invoker.submit("notify", {"n": 1}, "sns")
    time.sleep(0.3)  # a negative check: nothing runs while paused (idle stays false meanwhile)
    assert attempts == [] and not invoker.idle()
    paused[0] = False
    assert wait_for(lambda: invoker.idle() and len(attempts) == 1, timeout=5)


def test_invoke_configs_are_read_from_the_templates_event_invoke_config_resources() -> None:
    template = {
        "Resources": {
            "NotifyLambdaFunction": {"Type": "AWS::Lambda::Function"},
            "NotifyLambdaEvConf": {
                "Type": "AWS::Lambda::EventInvokeConfig",
                "Properties": {
                    "FunctionName": {"Ref": "NotifyLambdaFunction"},
                    "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": ["Dlq", "Arn"]}}},
                    "Qualifier": "$LATEST",
                    "MaximumEventAgeInSeconds": 3600,
                    "MaximumRetryAttempts": 0,
                },
            },
        }
    }
    physical = {"NotifyLambdaFunction": "sensorflow-dev-notify", "Dlq": "https://queue/dlq"}
    configs = invoke_configs(
        template, physical, lambda value: "arn:aws:sqs:us-east-1:1:dlq" if value else None
    )
    assert configs == {
        "sensorflow-dev-notify": InvokeConfig(
            maximum_retry_attempts=0, maximum_event_age_s=3600, on_failure="arn:aws:sqs:us-east-1:1:dlq"
        )
    }


class FakeEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]}


class FakeRuntime:
    """What Fanout asks of the runtime, for the destination routes only."""

    def __init__(self) -> None:
        from sensorflow.localcloud.emulator.discovery import FunctionConfig
        from sensorflow.localcloud.emulator.runtime_stats import RuntimeStats

        self.functions = {
            "audit": FunctionConfig("audit", ARN.replace("notify", "audit"), "h.h", "r", 3, 128)
        }
        self.stats = RuntimeStats()
        self.events = FakeEvents()
        self.invoked: list[tuple[str, dict[str, Any], str]] = []
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def client(self, service: str) -> Any:
        assert service == "events"
        return self.events

    def invoke_async(
        self, function_name: str, event: dict[str, Any], source: str, request_id: str | None = None
    ) -> InvokeResult:
        self.invoked.append((function_name, event, source))
        return InvokeResult(request_id or "r", ok=True)

    def send_to_destination(self, arn: str, document: dict[str, Any]) -> None:
        self.sent.append((arn, document))

    def reserved_concurrency(self, function_name: str) -> int | None:
        return None


def test_async_destinations_route_to_a_function_an_event_bus_and_a_queue() -> None:
    from sensorflow.localcloud.emulator.async_delivery import Fanout

    runtime = FakeRuntime()
    fanout = Fanout(runtime, "stack")  # type: ignore[arg-type]
    record = {"requestContext": {"condition": "RetriesExhausted", "functionArn": f"{ARN}:$LATEST"}, "n": 1}
    # WHEN a record goes to a Lambda, an EventBridge bus and an SQS destination
    fanout._send_to_destination("arn:aws:lambda:us-east-1:123456789012:function:audit", record)
    bus = "arn:aws:events:us-east-1:123456789012:event-bus/ops"
    fanout._send_to_destination(bus, record)
    fanout._send_to_destination("arn:aws:sqs:us-east-1:123456789012:dlq", record)
    # THEN the function is invoked asynchronously with the record, the bus gets Lambda's destination event,
    # and the queue goes through the runtime's sender
    assert wait_for(fanout.async_invoker.idle)
    assert runtime.invoked == [("audit", record, "destination")]
    [entry] = runtime.events.entries
    assert entry["Source"] == "lambda"
    assert entry["DetailType"] == "Lambda Function Invocation Result - Failure"
    assert entry["EventBusName"] == bus and json.loads(entry["Detail"]) == record
    assert runtime.sent == [("arn:aws:sqs:us-east-1:123456789012:dlq", record)]
