"""The sample events in events/ are current (regenerated from the schemas) and behave as documented."""

from __future__ import annotations

import json
import time
from pathlib import Path

import fastavro
import pytest

from events.generate import SAMPLES
from handlers.heartbeat import handler as heartbeat_handler
from handlers.ingest import handler
from sensorflow import bootstrap
from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
from sensorflow.core import schemas, staleness
from sensorflow.core.alarms import DeviceState, SensorSeen
from tests.integration.conftest import FakeContext, Stack
from tests.integration.test_ingest import read_quarantine, read_readings

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_committed_sample_matches_the_generator(name: str):
    assert json.loads((EVENTS / name).read_text()) == SAMPLES[name](), (
        "run `make events` and commit the result"
    )


@pytest.fixture
def registry(lambda_env: Stack) -> Stack:
    for i in range(5):
        lambda_env.put_device(f"dev-{i:05d}")
    return lambda_env


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_valid_sample_is_fully_enriched(registry: Stack):
    assert handler(load("ingest-valid.json"), FakeContext()) == {"batchItemFailures": []}
    rows = read_readings(registry)
    assert [(r["device_id"], r["unit"], round(r["value"], 2)) for r in rows] == [
        ("dev-00000", "C", 21.4),
        ("dev-00001", "%RH", 44.0),
        ("dev-00002", "hPa", 1013.0),
        ("dev-00003", "C", 21.78),
        ("dev-00004", "mm/s", 2.2),
    ]


def test_poison_sample_quarantines_each_pill_with_its_reason(registry: Stack):
    assert handler(load("ingest-poison.json"), FakeContext()) == {"batchItemFailures": []}
    assert [q["reason"] for q in read_quarantine(registry)] == [
        "decode_error",
        "trailing_bytes",
        "decode_error",
        "implausible_value",
        "unknown_device",
    ]
    assert [r["seq"] for r in read_readings(registry)] == [101, 201]


def test_thresholds_sample_raises_and_clears_the_expected_alarms(registry: Stack):
    assert handler(load("ingest-thresholds.json"), FakeContext()) == {"batchItemFailures": []}
    transitions = registry.drain(registry.all_alerts_queue_url)
    for t in transitions:  # every message is a valid sensorflow.TransitionEvent
        fastavro.validate(t, schemas.load(schemas.TRANSITION), raise_errors=True)
    assert [(t["transition"], t["device"]["device_id"], t["alarm"]["severity"]) for t in transitions] == [
        ("Alarm Raised", "dev-00001", "critical"),
        ("Alarm Raised", "dev-00000", "critical"),
        ("Alarm Raised", "dev-00002", "warning"),
        ("Alarm Cleared", "dev-00002", "warning"),
    ]


def test_heartbeat_sample_raises_the_device_whose_deadline_passed(lambda_env: Stack):
    # GIVEN a device item whose sensor went silent 10 minutes ago (stale_after 300 s)
    now_ms = time.time_ns() // 1_000_000
    seen = now_ms - 600_000
    state = DeviceState("dev-00000", last_seen_ms=seen, sensors={"temperature": SensorSeen(seen, 21.0, 300)})
    DynamoAlarmStore(lambda_env.settings.alarms_table, lambda_env.clients["dynamodb"]).put_device(state, {})
    bootstrap.heartbeat_service.cache_clear()
    # WHEN the heartbeat handles the committed scheduled event
    try:
        out = heartbeat_handler(load("heartbeat-schedule.json"), FakeContext())
    finally:
        bootstrap.heartbeat_service.cache_clear()
    # THEN exactly that device's Device Stale went out
    assert out["raised"] == [staleness.stale_event_id("dev-00000", seen + 300_000)]
    [stale] = [t for t in lambda_env.drain(lambda_env.all_alerts_queue_url) if "transition" in t]
    assert (stale["transition"], stale["alarm"]["device_id"]) == ("Device Stale", "dev-00000")
