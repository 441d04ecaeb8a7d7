"""Issue 14's invariants, on the real ingest handler under moto with faults injected before sending.

The fault layer is the in-process injector on botocore's ``before-send`` (``faults.botocore_injector``):
nothing in the handler, the service or the adapters is mocked, and botocore's own standard retry mode
handles each fault first. A simulated fleet with ground truth (malformed payloads, producer duplicates,
unknown devices, excursions that raise, escalate and clear) goes through an emulation of the Kinesis
event source mapping's contract (``tests.reliability.harness.deliver``: redeliver from the lowest
reported sequence number, the whole batch on a function error). Backoff and injected latency pass in
virtual time, so the deadline is the context's and the run stays fast.
"""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorflow.core.decode import encode_reading
from sensorflow.core.records import StreamRecord
from sensorflow.localcloud.faults import FaultPlan
from sensorflow.localcloud.faults.virtual_clock import VirtualClock
from sensorflow.simulate import SimConfig, generate, registry_items
from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE
from sensorflow.simulate.truth import expected_transitions
from tests.factories import SHARD, seq_number
from tests.reliability import harness as h

REPO = Path(__file__).resolve().parents[2]
START_MS = 1_795_900_000_000  # every record "arrives" at the end of device time, as in the scenario test
ISSUE14_MIX = json.loads((REPO / "examples" / "faults" / "issue14-mix.json").read_text())
# On top of the issue's mix, two brownouts that botocore's 4 attempts do not always absorb, so the
# function itself reports records and the event source mapping redelivers (0.6^4 = 13% of PublishBatch
# calls and 0.5^4 = 6% of PutObject calls fail after botocore's retries).
BROWNOUTS = [
    {"name": "sns-brownout", "service": "sns", "operation": "PublishBatch", "kind": "throttle", "rate": 0.6},
    {"name": "s3-brownout", "service": "s3", "operation": "PutObject", "kind": "http500", "rate": 0.5},
]


@functools.cache
def fleet(devices: int, duration_s: int, seed: int, excursions: int = 2) -> tuple[SimConfig, list[Any]]:
    """2% malformed input, producer duplicates (a heavier weight than the default mix), forced excursions."""
    mix = {**DEFAULT_SCENARIO_MIX, DUPLICATE: 10.0}
    config = SimConfig(
        devices=devices,
        duration_s=duration_s,
        seed=seed,
        start_ms=START_MS,
        scenario_rate=0.05,
        malformed_rate=0.02,
        min_excursions=excursions,
        scenario_mix=mix,
    )
    return config, list(generate(config))


def registry(config: SimConfig) -> list[dict[str, Any]]:
    return registry_items(config.resolved().fleet or ())


def event_id(message: dict[str, Any]) -> str:
    return str(message["event_id"])


def bus_event_id(event: dict[str, Any]) -> str:
    return str(event["detail"]["event_id"])


