"""Benchmark: the ingest handler end to end (decode, registry, alarm lifecycle, S3, SNS, EventBridge)
against moto's in-process mock, with AWS calls counted per operation. Prints figures; asserts nothing.

    .venv/bin/python -m tests.bench.bench_ingest [batches] [batch_size]
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter

# Before anything creates the Powertools logger: the figures, not the per-record logs.
os.environ.update(
    POWERTOOLS_LOG_LEVEL="WARNING", POWERTOOLS_TRACE_DISABLED="1", POWERTOOLS_METRICS_DISABLED="1"
)

import boto3
from moto import mock_aws

from sensorflow.adapters import clients as client_factory
from sensorflow.simulate import SimConfig, generate
from sensorflow.simulate.fleet import load_fleet, registry_items
from tests.factories import SHARD, kinesis_event, seq_number
from tests.integration.conftest import FakeContext, create_alarms_table


def main() -> None:
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="bench-devices",
            AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table = boto3.resource("dynamodb").Table("bench-devices")
        for item in registry_items(load_fleet()):
            table.put_item(Item=item)
        create_alarms_table(ddb, "bench-alarms")
        s3 = boto3.client("s3")
        for b in ("bench-readings", "bench-quarantine"):
            s3.create_bucket(Bucket=b)
        topic = boto3.client("sns").create_topic(Name="bench-alerts")["TopicArn"]
        boto3.client("events").create_event_bus(Name="bench-alerts")
        os.environ.update(
            DEVICE_TABLE_NAME="bench-devices",
            READINGS_BUCKET_NAME="bench-readings",
            QUARANTINE_BUCKET_NAME="bench-quarantine",
            ALERTS_TOPIC_ARN=topic,
            ALERTS_EVENT_BUS_NAME="bench-alerts",
            ALARMS_TABLE_NAME="bench-alarms",
        )
        from handlers.ingest import handler
        from sensorflow.core.records import StreamRecord

        # The first 50 devices of the default fleet send about 3.3 records per second of device time.
        records = list(generate(SimConfig(devices=50, duration_s=batches * size // 3, seed=7)))[
            : batches * size
        ]
        arrival = max(r.truth.get("timestamp_ms", 0) for r in records) + 1000
        stream = [
            StreamRecord(SHARD, seq_number(i), r.partition_key, r.data, arrival)
            for i, r in enumerate(records)
        ]
        calls: Counter[str] = Counter()
        client_factory.reset()
        for service in ("dynamodb", "s3", "sns", "events"):
            client_factory.client(service).meta.events.register(
                "before-call", lambda model, **_: calls.update([model.name])
            )
        start = time.perf_counter()
        for b in range(0, len(stream), size):
            handler(kinesis_event(stream[b : b + size]), FakeContext())
        elapsed = time.perf_counter() - start
    n = len(stream)
    print(f"records                 : {n} in {n // size} batches of {size} (50 devices)")
    print(f"handler throughput      : {n / elapsed:,.0f} records/s against in-process moto")
    print(f"per batch               : {elapsed / (n / size) * 1000:,.0f} ms")
    for op, count in calls.most_common():
        print(f"  {op:<22}: {count:>5} calls ({count / (n / size):.1f} per batch)")


if __name__ == "__main__":
    main()
