"""Fidelity of the local Kinesis event source mapping, one AWS-documented behaviour per test.

Each test deploys a stream, an on-failure queue, a function (handler from tests/e2e/fixtures/handlers.py)
and a mapping straight through the Lambda API of a fresh moto server, puts records, runs the local
runtime until the shard is drained and asserts the exact invocations and destination messages.
Sources: docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html,
.../services-kinesis-parameters.html, .../kinesis-on-failure-destination.html, .../with-kinesis.html
"""

from __future__ import annotations

import base64
import io
import itertools
import json
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.emulator.runtime import LocalRuntime
from sensorflow.localcloud.emulator.runtime_stats import Invocation

REPO = Path(__file__).resolve().parents[2]
HANDLERS = "tests/e2e/fixtures/handlers"


class LocalStack:
    """One stream + function + mapping on a moto server, and the runtime that serves them."""

    def __init__(self, endpoint: Endpoint, log_dir: Path) -> None:
        self.endpoint = endpoint
        self.log_dir = log_dir
        self.kinesis = endpoint.client("kinesis")
        self.sqs = endpoint.client("sqs")
        self.lambda_ = endpoint.client("lambda")
        self.runtime: LocalRuntime | None = None
        self.stream_arn = ""
        self.queue_url = ""
        self.function_arn = ""
        self.shard_of: dict[tuple[str, str], str] = {}  # (sequence number, shard) -> record id

    def deploy(
        self,
        *,
        handler: str = f"{HANDLERS}.flaky",
        shards: int = 1,
        timeout: int = 5,
        environment: dict[str, str] | None = None,
        **mapping: Any,
    ) -> None:
        self.kinesis.create_stream(StreamName="readings", ShardCount=shards)
        self.stream_arn = self.kinesis.describe_stream_summary(StreamName="readings")[
            "StreamDescriptionSummary"
        ]["StreamARN"]
        self.queue_url = self.sqs.create_queue(QueueName="on-failure")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        role = self.endpoint.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"][
            "Arn"
        ]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("placeholder.py", "")
        self.function_arn = self.lambda_.create_function(
            FunctionName="fn",
            Runtime="python3.12",
            Role=role,
            Handler=handler,
            Code={"ZipFile": code.getvalue()},
            Timeout=timeout,
            MemorySize=256,
            Environment={"Variables": {"SEEN_DIR": str(self.log_dir / "seen"), **(environment or {})}},
        )["FunctionArn"]
        settings: dict[str, Any] = {
            "BatchSize": 10,
            "StartingPosition": "TRIM_HORIZON",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "DestinationConfig": {"OnFailure": {"Destination": queue_arn}},
        }
        settings.update(mapping)
        self.lambda_.create_event_source_mapping(
            EventSourceArn=self.stream_arn, FunctionName="fn", **settings
        )

    def put(self, *bodies: dict[str, Any], key: str = "device-1") -> list[str]:
        sequence_numbers = []
        for body in bodies:
            response = self.kinesis.put_record(
                StreamName="readings", PartitionKey=body.get("key", key), Data=json.dumps(body)
            )
            self.shard_of[response["SequenceNumber"], response["ShardId"]] = body["id"]
            sequence_numbers.append(response["SequenceNumber"])
        return sequence_numbers

    def run(self, clock_offset_s: float = 0.0, timeout_s: float = 30.0) -> list[Invocation]:
        import time

        self.runtime = LocalRuntime(
            self.endpoint,
            task_root=REPO,
            log_dir=self.log_dir,
            retry_backoff=lambda retries: 0.0,
            clock=lambda: time.time() + clock_offset_s,
        )
        self.runtime.start()
        assert self.runtime.wait_idle(timeout_s), "the shard was not drained in time"
        return self.runtime.stats.history()

    def failures(self) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalStack]:
    with MotoServer(0, tmp_path / "moto.log") as server:
        stack = LocalStack(Endpoint(server.url), tmp_path / "logs")
        try:
            yield stack
        finally:
            if stack.runtime is not None:
                stack.runtime.stop()


def calls(history: list[Invocation]) -> list[tuple[tuple[str, ...], str]]:
    return [(i.sequence_numbers, i.outcome) for i in history]