def test_every_record_once_and_no_duplicate_transition_under_faults_replays_and_a_rewind():
    # GIVEN a fleet of 8 devices over 10 minutes (malformed payloads, duplicates, ghosts, excursions) and
    # issue 14's fault mix plus brownouts of SNS and S3 that outlast botocore's retries
    config, records = fleet(devices=8, duration_s=600, seed=12)
    end_ms = START_MS + 600_000
    plan = FaultPlan.from_dict({"seed": 14, "rules": ISSUE14_MIX["rules"] + BROWNOUTS})
    assert sum(r.truth["kind"] == "duplicate" for r in records) >= 3
    assert sum(r.truth["kind"] == "malformed" for r in records) >= 0.015 * len(records)
    expected = expected_transitions(records)
    with h.pipeline(plan, registry(config), store_clock_ms=end_ms) as pipe:
        streams = h.shard_streams(records, end_ms, shards=2)
        # WHEN two shards are delivered with the event source mapping's contract
        run = h.deliver_all(pipe, streams, batch_size=100)
        # THEN the faults were real: injected, some past botocore's retries into batchItemFailures
        counts = pipe.counts()
        assert counts["sns-brownout"]["injected"] > 0 and counts["events:*:throttle"]["calls"] > 0
        assert any(i.reported for i in run.invocations) and run.lowest_failed
        # ... and every published record is enriched or quarantined exactly once, as the truth says
        result = h.conservation(records, h.read_stored())
        assert result.ok, (result.stored_twice[:5], result.missing[:5], result.wrong_outcome[:5])
        assert result.enriched + result.quarantined == result.published == len(records)
        # ... and the transitions are the truth's, each announced once on SNS and on the bus
        messages = pipe.sns_messages()
        assert h.transitions_by_alarm(messages) == expected and expected
        assert h.duplicated_event_ids(messages, event_id) == []
        bus = pipe.bus_events()
        assert bus and h.duplicated_event_ids(bus, bus_event_id) == []

        # WHEN the whole stream is replayed three times, faults still on
        for _ in range(3):
            h.deliver_all(pipe, streams, batch_size=100)
        # ... and then each shard is rewound to the lowest sequence number it ever reported
        starts = {
            shard: next(i for i, r in enumerate(streams[shard]) if r.sequence_number == seq)
            for shard, seq in run.lowest_failed.items()
        }
        h.deliver_all(pipe, {s: streams[s] for s in starts}, batch_size=100, starts=starts)
        # THEN no transition or notification was sent again
        assert len(pipe.sns_messages()) == len(messages)
        assert len(pipe.bus_events()) == len(bus)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    batch_size=st.sampled_from([30, 80]),
    replay_points=st.lists(st.integers(0, 10_000), min_size=1, max_size=1),
    shard_order=st.permutations(list(h.SHARD_IDS)),
    seed=st.integers(0, 2**16),
)
def test_any_delivery_order_and_replay_point_keeps_every_record_once_and_sends_nothing_twice(
    batch_size: int, replay_points: list[int], shard_order: list[str], seed: int
):
    # GIVEN a smaller fleet under issue 14's mix and the brownouts, with a drawn fault seed
    config, records = fleet(devices=4, duration_s=400, seed=3, excursions=1)
    end_ms = START_MS + 400_000
    plan = FaultPlan.from_dict({"seed": seed, "rules": ISSUE14_MIX["rules"] + BROWNOUTS})
    with h.pipeline(plan, registry(config), store_clock_ms=end_ms) as pipe:
        streams = h.shard_streams(records, end_ms, shards=2)
        # WHEN the shards are delivered in the drawn order and batch size
        h.deliver_all(pipe, streams, batch_size, order=lambda shards: [s for s in shard_order if s in shards])
        result = h.conservation(records, h.read_stored())
        messages = pipe.sns_messages()
        # THEN every record once, the truth's transitions once each
        assert result.ok, (result.stored_twice[:5], result.missing[:5], result.wrong_outcome[:5])
        assert h.transitions_by_alarm(messages) == expected_transitions(records)
        assert h.duplicated_event_ids(messages, event_id) == []
        # WHEN each shard is replayed from drawn points
        for point in replay_points:
            starts = {shard: point % len(stream) for shard, stream in streams.items() if stream}
            h.deliver_all(pipe, streams, batch_size, starts=starts)
        # THEN nothing was announced again
        assert len(pipe.sns_messages()) == len(messages)


