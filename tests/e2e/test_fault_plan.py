"""A fault plan through the local cloud's proxy, end to end: the real functions in the local Lambda
runtime, their AWS calls failing at issue 14's rates (plus an S3 brownout that outlasts botocore's
retries, so the event source mapping redelivers), and every published record enriched or quarantined
exactly once, by its sequence number, against the simulator's ground truth."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import fastavro

from sensorflow.localcloud.cloud import LocalCloud
from sensorflow.localcloud.faults import FaultPlan
from sensorflow.simulate import SimConfig, generate
from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE, OUTCOME, OUTCOME_QUARANTINED

REPO = Path(__file__).resolve().parents[2]
DRAIN_TIMEOUT_S = 120.0
S3_BROWNOUT = {
    "name": "s3-brownout",
    "service": "s3",
    "operation": "PutObject",
    "kind": "http500",
    "rate": 0.5,
}


def publish(cloud: LocalCloud, records: list[Any]) -> list[str]:
    """PutRecords straight to moto (the producer is not under the plan); the sequence number of each."""
    assert cloud.endpoint is not None and cloud.info is not None
    kinesis = cloud.endpoint.client("kinesis")
    stream = cloud.info.outputs["SensorStreamName"]
    sequence_numbers: list[str] = []
    for first in range(0, len(records), 500):
        chunk = records[first : first + 500]
        answer = kinesis.put_records(
            StreamName=stream, Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in chunk]
        )
        assert answer["FailedRecordCount"] == 0
        sequence_numbers += [r["SequenceNumber"] for r in answer["Records"]]
    return sequence_numbers


def outputs(cloud: LocalCloud, mine: set[str]) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
    """Enriched rows and quarantine lines per sequence number (only ``mine``: the cloud is shared)."""
    assert cloud.endpoint is not None and cloud.info is not None
    s3 = cloud.endpoint.client("s3")
    enriched: dict[str, int] = {}
    quarantined: dict[str, int] = {}
    reasons: dict[str, str] = {}
    for bucket, prefix in (("ReadingsBucketName", "readings/"), ("QuarantineBucketName", "quarantine/year=")):
        name = cloud.info.outputs[bucket]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name, Prefix=prefix):
            for obj in page.get("Contents", []):
                body = s3.get_object(Bucket=name, Key=obj["Key"])["Body"].read()
                if prefix == "readings/":
                    for row in fastavro.reader(io.BytesIO(body)):
                        assert isinstance(row, dict)
                        if row["sequence_number"] in mine:
                            enriched[row["sequence_number"]] = enriched.get(row["sequence_number"], 0) + 1
                    continue
                for line in body.decode().splitlines():
                    entry = json.loads(line) if line.strip() else {}
                    seq = entry.get("sequence_number")
                    if seq in mine:
                        quarantined[seq] = quarantined.get(seq, 0) + 1
                        reasons[seq] = entry["reason"]
    return enriched, quarantined, reasons


def test_under_a_fault_plan_through_the_proxy_every_record_is_stored_or_quarantined_once(
    local_cloud: LocalCloud,
) -> None:
    # GIVEN the shared local cloud with issue 14's mix and an S3 brownout applied at the proxy, and a
    # fleet of 6 registered devices over 5 minutes with 2% malformed payloads and producer duplicates
    assert local_cloud.proxy is not None and local_cloud.runtime is not None
    runtime = local_cloud.runtime
    discarded_before = sum(m["records_discarded"] for m in runtime.status()["mappings"].values())
    mix = json.loads((REPO / "examples" / "faults" / "issue14-mix.json").read_text())
    plan = FaultPlan.from_dict({"seed": 14, "rules": [*mix["rules"], S3_BROWNOUT]}, source="issue14-mix+s3")
    records = list(
        generate(
            SimConfig(
                devices=6,
                duration_s=300,
                seed=21,
                scenario_rate=0.05,
                malformed_rate=0.02,
                scenario_mix={**DEFAULT_SCENARIO_MIX, DUPLICATE: 10.0},
            )
        )
    )
    local_cloud.proxy.apply_plan(plan)
    try:
        # WHEN they are published and the ingest function drains the stream through the proxy
        sequence_numbers = publish(local_cloud, records)
        mine = set(sequence_numbers)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            enriched, quarantined, reasons = outputs(local_cloud, mine)
            if len(enriched) + len(quarantined) >= len(mine) and local_cloud.runtime.idle():
                break
            assert time.monotonic() < deadline, f"{len(enriched) + len(quarantined)} of {len(mine)} stored"
            time.sleep(1.0)
        status = local_cloud.proxy.status()["plan"]
    finally:
        local_cloud.proxy.clear_plan()
    # THEN the plan injected faults into the functions' calls to the services the pipeline uses
    injected = {r["label"]: r for r in status["rules"]}
    assert sum(r["injected"] for r in injected.values()) > 0
    assert all(injected[f"{s}:*:throttle"]["calls"] > 0 for s in ("events", "sns", "dynamodb", "s3"))
    # ... and every published record is in exactly one output, the one the ground truth says
    for record, seq in zip(records, sequence_numbers, strict=True):
        want_quarantine = OUTCOME[record.truth["kind"]] == OUTCOME_QUARANTINED
        got = (enriched.get(seq, 0), quarantined.get(seq, 0))
        assert got == ((0, 1) if want_quarantine else (1, 0)), (
            record.truth,
            got,
            base64.b64encode(record.data),
        )
        if want_quarantine and record.truth.get("expected_reason"):
            assert reasons[seq] == record.truth["expected_reason"]
    # ... and no batch of this test was discarded (the cloud is shared: another test forces a discard)
    mappings = runtime.status()["mappings"].values()
    assert sum(m["records_discarded"] for m in mappings) == discarded_before
