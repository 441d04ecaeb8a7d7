"""Fidelity of the local SQS event source mapping, one AWS-documented behaviour per test.

Each scenario is a queue (a visibility timeout, a redrive policy to a dead-letter queue) with its own
mapping to one function (tests/e2e/fixtures/sqs_handlers.py), created through the Lambda API of a moto
server. One runtime serves them all at once (one worker to start, not one per test); each test asserts the
exact invocations of its queue and where each message ended.
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


class Scenario:
    """A queue with its dead-letter queue and an SQS mapping to the shared function."""

    def __init__(
        self, cloud: Cloud, max_receive_count: int = 2, visibility_s: int = 30, **mapping: Any
    ) -> None:
        n = next(_names)
        self.cloud = cloud
        sqs = cloud.sqs
        self.dlq_url = sqs.create_queue(QueueName=f"dlq-{n}")["QueueUrl"]
        redrive = json.dumps(
            {"deadLetterTargetArn": cloud.arn(self.dlq_url), "maxReceiveCount": str(max_receive_count)}
        )
        self.queue_url = sqs.create_queue(
            QueueName=f"queue-{n}",
            Attributes={"VisibilityTimeout": str(visibility_s), "RedrivePolicy": redrive},
        )["QueueUrl"]
        self.queue_arn = cloud.arn(self.queue_url)
        settings: dict[str, Any] = {"BatchSize": 10, "FunctionResponseTypes": ["ReportBatchItemFailures"]}
        settings.update(mapping)
        self.uuid = cloud.lambda_.create_event_source_mapping(
            EventSourceArn=self.queue_arn, FunctionName="fn", **settings
        )["UUID"]

    def send(self, *actions: str, **attributes: str) -> list[str]:
        """One message per action (body id ``m<i>``); returns the message ids."""
        out = []
        for i, action in enumerate(actions):
            body = json.dumps({"id": f"m{i}", "do": action})
            extra = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
            sent = self.cloud.sqs.send_message(
                QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=extra
            )
            out.append(sent["MessageId"])
        return out

    def events(self) -> list[dict[str, Any]]:
        return [e for e in self.cloud.events() if e["Records"][0]["eventSourceARN"] == self.queue_arn]

    def batches(self) -> list[list[str]]:
        """The body ids of each invocation for this queue, in order, each sorted."""
        return [sorted(json.loads(r["body"])["id"] for r in e["Records"]) for e in self.events()]

    def bodies(self, url: str) -> list[str]:
        messages = self.cloud.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
        ).get("Messages", [])
        return sorted(json.loads(m["Body"])["id"] for m in messages)


class Cloud:
    """A moto server with the one function the scenarios' mappings invoke, and the runtime serving them."""

    def __init__(self, endpoint: Endpoint, tmp: Path) -> None:
        self.endpoint = endpoint
        self.sqs = endpoint.client("sqs")
        self.lambda_ = endpoint.client("lambda")
        self.record_to = tmp / "events.jsonl"
        self.log_dir = tmp / "logs"
        role = endpoint.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("placeholder.py", "")
        self.lambda_.create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler="tests/e2e/fixtures/sqs_handlers.flaky",
            Code={"ZipFile": code.getvalue()},
            Timeout=5,
            Environment={"Variables": {"RECORD_TO": str(self.record_to)}},
        )
        self.runtime: LocalRuntime | None = None

    def arn(self, url: str) -> str:
        arn: str = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn

    def start(self) -> LocalRuntime:
        self.runtime = LocalRuntime(self.endpoint, task_root=REPO, log_dir=self.log_dir)
        self.runtime.start()
        return self.runtime

    def events(self) -> list[dict[str, Any]]:
        if not self.record_to.exists():
            return []
        return [json.loads(line) for line in self.record_to.read_text().splitlines()]


def wait(condition: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not reached in {timeout_s}s"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every scenario's messages sent, then one runtime run until the dead-letter queues hold what the
    scenarios expect there and nothing is left in flight."""
    tmp = tmp_path_factory.mktemp("sqs-esm")
    with MotoServer(0, tmp / "moto.log") as moto:
        cloud = Cloud(Endpoint(moto.url), tmp)
        s: dict[str, Any] = {
            # the second message reported failed every time; maxReceiveCount 2
            # (a visibility timeout of 2 s: failed messages come back soon, a batch is done before it ends)
            "partial": Scenario(cloud, max_receive_count=2, visibility_s=2),
            **{
                action: Scenario(cloud, max_receive_count=1, visibility_s=2)
                for action in ("raise", "unknown_id", "not_an_object")
            },
            "ignored": Scenario(cloud, FunctionResponseTypes=[]),
            # 15 waiting, BatchSize 12 (more than one ReceiveMessage returns), a 1 s window
            "window": Scenario(cloud, BatchSize=12, MaximumBatchingWindowInSeconds=1),
            "shape": Scenario(cloud),
        }
        s["partial"].send("ok", "fail", "ok")
        for action in ("raise", "unknown_id", "not_an_object"):
            s[action].send("ok", action)
        s["ignored"].send("fail", "ok")
        s["window"].send(*["ok"] * 15)
        s["shape_ids"] = s["shape"].send("ok", team="ops")
        runtime = cloud.start()
        try:
            wait(lambda: s["partial"].bodies(s["partial"].dlq_url) == ["m1"])
            for action in ("raise", "unknown_id", "not_an_object"):
                wait(lambda action=action: s[action].bodies(s[action].dlq_url) == ["m0", "m1"])
            assert runtime.wait_idle(20)
            s["status"] = runtime.status()
            yield s
        finally:
            runtime.stop()


def test_a_partial_batch_failure_redelivers_only_the_failed_message_until_the_dead_letter_queue(run):
    q = run["partial"]
    # the first batch had all three, the only redelivery was m1 (its 2nd receive), then SQS moved it
    assert q.batches() == [["m0", "m1", "m2"], ["m1"]]
    [redelivered] = q.events()[1]["Records"]
    assert redelivered["attributes"]["ApproximateReceiveCount"] == "2"
    assert q.bodies(q.queue_url) == []
    assert run["status"]["queue_mappings"][q.uuid]["messages_deleted"] == 2


@pytest.mark.parametrize("action", ["raise", "unknown_id", "not_an_object"])
def test_an_error_or_an_invalid_response_keeps_the_whole_batch(run, action: str):
    # neither message was deleted: both came back and, after one receive each, went to the dead-letter queue
    q = run[action]
    assert q.batches() == [["m0", "m1"]]
    assert run["status"]["queue_mappings"][q.uuid]["messages_deleted"] == 0


def test_partial_responses_are_ignored_without_report_batch_item_failures(run):
    q = run["ignored"]
    assert q.batches() == [["m0", "m1"]]
    assert q.bodies(q.queue_url) == [] and q.bodies(q.dlq_url) == []


def test_batch_size_and_window_gather_several_receives_into_one_invocation(run):
    # one invocation of 12, then the remaining 3 when the window closed
    q = run["window"]
    assert [len(b) for b in q.batches()] == [12, 3]
    assert sorted(itertools.chain(*q.batches())) == sorted(f"m{i}" for i in range(15))


def test_the_sqs_event_has_lambdas_exact_shape(run):
    q = run["shape"]
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
        run["shape_ids"][0],
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
