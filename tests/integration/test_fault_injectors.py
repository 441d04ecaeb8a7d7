"""Both fault injectors read one plan and answer as the services do: the in-process one on botocore's
``before-send`` (under moto's ``mock_aws``) and the local cloud's fault proxy (in front of a moto server).

Each case runs the same boto3 calls through each injector: throttling and HTTP 500 are retried by
botocore's standard retry mode (``max_attempts: 3`` in a botocore Config counts retries: 4 attempts, 4
injections; its backoff sleeps on a virtual clock here) and then raised with the
service's own code; a partial failure answers HTTP 200 with the failed entries in the service's shape,
and the backend stores only the entries the client is told succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.fault_proxy import Fault, FaultProxy
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.faults import FaultInjectionRefusedError, FaultPlan
from sensorflow.localcloud.faults.botocore_injector import BotocoreFaultInjector
from sensorflow.localcloud.faults.virtual_clock import VirtualClock, virtual_botocore_backoff

REGION = "us-east-1"
RETRIES = Config(retries={"mode": "standard", "max_attempts": 3})

MakeClient = Callable[[str], Any]


def plan(*rules: dict[str, Any], seed: int = 3) -> FaultPlan:
    return FaultPlan.from_dict({"seed": seed, "rules": list(rules)})


class Harness:
    """One injector, the plan it applies, and clients whose calls it decides."""

    def __init__(self, kind: str, client: MakeClient, apply: Callable[[FaultPlan], Any]) -> None:
        self.kind = kind
        self.client = client
        self._apply = apply
        self.counts: Callable[[], dict[str, dict[str, int]]] = dict

    def apply(self, p: FaultPlan) -> None:
        self.counts = self._apply(p)


@pytest.fixture(scope="module")
def proxied() -> Iterator[tuple[MotoServer, FaultProxy]]:
    proxy = FaultProxy(0)
    with MotoServer(0, also_ports=(proxy.port,)) as server:
        assert server.port is not None
        proxy.upstream_port = server.port
        proxy.start()
        try:
            yield server, proxy
        finally:
            proxy.stop()


@pytest.fixture(autouse=True)
def _virtual_backoff() -> Iterator[None]:
    with virtual_botocore_backoff(VirtualClock()):
        yield


@pytest.fixture(params=["botocore", "proxy"])
def harness(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_LAMBDA_FUNCTION_NAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    if request.param == "botocore":
        with mock_aws():
            injectors: list[BotocoreFaultInjector] = []
            clients: list[Any] = []

            def make(service: str) -> Any:
                clients.append(boto3.client(service, region_name=REGION, config=RETRIES))
                return clients[-1]

            def apply(p: FaultPlan) -> Callable[[], dict[str, dict[str, int]]]:
                injector = BotocoreFaultInjector(p).install()  # clients created from now on
                for client in clients:  # and those the test already made
                    injector.install_on(client)
                injectors.append(injector)
                return injector.counts

            yield Harness("botocore", make, apply)
            for injector in injectors:
                injector.uninstall()
        return
    server, proxy = request.getfixturevalue("proxied")
    reset(server)
    proxy.decider = None
    endpoint = Endpoint(proxy.url)

    def apply_proxy(p: FaultPlan) -> Callable[[], dict[str, dict[str, int]]]:
        proxy.apply_plan(p)
        return proxy.plan_counts

    yield Harness("proxy", lambda s: endpoint.client(s), apply_proxy)
    proxy.decider = None


def test_throttling_is_retried_by_botocore_then_raised_with_the_service_code(harness: Harness):
    events = harness.client("events")
    harness.apply(plan({"service": "events", "operation": "PutEvents", "kind": "throttle", "rate": 1}))
    with pytest.raises(ClientError) as caught:
        events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["RetryAttempts"] == 3
    assert harness.counts()["events:PutEvents:throttle"] == {"calls": 4, "injected": 4, "entries_failed": 0}


@pytest.mark.parametrize(
    ("service", "kind", "code", "status"),
    [
        ("s3", "throttle", "SlowDown", 503),
        ("s3", "http500", "InternalError", 500),
        ("dynamodb", "throttle", "ProvisionedThroughputExceededException", 400),
        ("dynamodb", "http500", "InternalServerError", 500),
        ("sns", "throttle", "Throttling", 400),
        ("sqs", "throttle", "ThrottlingException", 400),
        ("kinesis", "throttle", "ProvisionedThroughputExceededException", 400),
        ("glue", "http500", "InternalFailure", 500),
    ],
)
def test_each_service_fails_with_its_own_error(
    harness: Harness, service: str, kind: str, code: str, status: int
):
    calls: dict[str, Callable[[Any], Any]] = {
        "s3": lambda c: c.put_object(Bucket="b", Key="k", Body=b"x"),
        "dynamodb": lambda c: c.get_item(TableName="t", Key={"id": {"S": "1"}}),
        "sns": lambda c: c.publish(TopicArn=f"arn:aws:sns:{REGION}:123456789012:t", Message="m"),
        "sqs": lambda c: c.send_message(
            QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/q", MessageBody="m"
        ),
        "kinesis": lambda c: c.put_record(StreamName="s", Data=b"x", PartitionKey="k"),
        "glue": lambda c: c.get_schema_version(SchemaVersionId="00000000-0000-0000-0000-000000000000"),
    }
    client = harness.client(service)
    harness.apply(plan({"service": service, "kind": kind, "rate": 1}))
    with pytest.raises(ClientError) as caught:
        calls[service](client)
    error = caught.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
    assert error["ResponseMetadata"]["RetryAttempts"] == 3  # botocore classified it retryable
    assert harness.counts()[f"{service}:*:{kind}"]["injected"] == 4


def test_a_rate_zero_plan_changes_nothing(harness: Harness):
    s3 = harness.client("s3")
    s3.create_bucket(Bucket="kept")
    harness.apply(plan({"service": "s3", "kind": "http500", "rate": 0}))
    s3.put_object(Bucket="kept", Key="k", Body=b"payload")
    assert s3.get_object(Bucket="kept", Key="k")["Body"].read() == b"payload"
    assert harness.counts()["s3:*:http500"] == {"calls": 2, "injected": 0, "entries_failed": 0}


def test_latency_is_waited_then_the_call_goes_through(harness: Harness, monkeypatch: pytest.MonkeyPatch):
    s3 = harness.client("s3")
    s3.create_bucket(Bucket="slow")
    harness.apply(
        plan({"service": "s3", "operation": "PutObject", "kind": "latency", "latency_ms": 150, "rate": 1})
    )
    import time

    t0 = time.monotonic()
    s3.put_object(Bucket="slow", Key="k", Body=b"x")
    assert time.monotonic() - t0 >= 0.15
    assert harness.counts()["s3:PutObject:latency"]["injected"] == 1


def test_put_events_partial_failure_keeps_the_order_and_delivers_only_the_rest(harness: Harness):
    events, sqs = harness.client("events"), harness.client("sqs")
    url = sqs.create_queue(QueueName="bus")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventPattern=json.dumps({"source": ["t"]}))
    events.put_targets(Rule="all", Targets=[{"Id": "q", "Arn": arn}])
    harness.apply(plan({"service": "events", "operation": "PutEvents", "kind": "partial", "rate": 0.5}))
    entries = [{"Source": "t", "DetailType": "d", "Detail": json.dumps({"i": i})} for i in range(10)]
    answer = events.put_events(Entries=entries)
    failed = [i for i, e in enumerate(answer["Entries"]) if "ErrorCode" in e]
    assert answer["FailedEntryCount"] == len(failed) > 0 and len(answer["Entries"]) == 10
    assert {answer["Entries"][i]["ErrorCode"] for i in failed} == {"ThrottlingException"}
    delivered = sorted(json.loads(m["Body"])["detail"]["i"] for m in drain(sqs, url))
    assert delivered == [i for i in range(10) if i not in failed]
    assert harness.counts()["events:PutEvents:partial"]["entries_failed"] == len(failed)


def test_publish_batch_partial_failure_reports_failed_ids(harness: Harness):
    sns, sqs = harness.client("sns"), harness.client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    harness.apply(plan({"service": "sns", "operation": "PublishBatch", "kind": "partial", "rate": 0.5}))
    entries = [
        {
            "Id": f"e{i}",
            "Message": f"m{i}",
            "MessageAttributes": {"n": {"DataType": "String", "StringValue": str(i)}},
        }
        for i in range(10)
    ]
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    failed = {f["Id"] for f in answer["Failed"]}
    assert failed and {s["Id"] for s in answer["Successful"]} == {f"e{i}" for i in range(10)} - failed
    assert all(f["Code"] == "InternalError" and f["SenderFault"] is False for f in answer["Failed"])
    delivered = sorted(m["Body"] for m in drain(sqs, url))
    assert delivered == sorted(f"m{i}" for i in range(10) if f"e{i}" not in failed)


def test_every_entry_failing_needs_no_backend_answer(harness: Harness):
    sqs = harness.client("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    harness.apply(plan({"service": "sqs", "operation": "SendMessageBatch", "kind": "partial", "rate": 1}))
    answer = sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"m{i}", "MessageBody": "x"} for i in range(3)]
    )
    assert [f["Id"] for f in answer["Failed"]] == ["m0", "m1", "m2"] and not answer.get("Successful")
    assert drain(sqs, url) == []


def test_batch_write_item_partial_failure_returns_unprocessed_items(harness: Harness):
    ddb = harness.client("dynamodb")
    ddb.create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    harness.apply(plan({"service": "dynamodb", "kind": "partial", "rate": 0.4}))
    puts = [{"PutRequest": {"Item": {"id": {"S": str(i)}}}} for i in range(20)]
    answer = ddb.batch_write_item(RequestItems={"t": puts})
    unprocessed = {r["PutRequest"]["Item"]["id"]["S"] for r in answer["UnprocessedItems"].get("t", [])}
    stored = {i["id"]["S"] for i in ddb.scan(TableName="t")["Items"]}
    assert unprocessed and stored == {str(i) for i in range(20)} - unprocessed
    keys = [{"id": {"S": str(i)}} for i in range(20)]
    got = ddb.batch_get_item(RequestItems={"t": {"Keys": keys}})
    returned = {i["id"]["S"] for i in got["Responses"]["t"]}
    missing = {k["id"]["S"] for k in got["UnprocessedKeys"].get("t", {}).get("Keys", [])}
    assert missing and returned == stored - missing


def test_put_records_partial_failure_stores_only_the_rest(harness: Harness):
    kinesis = harness.client("kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    harness.apply(plan({"service": "kinesis", "operation": "PutRecords", "kind": "partial", "rate": 0.3}))
    answer = kinesis.put_records(
        StreamName="s", Records=[{"Data": b"%d" % i, "PartitionKey": "k"} for i in range(20)]
    )
    failed = [i for i, r in enumerate(answer["Records"]) if "ErrorCode" in r]
    assert answer["FailedRecordCount"] == len(failed) > 0
    assert {answer["Records"][i]["ErrorCode"] for i in failed} == {"ProvisionedThroughputExceededException"}
    shard = kinesis.list_shards(StreamName="s")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName="s", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    stored = [r["Data"] for r in kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]]
    assert stored == [b"%d" % i for i in range(20) if i not in failed]


def reset(server: MotoServer) -> None:
    """Forget every resource (moto's reset API), so each case starts from an empty account."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{server.url}/moto-api/reset", method="POST"), timeout=30)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return out
        out += messages
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_armed_faults_still_come_first_on_the_proxy(proxied):
    server, proxy = proxied
    reset(server)
    s3 = Endpoint(proxy.url).client("s3")
    s3.create_bucket(Bucket="armed")
    proxy.apply_plan(plan({"service": "s3", "kind": "http500", "rate": 0}))
    proxy.arm(Fault("s3", "PutObject", 1, 503, "SlowDown"))
    s3.put_object(Bucket="armed", Key="k", Body=b"x")  # one SlowDown, retried by botocore
    status = proxy.status()
    assert status["injected"] == {"s3:PutObject:SlowDown": 1}
    assert status["plan"]["rules"][0]["calls"] == 1  # only the retry reached the plan
    proxy.decider = None


def test_the_in_process_injector_refuses_outside_moto(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    p = plan({"service": "s3", "kind": "throttle", "rate": 1})
    with pytest.raises(FaultInjectionRefusedError, match="moto's mock is not active"):
        BotocoreFaultInjector(p).install()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "sensorflow-prod-ingest")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://s3.eu-west-1.amazonaws.com")
    with (
        mock_aws(),
        pytest.raises(FaultInjectionRefusedError, match="in Lambda function sensorflow-prod-ingest"),
    ):
        BotocoreFaultInjector(p).install()


def test_the_proxy_refuses_a_plan_when_its_upstream_is_not_loopback():
    proxy = FaultProxy(0, host="127.0.0.1")
    try:
        proxy.host = "10.1.2.3"  # never wired so; a plan must not reach a remote upstream
        with pytest.raises(FaultInjectionRefusedError, match=r"10\.1\.2\.3"):
            proxy.apply_plan(plan({"service": "s3", "kind": "throttle", "rate": 1}))
    finally:
        proxy.stop()
