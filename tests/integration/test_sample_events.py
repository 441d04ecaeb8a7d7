"""The sample events in events/ are current (regenerated from the schemas) and behave as documented."""

from __future__ import annotations

import json
from pathlib import Path

import fastavro
import pytest

from events.generate import SAMPLES
from handlers.ingest import handler
from sensorflow.core import schemas
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
