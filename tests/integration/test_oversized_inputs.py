"""Oversized registry strings end to end under moto (issue 12): a 150 KB ``site`` must not poison the shard.

Before the caps, a 150 KB ``site`` made a 300 KB SNS entry (the site once in the message, once as a filter
attribute): the ``ValueError`` failed the whole invocation, and the transition stayed in the device item's
outbox, which every later batch touching the device publishes first, so they all failed too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from handlers.ingest import handler
from sensorflow import bootstrap
from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
from sensorflow.core.limits import REGISTRY_TEXT_MAX_CHARS
from sensorflow.core.ports import RemainingTime, TransitionLike
from sensorflow.core.records import Device, StreamRecord
from tests.factories import device, kinesis_event, reading, seq_number, stream_record
from tests.integration.conftest import FakeContext, Stack

HUGE_SITE = "s" * 150_000
DEVICE = "dev-00001"
ALARM = f"{DEVICE}#temperature#temperature-range"
# The alarm tests' rule (tests.factories.TEMPERATURE_RULES): warning above 35 C, critical above 45 C,
# held 60 s, cleared below 34 C. Written to a file so the shipped rules.json can change without this test.
RULES = {
    "version": 2,
    "rules": [
        {
            "id": "temperature-range",
            "sensor_type": "temperature",
            "warning": {"min": 0.0, "max": 35.0},
            "critical": {"min": -10.0, "max": 45.0},
            "for_seconds": 60,
            "deadband": 1.0,
            "stale_after_seconds": 300,
        }
    ],
}
RAISE_AT = 6  # the 7th reading, 10 s apart: 60 s after the first crossing


@pytest.fixture
def env(lambda_env: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps(RULES))
    monkeypatch.setenv("RULES_FILE", str(rules))
    lambda_env.settings = replace(lambda_env.settings, rules_file=rules)
    return lambda_env


def series(values: Sequence[float], start_ms: int, first: int, device_id: str = DEVICE) -> list[StreamRecord]:
    """One record per value, 10 s apart in device time from ``start_ms``, arriving now."""
    now = int(time.time() * 1000)
    return [
        stream_record(
            reading(device_id=device_id, seq=first + i, value=v, timestamp=start_ms + i * 10_000),
            first + i,
            arrival_ms=now,
        )
        for i, v in enumerate(values)
    ]


def objects(stack: Stack, prefix: str) -> dict[str, list[dict[str, Any]]]:
    s3, bucket = stack.clients["s3"], stack.settings.quarantine_bucket
    out = {}
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        out[obj["Key"]] = [json.loads(line) for line in body.splitlines()]
    return out


def transitions(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["transition"], m["alarm"]["alarm_id"]) for m in messages if "transition" in m]


def test_a_registry_site_over_the_cap_quarantines_the_readings_and_the_batch_commits(env: Stack):
    # GIVEN a device whose registry site is 150 KB, written straight to the table (not by the seeding),
    # and a well-formed device beside it
    env.put_device(DEVICE, site=HUGE_SITE)
    env.put_device("dev-00002")
    start = int(time.time() * 1000) - 90_000
    hot = [50.0] * 8
    recs = series(hot, start, 0) + series(hot, start, 8, device_id="dev-00002")
    # WHEN both devices hold a critical temperature for 70 s
    resp = handler(kinesis_event(recs), FakeContext())
    # THEN the batch commits: the oversized device's readings are quarantined, naming the field and the cap
    assert resp == {"batchItemFailures": []}
    [lines] = objects(env, "quarantine/year=").values()
    assert [(q["reason"], q["partition_key"]) for q in lines] == [("registry_invalid", DEVICE)] * 8
    assert lines[0]["detail"] == (
        f"device {DEVICE!r}: site is 150000 characters, over the cap of {REGISTRY_TEXT_MAX_CHARS} characters"
    )
    # AND the other device's alarm is raised and published as usual; nothing of the oversized one
    assert transitions(env.drain(env.all_alerts_queue_url)) == [
        ("Alarm Raised", "dev-00002#temperature#temperature-range")
    ]
    assert objects(env, "quarantine/transitions/") == {}


class DictRegistry:
    """The registry as another tool left it: returns the device whatever its sizes (no read-time check)."""

    def __init__(self, *devices: Device) -> None:
        self.devices = {d.device_id: d for d in devices}

    def get(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)


class Undelivering:
    """A publisher that delivers nothing (every event stays owed), as the pre-fix ValueError left them."""

    def __init__(self, name: str) -> None:
        self.name = name

    def publish(self, events: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        return {e.event_id for e in events}


def test_an_outbox_transition_too_large_for_sns_is_quarantined_and_the_alarm_moves_on(env: Stack):
    # GIVEN the state the bug left: the alarm was raised while the registry site was 150 KB, and the raise,
    # 300 KB as an SNS entry, is still in the device item's outbox (the batch failed from its record)
    start = int(time.time() * 1000) - 120_000
    hot = series([50.0] * 8, start, 0)
    before = bootstrap.build_ingest_service(
        env.settings,
        registry=DictRegistry(device(DEVICE, site=HUGE_SITE)),
        publishers=[Undelivering("sns"), Undelivering("eventbridge")],
        clients=env.clients,
    )
    first = before.process(hot, lambda: 60_000)
    assert first.failed_sequence_numbers == [seq_number(i) for i in range(RAISE_AT, 8)]
    alarms = DynamoAlarmStore(env.settings.alarms_table, env.clients["dynamodb"])
    [owed] = alarms.load([DEVICE])[DEVICE].outbox
    assert (owed.document["transition"], len(owed.document["device"]["site"])) == ("Alarm Raised", 150_000)
    # AND the registry has since been fixed
    env.put_device(DEVICE)

    # WHEN Lambda redelivers from the failed record, with the shipped wiring (the outbox is published first)
    resp = handler(kinesis_event(hot[RAISE_AT:]), FakeContext())

    # THEN the batch commits
    assert resp == {"batchItemFailures": []}
    # AND the raise is quarantined for SNS with the reason and the whole document, and leaves the outbox
    [(key, [record])] = objects(env, "quarantine/transitions/").items()
    assert key.endswith(f"/{owed.event_id}.sns.jsonl")
    assert (record["reason"], record["publisher"], record["event_id"], record["alarm_id"]) == (
        "transition_too_large",
        "sns",
        owed.event_id,
        ALARM,
    )
    assert record["detail"].startswith("SNS entry is 30") and record["detail"].endswith(
        "over PublishBatch's 262144"
    )
    assert record["document"] == owed.document
    assert alarms.load([DEVICE])[DEVICE].outbox == ()
    # AND SNS subscribers never got it, while EventBridge (a 150 KB detail is within its limit) did
    assert transitions(env.drain(env.all_alerts_queue_url)) == []
    assert [(e["detail-type"], e["detail"]["event_id"]) for e in env.drain(env.bus_queue_url)] == [
        ("Alarm Raised", owed.event_id)
    ]

    # WHEN the next batch for that alarm brings it back below the clear line
    resp = handler(kinesis_event(series([30.0, 30.0], start + 80_000, 8)), FakeContext())
    # THEN it commits and publishes normally, with the registry's site, and nothing more is quarantined
    assert resp == {"batchItemFailures": []}
    [cleared] = [m for m in env.drain(env.all_alerts_queue_url) if "transition" in m]
    assert (cleared["transition"], cleared["alarm"]["alarm_id"], cleared["device"]["site"]) == (
        "Alarm Cleared",
        ALARM,
        "site-a",
    )
    assert len(objects(env, "quarantine/transitions/")) == 1
    assert alarms.load([DEVICE])[DEVICE].outbox == ()
