"""Exhausted retries, recovered on the local cloud: ingest -> on-failure queue -> failures -> quarantine.

Every S3 PutObject to the readings bucket fails at the fault proxy (the functions' endpoint), so each
ingest invocation reports the whole batch failed, the Kinesis mapping retries it ``maximumRetryAttempts``
times and sends its metadata to ``IngestFailureQueue``; the local SQS mapping runs the ``failures`` function
on it, which re-reads the range from the stream and writes the exact bytes to the quarantine.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from sensorflow.localcloud.cloud import LocalCloud
from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.fault_proxy import Fault

PREFIX = "quarantine/retries_exhausted/"


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    return local_cloud  # the tier's shared local cloud (tests/e2e/conftest.py)


def wait_for(probe: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"not observed within {timeout_s}s")


def test_a_batch_that_exhausts_its_retries_is_recovered_into_the_quarantine(cloud: LocalCloud):
    assert cloud.info is not None and cloud.proxy is not None and cloud.runtime is not None
    outputs = cloud.info.outputs
    endpoint = Endpoint(cloud.info.endpoint)
    s3, kinesis = endpoint.client("s3"), endpoint.client("kinesis")
    quarantine = outputs["QuarantineBucketName"]
    # GIVEN the readings bucket refuses every write made by the functions
    outage = Fault(
        "s3",
        "PutObject",
        count=100_000,
        status=503,
        code="SlowDown",
        path_contains=f"/{outputs['ReadingsBucketName']}/",
    )
    cloud.proxy.arm(outage)
    try:
        # WHEN one record is published
        data = b"\x00exhausted-retries\xff"
        put = kinesis.put_record(StreamName=outputs["SensorStreamName"], PartitionKey="dev-e2e", Data=data)
        shard, sequence = put["ShardId"], put["SequenceNumber"]

        # THEN the failures function, run by the SQS mapping, writes it to the quarantine with the metadata
        def recovered() -> list[str]:
            listing = s3.list_objects_v2(Bucket=quarantine, Prefix=PREFIX).get("Contents", [])
            return [o["Key"] for o in listing]

        [key] = wait_for(recovered, 90)
    finally:
        outage.count = 0  # disarmed: later tests of the module see a healthy bucket
    assert key.endswith(f"/{outputs['SensorStreamName']}/{shard}/{sequence}-{sequence}.jsonl")
    [line] = [json.loads(x) for x in s3.get_object(Bucket=quarantine, Key=key)["Body"].iter_lines()]
    assert (line["reason"], base64.b64decode(line["payload"]), line["sequence_number"]) == (
        "retries_exhausted",
        data,
        sequence,
    )
    detail = json.loads(line["detail"])
    # ingest's mapping: maximumRetryAttempts 5, so the first invocation and five retries
    assert (detail["condition"], detail["approximate_invoke_count"], detail["records_found"]) == (
        "RetryAttemptsExhausted",
        6,
        1,
    )
    assert outage.injected > 0
    # AND the message was consumed: nothing is left in flight, the queue and its dead-letter queue are empty
    assert cloud.runtime.wait_idle(30)
    sqs = endpoint.client("sqs")
    for url in (outputs["FailureQueueUrl"], outputs["FailureDeadLetterQueueUrl"]):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (
            attributes["ApproximateNumberOfMessages"],
            attributes["ApproximateNumberOfMessagesNotVisible"],
        ) == (
            "0",
            "0",
        )
    [invocation] = [i for i in cloud.runtime.stats.history() if i.source == "sqs"]
    assert (invocation.function, invocation.outcome) == (f"sensorflow-{cloud.stage}-failures", "ok")
