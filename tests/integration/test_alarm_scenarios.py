"""Issue 5's simulator scenario test: the real ingest handler and heartbeat under moto, held to the truth.

GIVEN a seeded fleet with forced excursions, a trailing dropout and random scenarios (spikes, stuck
sensors, clock skew, late readings, duplicates, ghosts, malformed payloads), WHEN every record goes
through the ingest handler in order (500 per invocation, arriving at the end of device time) and the
heartbeat then runs, THEN the transitions on the topic are exactly what the ground truth predicts --
per alarm, in order, with severities, and caused by the predicted reading -- and replaying the whole
stream emits nothing more.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import boto3
import pytest

from handlers.ingest import handler
from sensorflow.adapters import dynamodb_alarms
from sensorflow.bootstrap import build_heartbeat_service
from sensorflow.config import HeartbeatSettings
from sensorflow.core.records import StreamRecord
from sensorflow.simulate import SimConfig, generate, registry_items
from sensorflow.simulate.truth import expected_stale, expected_transitions, stale_alarm_id
from tests.factories import SHARD, kinesis_event, seq_number
from tests.integration.conftest import REGION, FakeContext, Stack

START_MS = 1_795_900_000_000  # 2026-11-28T21:06:40Z; every record "arrives" at END_MS (Kinesis arrival time)
DURATION_S = 1200
END_MS = START_MS + DURATION_S * 1000
HEARTBEAT_AT_MS = END_MS + 5_000
BATCH = 500
CONFIG = SimConfig(
    devices=8,
    duration_s=DURATION_S,
    seed=6,
    start_ms=START_MS,
    scenario_rate=0.04,
    malformed_rate=0.02,
    min_excursions=3,
    trailing_dropouts=1,
    scenario_mix={
        "excursion": 2.0,
        "spike": 4.0,
        "stuck": 1.0,
        "dropout": 1.0,
        "clock_skew": 1.0,
        "late": 1.0,
        "duplicate": 1.0,
        "unknown_device": 1.0,
    },
)


def ingest(records: list[Any]) -> None:
    stream = [
        StreamRecord(SHARD, seq_number(i), r.partition_key, r.data, END_MS) for i, r in enumerate(records)
    ]
    for first in range(0, len(stream), BATCH):
        resp = handler(kinesis_event(stream[first : first + BATCH]), FakeContext())
        assert resp == {"batchItemFailures": []}


def by_alarm(messages: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for m in messages:
        seq = (m["reading"] or {}).get("seq", -1)
        out[m["alarm"]["alarm_id"]].append((m["transition"], m["alarm"]["severity"], seq))
    return {k: [(t, s) for t, s, _ in sorted(v, key=lambda x: x[2])] for k, v in out.items()}


@pytest.fixture
def fleet(lambda_env: Stack) -> Stack:
    table = boto3.resource("dynamodb", region_name=REGION).Table(lambda_env.settings.device_table)
    assert CONFIG.devices is not None
    with table.batch_writer() as batch:
        for item in registry_items(CONFIG.resolved().fleet or ()):
            batch.put_item(Item=item)
    return lambda_env


def test_sustained_excursions_spikes_and_a_dropout_give_exactly_the_predicted_transitions(
    fleet: Stack, monkeypatch: pytest.MonkeyPatch
):
    records = list(generate(CONFIG))
    truths = [r.truth for r in records]
    expected = expected_transitions(records, now_ms=HEARTBEAT_AT_MS)
    # the run exercises what it should (fixed by the seed)
    spikes = [t for t in truths if t["scenario"] == "spike"]
    excursions = {t["event_id"] for t in truths if t["scenario"] == "excursion"}
    assert len({t["event_id"] for t in spikes}) >= 2 and len(excursions) >= 3
    assert expected_stale(records, HEARTBEAT_AT_MS) == {t["device_id"] for t in truths if t.get("trailing")}
    complete = [
        v
        for v in expected.values()
        if v == [("Alarm Raised", "warning"), ("Alarm Escalated", "critical"), ("Alarm Cleared", "critical")]
    ]
    assert len(complete) >= 3

    # WHEN every record is ingested in order (processed as it arrives: the alarm store's clock, which floors
    # the staleness buckets, is the simulated one), then the heartbeat runs
    monkeypatch.setattr(dynamodb_alarms, "wall_clock_ms", lambda: END_MS)
    ingest(records)
    heartbeat = build_heartbeat_service(
        HeartbeatSettings(
            alarms_table=fleet.settings.alarms_table,
            alerts_topic_arn=fleet.settings.alerts_topic_arn,
            alerts_event_bus=fleet.settings.alerts_event_bus,
        )
    )
    heartbeat.clock_ms = lambda: HEARTBEAT_AT_MS
    outcome = heartbeat.run(lambda: 60_000)
    messages = fleet.drain(fleet.all_alerts_queue_url)

    # THEN the transitions per alarm are exactly the predicted ones
    assert by_alarm(messages) == expected
    # ... each caused by the reading the truth names
    caused = {
        (e["alarm_id"], e["transition"], t["seq"])
        for t in truths
        if t["kind"] == "valid"
        for e in t.get("expected_transitions", [])
    }
    assert {
        (m["alarm"]["alarm_id"], m["transition"], m["reading"]["seq"]) for m in messages if m["reading"]
    } == caused
    # ... spikes caused nothing, and the dropout device went stale exactly once
    assert all(t["expected_transitions"] == [] for t in spikes)
    spike_seqs = {(t["device_id"], t["seq"]) for t in spikes}
    assert not [
        m for m in messages if m["reading"] and (m["alarm"]["device_id"], m["reading"]["seq"]) in spike_seqs
    ]
    [dropout] = {t["device_id"] for t in truths if t.get("trailing")}
    assert [m["transition"] for m in messages if m["alarm"]["device_id"] == dropout] == ["Device Stale"]
    assert by_alarm(messages)[stale_alarm_id(dropout)] == [("Device Stale", "warning")]
    assert len(outcome.raised) == 1

    # WHEN the whole stream is replayed THEN nothing new is emitted
    ingest(records)
    assert heartbeat.run(lambda: 60_000).raised == []
    assert fleet.drain(fleet.all_alerts_queue_url) == []