_seqs = itertools.count(1)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pills=st.lists(st.binary(min_size=0, max_size=40), min_size=1, max_size=4),
    positions=st.lists(st.integers(0, 20), min_size=4, max_size=4),
    batch_size=st.integers(8, 25),
)
def test_a_poison_pill_never_blocks_a_shard_for_longer_than_one_invocation(
    poison_pipeline: h.Pipeline, pills: list[bytes], positions: list[int], batch_size: int
):
    # GIVEN valid readings of registered devices with poison pills (arbitrary bytes) among them
    base = next(_seqs) * 1_000
    valid = [
        encode_reading(
            {
                "device_id": f"dev-{i % 3:05d}",
                "sensor_type": "temperature",
                "value": 21.0,
                "unit": "C",
                "timestamp": POISON_ARRIVAL_MS - 60_000 + base + i,
                "seq": base + i,
                "battery_pct": 80.0,
                "firmware": "1.0.0",
            }
        )
        for i in range(16)
    ]
    payloads: list[tuple[str, bytes, bool]] = [(f"dev-{i % 3:05d}", d, False) for i, d in enumerate(valid)]
    for pill, position in zip(pills, positions, strict=False):
        payloads.insert(min(position, len(payloads)), ("dev-00000", pill, True))
    stream = [
        StreamRecord(SHARD, seq_number(base + i), key, data, POISON_ARRIVAL_MS)
        for i, (key, data, _) in enumerate(payloads)
    ]
    pill_seqs = {r.sequence_number for r, (_, _, pill) in zip(stream, payloads, strict=True) if pill}
    # WHEN the shard is delivered
    run = h.deliver(poison_pipeline, stream, batch_size)
    # THEN every batch was committed whole in the one invocation that delivered it: no pill was
    # reported, none was delivered twice, and each is in the quarantine with a reason
    assert run.max_stall == 0 and all(not i.reported for i in run.invocations)
    assert len(run.invocations) == -(-len(stream) // batch_size)
    stored = h.read_stored()
    assert all(stored.quarantined[s] == 1 and stored.readings[s] == 0 for s in pill_seqs)
    assert all(stored.readings[r.sequence_number] == 1 for r in stream if r.sequence_number not in pill_seqs)


POISON_ARRIVAL_MS = START_MS + 3_600_000


@pytest.fixture
def poison_pipeline():
    devices = [
        {"device_id": f"dev-{i:05d}", "site": "s", "location": "l", "model": "m", "owner_team": "t"}
        for i in range(3)
    ]
    with h.pipeline(None, devices, store_clock_ms=POISON_ARRIVAL_MS) as pipe:
        yield pipe


def test_injected_latency_never_pushes_an_invocation_past_its_deadline_and_loses_nothing():
    # GIVEN registry (and silence) lookups 150 ms slow and S3 writes 200 ms slow, a function timeout of
    # 3 s and DEADLINE_MARGIN_MS 1000; the context's clock counts only injected latency and botocore's
    # backoff, so the outcome does not depend on the machine's load
    config, records = fleet(devices=20, duration_s=120, seed=5, excursions=0)
    end_ms = START_MS + 120_000
    plan = FaultPlan.from_dict({"seed": 5, "rules": SLOW_LOOKUPS_AND_WRITES})
    clock = VirtualClock(real=False)
    with h.pipeline(plan, registry(config), clock=clock, store_clock_ms=end_ms) as pipe:
        stream = h.shard_streams(records, end_ms)[h.SHARD_IDS[0]]
        # WHEN it is delivered in batches of 100
        run = h.deliver(pipe, stream, batch_size=100, timeout_ms=3_000)
        # THEN every invocation returned before its deadline
        margins = [i.margin_ms for i in run.invocations]
        assert min(margins) > 0, margins
        # ... the first one stopped early and reported exactly the records it did not process
        first = run.invocations[0]
        assert first.reported and first.reported == first.sequence_numbers[-len(first.reported) :]
        assert len(first.reported) < len(first.sequence_numbers)
        assert pipe.counts()["dynamodb:GetItem:latency"]["injected"] >= 13
        # ... and none was lost
        result = h.conservation(records, h.read_stored())
        assert result.ok and result.enriched + result.quarantined == len(records)


SLOW_LOOKUPS_AND_WRITES = [
    {"service": "dynamodb", "operation": "GetItem", "kind": "latency", "latency_ms": 150, "rate": 1},
    {"service": "s3", "operation": "PutObject", "kind": "latency", "latency_ms": 200, "rate": 1},
]