def test_partial_failure_redelivers_from_the_lowest_reported_sequence_number(local: LocalStack) -> None:
    # GIVEN six records where the 3rd and 5th are reported failed once
    local.deploy()
    seqs = local.put(
        {"id": "a"},
        {"id": "b"},
        {"id": "c", "do": "fail", "times": 1},
        {"id": "d"},
        {"id": "e", "do": "fail", "times": 1},
        {"id": "f"},
    )
    # WHEN the runtime drains the shard
    history = local.run()
    # THEN the retry starts at the lowest failed record and includes the later, successful ones
    assert calls(history) == [(tuple(seqs), "partial"), (tuple(seqs[2:]), "ok")]
    assert local.failures() == []


def test_whole_batch_error_retries_maximum_retry_attempts_then_sends_the_batch_to_on_failure(
    local: LocalStack,
) -> None:
    # GIVEN a batch of two whose first record always raises, two retries allowed, then one good record
    local.deploy(BatchSize=2, MaximumRetryAttempts=2)
    seqs = local.put({"id": "a", "do": "raise"}, {"id": "b"}, {"id": "c"})
    # WHEN
    history = local.run()
    # THEN the batch is invoked 1 + 2 times, discarded, and processing moves on
    bad = (tuple(seqs[:2]), "error")
    assert calls(history) == [bad, bad, bad, ((seqs[2],), "ok")]
    [record] = local.failures()
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == local.function_arn
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["version"] == "1.0"
    info = record["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (
        "shardId-000000000000",
        seqs[0],
        seqs[1],
        2,
    )
    assert info["streamArn"] == local.stream_arn
    assert info["approximateArrivalOfFirstRecord"].endswith("Z")
    assert "payload" not in record and "Records" not in json.dumps(record)


def test_bisect_splits_a_failing_batch_without_using_retries(local: LocalStack) -> None:
    # GIVEN four records, the third always raises; bisect on, one retry
    local.deploy(BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=1)
    s = local.put({"id": "a"}, {"id": "b"}, {"id": "c", "do": "raise"}, {"id": "d"})
    # WHEN
    history = local.run()
    # THEN halves are tried in order until the poison record is alone; only then are retries spent
    assert calls(history) == [
        ((s[0], s[1], s[2], s[3]), "error"),
        ((s[0], s[1]), "ok"),
        ((s[2], s[3]), "error"),
        ((s[2],), "error"),
        ((s[2],), "error"),
        ((s[3],), "ok"),
    ]
    [record] = local.failures()
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (s[2], s[2], 1)


def test_a_timeout_is_a_function_error_and_the_environment_is_replaced(local: LocalStack) -> None:
    # GIVEN a 1 s function timeout, a record that sleeps 3 s, no retries
    local.deploy(handler=f"{HANDLERS}.flaky", timeout=1, BatchSize=1, MaximumRetryAttempts=0)
    s = local.put({"id": "slow", "do": "sleep", "seconds": 3}, {"id": "b"})
    # WHEN
    history = local.run()
    # THEN the slow invocation is cut at the timeout, discarded, and the next record still runs
    assert calls(history) == [((s[0],), "timeout"), ((s[1],), "ok")]
    assert history[0].error_type == "Sandbox.Timedout"
    assert 900 <= history[0].duration_ms < 2500
    [record] = local.failures()
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == s[0]


@pytest.mark.parametrize("action", ["blank_id", "wrong_key"])
def test_an_invalid_item_identifier_fails_the_whole_batch(local: LocalStack, action: str) -> None:
    # GIVEN a response whose batchItemFailures entry has an empty identifier or a wrong key name
    local.deploy(MaximumRetryAttempts=1)
    s = local.put({"id": "a"}, {"id": "b", "do": action}, {"id": "c"})
    # WHEN
    history = local.run()
    # THEN the whole batch counts as failed (nothing checkpointed) and is retried, then discarded whole
    assert calls(history) == [(tuple(s), "invalid_response"), (tuple(s), "invalid_response")]
    [record] = local.failures()
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (s[0], s[2], 3)


