"""Fidelity of the local SQS event source mapping, one AWS-documented behaviour per test.

Each test creates a queue (1 s visibility timeout, a redrive policy to a dead-letter queue), a function
(tests/e2e/fixtures/sqs_handlers.py) and a mapping through the Lambda API of a moto server, sends
messages, runs the local runtime and asserts the exact invocations and where each message ended.
Sources: docs.aws.amazon.com/lambda/latest/dg/with-sqs.html, .../services-sqs-errorhandling.html,
.../services-sqs-parameters.html, docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/
sqs-dead-letter-queues.html
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.emulator.runtime import LocalRuntime

REPO = Path(__file__).resolve().parents[2]
_names = itertools.count()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    with MotoServer(0, tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield Endpoint(moto.url)


class QueueStack:
    """A queue with its dead-letter queue, a function and an SQS mapping; the runtime that serves them."""

    def __init__(self, endpoint: Endpoint, tmp: Path, max_receive_count: int = 2, **mapping: Any) -> None:
        n = next(_names)
        self.endpoint = endpoint
        self.sqs = endpoint.client("sqs")
        self.lambda_ = endpoint.client("lambda")
        self.record_to = tmp / "events.jsonl"
        self.dlq_url = self.sqs.create_queue(QueueName=f"dlq-{n}")["QueueUrl"]
        dlq_arn = self._arn(self.dlq_url)
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
        self.queue_url = self.sqs.create_queue(
            QueueName=f"queue-{n}", Attributes={"VisibilityTimeout": "1", "RedrivePolicy": redrive}
        )["QueueUrl"]
        self.queue_arn = self._arn(self.queue_url)
        role = endpoint.client("iam").create_role(RoleName=f"fn-{n}", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("placeholder.py", "")
        self.lambda_.create_function(
            FunctionName=f"fn-{n}",
            Runtime="python3.12",
            Role=role,
            Handler="tests/e2e/fixtures/sqs_handlers.flaky",
            Code={"ZipFile": code.getvalue()},
            Timeout=5,
            Environment={"Variables": {"RECORD_TO": str(self.record_to)}},
        )
        settings: dict[str, Any] = {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        settings.update(mapping)
        self.uuid = self.lambda_.create_event_source_mapping(
            EventSourceArn=self.queue_arn, FunctionName=f"fn-{n}", **settings
        )["UUID"]
        self.log_dir = tmp / "logs"
        self.runtime: LocalRuntime | None = None

    def _arn(self, url: str) -> str:
        arn: str = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn

    def send(self, *actions: str, **attributes: str) -> dict[str, str]:
        """One message per action; returns message id -> body id."""
        out = {}
        for i, action in enumerate(actions):
            body = json.dumps({"id": f"m{i}", "do": action})
            extra = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
            sent = self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=extra)
            out[sent["MessageId"]] = f"m{i}"
        return out

    def start(self) -> LocalRuntime:
        self.runtime = LocalRuntime(self.endpoint, task_root=REPO, log_dir=self.log_dir)
        self.runtime.start()
        return self.runtime

    def events(self) -> list[dict[str, Any]]:
        if not self.record_to.exists():
            return []
        return [json.loads(line) for line in self.record_to.read_text().splitlines()]

    def batches(self) -> list[list[str]]:
        """The body ids of each invocation, in order."""
        return [[json.loads(r["body"])["id"] for r in e["Records"]] for e in self.events()]

    def bodies(self, url: str) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        return sorted(json.loads(m["Body"])["id"] for m in messages)

    def wait(self, condition: Any, timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"not reached in {timeout_s}s: {self.batches()}"
            time.sleep(0.1)

    def close(self) -> None:
        if self.runtime is not None:
            self.runtime.stop()
        self.lambda_.delete_event_source_mapping(UUID=self.uuid)  # the next test's runtime must not poll it


@pytest.fixture
def make(server: Endpoint, tmp_path: Path) -> Iterator[Any]:
    stacks: list[QueueStack] = []

    def build(**kwargs: Any) -> QueueStack:
        stacks.append(QueueStack(server, tmp_path, **kwargs))
        return stacks[-1]

    yield build
    for stack in stacks:
        stack.close()


def test_a_partial_batch_failure_redelivers_only_the_failed_message_until_the_dead_letter_queue(make):
    # GIVEN three messages, the second reported failed every time, and maxReceiveCount 2
    q = make(max_receive_count=2)
    q.send("ok", "fail", "ok")
    runtime = q.start()
    # WHEN the mapping has run until the dead-letter queue holds it
    q.wait(lambda: q.bodies(q.dlq_url) == ["m1"])
    assert runtime.wait_idle(10)
    # THEN the first batch had all three, the only redelivery was m1 (its 2nd receive), then SQS moved it
    assert [sorted(b) for b in q.batches()] == [["m0", "m1", "m2"], ["m1"]]
    [redelivered] = q.events()[1]["Records"]
    assert redelivered["attributes"]["ApproximateReceiveCount"] == "2"
    assert q.bodies(q.queue_url) == []
    assert runtime.status()["queue_mappings"][q.uuid]["messages_deleted"] == 2


@pytest.mark.parametrize("action", ["raise", "unknown_id", "not_an_object"])
def test_an_error_or_an_invalid_response_keeps_the_whole_batch(make, action: str):
    # GIVEN a batch with one ok message and one that fails the invocation as a whole
    q = make(max_receive_count=1)
    q.send("ok", action)
    runtime = q.start()
    # THEN neither is deleted: both come back and, after one receive each, end in the dead-letter queue
    q.wait(lambda: q.bodies(q.dlq_url) == ["m0", "m1"])
    assert [sorted(b) for b in q.batches()] == [["m0", "m1"]]
    assert runtime.wait_idle(10)


def test_partial_responses_are_ignored_without_report_batch_item_failures(make):
    q = make(FunctionResponseTypes=[])
    q.send("fail", "ok")
    runtime = q.start()
    assert runtime.wait_idle(10)
    assert [sorted(b) for b in q.batches()] == [["m0", "m1"]]
    assert q.bodies(q.queue_url) == [] and q.bodies(q.dlq_url) == []


def test_batch_size_and_window_gather_several_receives_into_one_invocation(make):
    # GIVEN 15 messages waiting, BatchSize 12 (more than one ReceiveMessage returns) and a 1 s window
    q = make(BatchSize=12, MaximumBatchingWindowInSeconds=1)
    q.send(*["ok"] * 15)
    runtime = q.start()
    assert runtime.wait_idle(15)
    # THEN one invocation of 12, then the remaining 3 when the window closed
    assert [len(b) for b in q.batches()] == [12, 3]
    assert sorted(itertools.chain(*q.batches())) == sorted(f"m{i}" for i in range(15))


def test_the_sqs_event_has_lambdas_exact_shape(make):
    q = make()
    [message_id] = q.send("ok", team="ops")
    runtime = q.start()
    assert runtime.wait_idle(10)
    [[record]] = [e["Records"] for e in q.events()]
    body = json.dumps({"id": "m0", "do": "ok"})
    assert set(record) == {
        "messageId",
        "receiptHandle",
        "body",
        "attributes",
        "messageAttributes",
        "md5OfBody",
        "eventSource",
        "eventSourceARN",
        "awsRegion",
    }
    assert (record["messageId"], record["body"], record["md5OfBody"]) == (
        message_id,
        body,
        hashlib.md5(body.encode()).hexdigest(),
    )
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs",
        q.queue_arn,
        "us-east-1",
    )
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"] == {
        "team": {"stringValue": "ops", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