def test_partial_responses_are_ignored_without_report_batch_item_failures(local: LocalStack) -> None:
    # GIVEN a mapping without FunctionResponseTypes and a record the function reports as failed
    local.deploy(FunctionResponseTypes=[])
    s = local.put({"id": "a"}, {"id": "b", "do": "fail"})
    # WHEN / THEN the response is not read: one successful invocation
    assert calls(local.run()) == [(tuple(s), "ok")]


def test_records_older_than_maximum_record_age_are_discarded_without_invoking(local: LocalStack) -> None:
    # GIVEN a 60 s maximum record age and a clock two minutes ahead of the records' arrival
    local.deploy(MaximumRecordAgeInSeconds=60)
    s = local.put({"id": "a"}, {"id": "b"})
    # WHEN
    history = local.run(clock_offset_s=120)
    # THEN the function never sees them and the destination gets a RecordAgeExceeded record
    assert history == []
    [record] = local.failures()
    assert record["requestContext"]["condition"] == "RecordAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    info = record["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (s[0], s[1], 2)


def test_order_is_kept_per_shard_with_one_batch_in_flight(local: LocalStack) -> None:
    # GIVEN two shards, forty records over many partition keys, small batches, some partial failures
    local.deploy(shards=2, BatchSize=3)
    bodies = [
        {"id": f"r{i}", "key": f"k{i % 7}", **({"do": "fail", "times": 1} if i % 5 == 0 else {})}
        for i in range(40)
    ]
    local.put(*bodies)
    # WHEN
    history = local.run()
    # THEN per shard, successful deliveries cover each record once in sequence order and never overlap
    by_shard: dict[str, list[Invocation]] = {}
    for invocation in history:
        assert invocation.shard_id is not None
        by_shard.setdefault(invocation.shard_id, []).append(invocation)
    assert len(by_shard) == 2
    for shard_id, invocations in by_shard.items():
        committed: list[int] = []
        for invocation, after in zip(invocations, [*invocations[1:], None], strict=True):
            seqs = [int(s) for s in invocation.sequence_numbers]
            assert seqs == sorted(seqs)
            assert not committed or seqs[0] > committed[-1]  # never goes back past the checkpoint
            if invocation.outcome == "ok":
                committed.extend(seqs)
            else:  # a partial response: checkpointed up to where the next delivery restarts
                assert invocation.outcome == "partial" and after is not None
                committed.extend(s for s in seqs if s < int(after.sequence_numbers[0]))
        expected = sorted(int(seq) for seq, shard in local.shard_of if shard == shard_id)
        assert committed == expected
        spans = [(i.at - i.duration_ms / 1000, i.at) for i in invocations]
        assert all(end <= next_start + 0.005 for (_, end), (next_start, _) in itertools.pairwise(spans))
    deliveries = Counter((seq, i.shard_id) for i in history for seq in i.sequence_numbers)
    marked = {k for k, record_id in local.shard_of.items() if int(record_id[1:]) % 5 == 0}
    assert {k for k in marked if deliveries[k] == 2} == marked  # each marked record failed exactly once


def test_the_execution_environment_matches_lambda(local: LocalStack) -> None:
    # GIVEN a function with its own environment and a 7 s timeout
    local.deploy(handler=f"{HANDLERS}.introspect", timeout=7, BatchSize=1, environment={"APP_MODE": "local"})
    local.put({"id": "a"}, {"id": "b"}, key="dev-00001")
    # WHEN
    assert [len(i.sequence_numbers) for i in local.run()] == [1, 1] and local.runtime is not None
    # THEN the handler saw the exact Kinesis event, a real context and the deployed environment, warm
    results = [local.runtime.invoke("fn", {"Records": []}).payload for _ in range(2)]
    first = results[0]
    assert first["function_name"] == "fn"
    assert first["memory_limit_in_mb"] == 256
    assert first["invoked_function_arn"] == local.function_arn
    assert first["log_group_name"] == "/aws/lambda/fn"
    # counted down from the deployed 7 s timeout (loose below: a loaded CI machine may be slow to start it)
    assert 1000 < first["remaining_ms"] <= 7000
    assert first["env"]["APP_MODE"] == "local"
    assert first["env"]["AWS_ENDPOINT_URL"] == local.endpoint.url
    assert first["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
    assert first["env"]["_HANDLER"] == f"{HANDLERS}.introspect"
    # the same execution environment serves the next invocation, warm (which of the pool's environments
    # took the two stream batches depends on scheduling, as on Lambda)
    assert results[1]["pid"] == first["pid"]
    assert results[1]["warm_invocations"] == first["warm_invocations"] + 1 >= 2


def test_the_kinesis_event_has_lambdas_exact_shape(local: LocalStack, tmp_path: Path) -> None:
    # GIVEN a function that writes down every event it is given
    sink = tmp_path / "events.jsonl"
    local.deploy(handler=f"{HANDLERS}.recorder", BatchSize=1, environment={"RECORD_TO": str(sink)})
    [seq] = local.put({"id": "a"}, key="dev-00042")
    arrival = local.kinesis.get_records(
        ShardIterator=local.kinesis.get_shard_iterator(
            StreamName="readings", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
    )["Records"][0]["ApproximateArrivalTimestamp"].timestamp()
    # WHEN the mapping delivers the record
    assert local.run()
    # THEN the one event the function received is exactly Lambda's Kinesis event
    [event] = [json.loads(line) for line in sink.read_text().splitlines()]
    [event_record] = event["Records"]
    role = local.lambda_.get_function_configuration(FunctionName="fn")["Role"]
    assert event_record == {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "dev-00042",
            "sequenceNumber": seq,
            "data": base64.b64encode(json.dumps({"id": "a"}).encode()).decode(),
            "approximateArrivalTimestamp": round(arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role,
        "awsRegion": "us-east-1",
        "eventSourceARN": local.stream_arn,
    }


def test_the_batching_window_gathers_records_into_one_batch(local: LocalStack) -> None:
    # GIVEN a 2 s batching window and records put one by one after the runtime started
    local.deploy(BatchSize=100, MaximumBatchingWindowInSeconds=2)
    import time

    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    local.runtime.start()
    # WHEN each record is put only after the reader has read the one before (separate GetRecords pages,
    # so with no window each would be its own invocation)
    s: list[str] = []
    for n, record_id in enumerate("abc", start=1):
        s += local.put({"id": record_id})
        deadline = time.monotonic() + 15
        while records_seen(local.runtime) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert records_seen(local.runtime) == n
    # THEN one invocation carries all three
    assert local.runtime.wait_idle(15)
    assert calls(local.runtime.stats.history()) == [(tuple(s), "ok")]


def records_seen(runtime: LocalRuntime) -> int:
    return int(runtime.stats.snapshot().get("stream", {}).get("readings", {}).get("records_seen", 0))


def test_without_a_batching_window_records_read_apart_are_separate_invocations(local: LocalStack) -> None:
    # GIVEN the same puts as above, with no batching window: the counterpart that makes the test above fail
    # when the window is ignored
    local.deploy(BatchSize=100)
    import time

    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    local.runtime.start()
    s: list[str] = []
    for n, record_id in enumerate("abc", start=1):
        s += local.put({"id": record_id})
        deadline = time.monotonic() + 15
        while len(local.runtime.stats.history()) < n and time.monotonic() < deadline:
            time.sleep(0.02)
    assert local.runtime.wait_idle(15)
    assert calls(local.runtime.stats.history()) == [((seq,), "ok") for seq in s]


def test_a_batching_window_invokes_as_soon_as_the_batch_reaches_6_mb(local: LocalStack) -> None:
    # GIVEN a 60 s batching window, a batch size of 100 and eight ~900 KiB records put at once
    local.deploy(BatchSize=100, MaximumBatchingWindowInSeconds=60)
    import time

    bodies = [{"id": f"big{i}", "pad": "x" * (900 * 1024)} for i in range(8)]
    sequence_numbers = local.put(*bodies)
    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    started = time.monotonic()
    local.runtime.start()
    # WHEN the reader has them all
    deadline = started + 20
    while not local.runtime.stats.history() and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN the first invocation came long before the window ended, cut below the 6 MB invoke payload limit
    [first, *_] = local.runtime.stats.history()
    assert time.monotonic() - started < 20
    assert first.outcome == "ok"
    assert first.sequence_numbers == tuple(sequence_numbers[: len(first.sequence_numbers)])
    delivered_bytes = sum(len(json.dumps(b)) * 4 // 3 for b in bodies[: len(first.sequence_numbers)])
    assert delivered_bytes <= 6 * 1024 * 1024 < delivered_bytes + len(json.dumps(bodies[0])) * 4 // 3 + 700


def test_filter_criteria_decide_which_records_reach_the_function(local: LocalStack) -> None:
    # GIVEN a mapping with two filters (OR): data.kind is "alarm", or data.level above 5
    patterns = [{"data": {"kind": ["alarm"]}}, {"data": {"level": [{"numeric": [">", 5]}]}}]
    local.deploy(FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})
    kept = local.put({"id": "a", "kind": "alarm"}, {"id": "b", "level": 9})
    local.put({"id": "c", "kind": "reading", "level": 1}, {"id": "d"})
    local.kinesis.put_record(StreamName="readings", PartitionKey="device-1", Data=b"\x00avro-not-json")
    # WHEN
    history = local.run()
    # THEN exactly the matching records were delivered; the others were dropped and count as processed
    delivered = [seq for i in history for seq in i.sequence_numbers]
    assert delivered == kept
    assert local.runtime is not None
    assert (
        local.runtime.stats.snapshot()["mapping"][local.runtime.mappings[0].mapping.uuid]["records_filtered"]
        == 3
    )


def test_parallelization_factor_runs_lanes_concurrently_and_keeps_order_per_key(local: LocalStack) -> None:
    # GIVEN one shard read by three lanes, records over six keys, each taking 0.15 s to process
    local.deploy(BatchSize=2, ParallelizationFactor=3)
    bodies = [{"id": f"r{i}", "key": f"k{i % 6}", "do": "sleep", "seconds": 0.15} for i in range(24)]
    local.put(*bodies)
    # WHEN
    history = local.run(timeout_s=60)
    # THEN every record was delivered once, in sequence order per key ...
    key_of = {seq: f"k{int(rid[1:]) % 6}" for (seq, _), rid in local.shard_of.items()}
    per_key: dict[str, list[int]] = {}
    for invocation in sorted(history, key=lambda i: i.at):
        for seq in invocation.sequence_numbers:
            per_key.setdefault(key_of[seq], []).append(int(seq))
    assert sum(len(v) for v in per_key.values()) == 24
    assert all(v == sorted(v) for v in per_key.values())
    # ... batches holding the same key never ran at the same time ...
    spans = [(i.at - i.duration_ms / 1000, i.at, {key_of[s] for s in i.sequence_numbers}) for i in history]
    for (a_start, a_end, a_keys), (b_start, b_end, b_keys) in itertools.combinations(spans, 2):
        if a_keys & b_keys:
            assert a_end <= b_start + 0.005 or b_end <= a_start + 0.005
    # ... and batches of different lanes did (the lanes are concurrent, not one after another)
    assert any(
        a_start < b_end - 0.05 and b_start < a_end - 0.05
        for (a_start, a_end, _), (b_start, b_end, _) in itertools.combinations(spans, 2)
    )


def test_reserved_concurrency_zero_pauses_the_mapping_and_lifting_it_resumes(local: LocalStack) -> None:
    # GIVEN a function paused the usual way (reserved concurrency 0) and a mapping that allows no retry
    local.deploy(MaximumRetryAttempts=0)
    local.lambda_.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    [seq] = local.put({"id": "a"})
    import time

    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    local.runtime.start()
    uuid = local.runtime.mappings[0].mapping.uuid

    def throttles() -> int:
        assert local.runtime is not None
        return int(local.runtime.stats.snapshot().get("mapping", {}).get(uuid, {}).get("throttles", 0))

    deadline = time.monotonic() + 15
    while throttles() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN while paused it throttles: nothing is invoked, nothing discarded
    assert throttles() >= 2
    assert local.runtime.stats.history() == []
    # WHEN the pause is lifted with the Lambda API, against the running runtime
    local.lambda_.delete_function_concurrency(FunctionName="fn")
    # THEN the record is delivered once and nothing went to the on-failure queue
    assert local.runtime.wait_idle(20)
    assert calls(local.runtime.stats.history()) == [((seq,), "ok")]
    assert local.failures() == []
    # and the batch's IteratorAge is a CloudWatch metric of the function, as on AWS (an alarm can read it)
    metrics = local.endpoint.client("cloudwatch").list_metrics(
        Namespace="AWS/Lambda", MetricName="IteratorAge"
    )
    assert [m["Dimensions"] for m in metrics["Metrics"]] == [[{"Name": "FunctionName", "Value": "fn"}]]


def test_a_mapping_disabled_updated_and_re_enabled_on_a_running_runtime_carries_on_from_its_checkpoint(
    local: LocalStack,
) -> None:
    # GIVEN a running runtime that delivered r0..r2
    local.deploy(BatchSize=10)
    import time

    first = local.put(*({"id": f"r{i}"} for i in range(3)))
    local.runtime = LocalRuntime(
        local.endpoint, task_root=REPO, log_dir=local.log_dir, retry_backoff=lambda r: 0.0
    )
    local.runtime.start()
    assert local.runtime.wait_idle(20)
    [uuid] = [m["UUID"] for m in local.lambda_.list_event_source_mappings()["EventSourceMappings"]]

    def reconciled_after(runs: int) -> bool:
        assert local.runtime is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if local.runtime.stats.snapshot().get("runtime", {}).get("reconcile", {}).get("runs", 0) > runs:
                return True
            time.sleep(0.05)
        return False

    def runs() -> int:
        assert local.runtime is not None
        return int(local.runtime.stats.snapshot().get("runtime", {}).get("reconcile", {}).get("runs", 0))

    # WHEN the mapping is disabled through the Lambda API and records keep arriving
    local.lambda_.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert reconciled_after(runs())
    assert local.runtime.mappings == []
    later = local.put({"id": "r3"}, {"id": "r4"})
    assert reconciled_after(runs())  # another pass over what is deployed: still disabled, nothing delivered
    assert [s for i in local.runtime.stats.history() for s in i.sequence_numbers] == first
    # WHEN it is re-enabled with a new batch size
    local.lambda_.update_event_source_mapping(UUID=uuid, Enabled=True, BatchSize=1)
    assert reconciled_after(runs())
    assert local.runtime.wait_idle(20)
    # THEN it carried on after its checkpoint: r3 and r4 once each, one per batch, nothing delivered twice
    assert calls(local.runtime.stats.history()) == [
        (tuple(first), "ok"),
        ((later[0],), "ok"),
        ((later[1],), "ok"),
    ]


def test_a_mapping_added_to_a_running_runtime_is_started(local: LocalStack) -> None:
    # GIVEN a running runtime with no mapping at all
    local.deploy()
    [uuid] = [m["UUID"] for m in local.lambda_.list_event_source_mappings()["EventSourceMappings"]]
    local.lambda_.delete_event_source_mapping(UUID=uuid)
    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    local.runtime.start()
    assert local.runtime.mappings == []
    # WHEN a mapping is created (as a redeploy would) and a record is put
    local.lambda_.create_event_source_mapping(
        EventSourceArn=local.stream_arn, FunctionName="fn", BatchSize=10, StartingPosition="TRIM_HORIZON"
    )
    [seq] = local.put({"id": "a"})
    import time

    deadline = time.monotonic() + 20
    while not local.runtime.mappings and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN the runtime starts it within a few seconds and delivers the record
    assert local.runtime.wait_idle(20)
    assert calls(local.runtime.stats.history()) == [((seq,), "ok")]


def test_latest_delivers_only_what_arrives_after_the_mapping_starts_reading(local: LocalStack) -> None:
    # GIVEN a LATEST mapping and a record already in the stream
    local.deploy(StartingPosition="LATEST")
    local.put({"id": "before"})
    import time

    local.runtime = LocalRuntime(local.endpoint, task_root=REPO, log_dir=local.log_dir)
    local.runtime.start()
    # the shard reader has its iterator once it reports itself caught up
    deadline = time.monotonic() + 15
    while not local.runtime.idle() and time.monotonic() < deadline:
        time.sleep(0.05)
    # WHEN a record arrives afterwards
    [after] = local.put({"id": "after"})
    deadline = time.monotonic() + 15
    while not local.runtime.stats.history() and time.monotonic() < deadline:
        time.sleep(0.05)
    # THEN only that one is delivered
    assert local.runtime.wait_idle(15)
    assert calls(local.runtime.stats.history()) == [((after,), "ok")]
