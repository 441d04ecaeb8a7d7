"""heartbeat under moto: exactly the silent devices go stale, found by Querying due buckets (never a Scan),
published once, retried from the outbox after a failed publish, and cleared by the next reading; a reading
processed long after it arrived still goes stale; an undelivered clear in the outbox survives the raise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sensorflow.adapters import dynamodb_alarms
from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
from sensorflow.adapters.dynamodb_heartbeat import DynamoHeartbeatCheckpoint
from sensorflow.core import staleness
from sensorflow.core.alarms import DeviceState, Sample, SensorSeen
from sensorflow.core.ports import RemainingTime, TransitionLike, VersionConflictError
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.rules import parse_rule_book
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.heartbeat import PARK_AFTER_ATTEMPTS, HeartbeatService
from tests.factories import SHARD, device, seq_number
from tests.integration.conftest import REGION, create_alarms_table

TABLE = "sensorflow-test-alarms"
NOW = 1_795_900_000_000 + 30_000  # 30 s into a minute
CONTEXT = {"device_id": "", "site": "site-a", "location": "hall-1", "model": "TH-200", "owner_team": "ops"}


class RecordingPublisher:
    name = "recording"

    def __init__(self) -> None:
        self.published: list[dict[str, Any]] = []
        self.fail = False

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        if self.fail:
            return {t.event_id for t in transitions}
        self.published += [t.to_message() for t in transitions]
        return set()


@dataclass
class Fleet:
    client: Any
    publisher: RecordingPublisher
    calls: list[str] = field(default_factory=list)
    now: int = NOW

    def __post_init__(self) -> None:
        self.store = DynamoAlarmStore(TABLE, self.client, clock_ms=lambda: self.now)

    def device(self, device_id: str, silent_for_s: int, stale_after_s: int | None = 300) -> None:
        """A device whose last reading came ``silent_for_s`` ago, written by the ingest side as it arrived."""
        seen = self.now - silent_for_s * 1000
        DynamoAlarmStore(TABLE, self.client, clock_ms=lambda: seen).put_device(
            DeviceState(
                device_id,
                last_seen_ms=seen,
                sensors={"temperature": SensorSeen(seen, 21.5, stale_after_s)},
                context={**CONTEXT, "device_id": device_id},
            ),
            {},
        )

    def service(self) -> HeartbeatService:
        return HeartbeatService(
            store=self.store,
            checkpoint=DynamoHeartbeatCheckpoint(TABLE, self.store.client),
            publishers=[self.publisher],
            initial_lookback_minutes=10,
            clock_ms=lambda: self.now,
        )

    def state(self, device_id: str) -> Any:
        return self.store.load([device_id])[device_id]


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_alarms_table(ddb, TABLE)
        f = Fleet(ddb, RecordingPublisher())

        def no_scan(**_: Any) -> None:
            raise AssertionError("heartbeat must not Scan the alarms table")

        ddb.meta.events.register("before-call.dynamodb.Scan", no_scan)
        ddb.meta.events.register("before-call.dynamodb.*", lambda model, **_: f.calls.append(model.name))
        yield f


def stale_ids(fleet: Fleet) -> list[str]:
    return sorted(m["alarm"]["device_id"] for m in fleet.publisher.published)


def test_exactly_the_silent_devices_go_stale_without_a_scan(fleet: Fleet):
    # GIVEN devices silent for various times against a 300 s limit, and one with no staleness rule
    fleet.device("dev-00001", silent_for_s=600)  # deadline 5 min ago
    fleet.device("dev-00002", silent_for_s=330)  # deadline 30 s ago
    fleet.device("dev-00003", silent_for_s=299)  # deadline in 1 s
    fleet.device("dev-00004", silent_for_s=60)  # deadline in 4 min
    fleet.device("dev-00005", silent_for_s=3600, stale_after_s=None)  # never stale
    fleet.device("dev-00006", silent_for_s=1200)  # deadline 15 min ago: outside the first-run lookback
    fleet.calls.clear()
    # WHEN the heartbeat runs
    outcome = fleet.service().run(lambda: 60_000)
    # THEN exactly the devices past their deadline (within the lookback) are raised, once each
    assert stale_ids(fleet) == ["dev-00001", "dev-00002"]
    deadline_1 = NOW - 300_000
    assert set(outcome.raised) == {
        staleness.stale_event_id("dev-00001", deadline_1),
        staleness.stale_event_id("dev-00002", NOW - 30_000),
    }
    # AND the run only Queried the due buckets (11 minutes x shards), read the items found there (the
    # index holds keys only), and wrote what it raised
    assert "Scan" not in fleet.calls
    assert fleet.calls.count("Query") == 11 * staleness.STALE_BUCKET_SHARDS == outcome.queries
    assert set(fleet.calls) == {"GetItem", "Query", "BatchGetItem", "PutItem", "UpdateItem"}
    # AND the device item records the stale episode, outbox emptied; checkpoint = the last full minute
    stored = fleet.state("dev-00001")
    assert (stored.state.stale_since_ms, stored.outbox) == (deadline_1, ())
    assert outcome.checkpoint == staleness.minute_of(NOW) - 1
    # AND the event follows the contract
    doc = next(m for m in fleet.publisher.published if m["alarm"]["device_id"] == "dev-00001")
    assert doc["transition"] == "Device Stale"
    assert doc["alarm"]["alarm_id"] == staleness.stale_alarm_id("dev-00001")
    assert doc["rule"]["bound"] == "stale" and doc["rule"]["threshold"] == 300.0
    assert doc["device"]["site"] == "site-a"


def test_the_next_runs_raise_nothing_new_and_query_only_new_minutes(fleet: Fleet):
    fleet.device("dev-00001", silent_for_s=600)
    fleet.service().run(lambda: 60_000)
    fleet.now += 60_000
    fleet.calls.clear()
    outcome = fleet.service().run(lambda: 60_000)
    assert outcome.raised == []
    assert len(fleet.publisher.published) == 1
    # the previous minute (overlap), the one that just completed, and the current one
    assert outcome.queries == 3 * staleness.STALE_BUCKET_SHARDS


def test_a_device_that_goes_silent_later_is_found_when_its_minute_comes(fleet: Fleet):
    fleet.device("dev-00003", silent_for_s=299)
    assert fleet.service().run(lambda: 60_000).raised == []
    fleet.now += 2 * 60_000
    outcome = fleet.service().run(lambda: 60_000)
    assert stale_ids(fleet) == ["dev-00003"]
    assert outcome.raised == [staleness.stale_event_id("dev-00003", NOW + 1_000)]


def test_a_failed_publish_stays_in_the_outbox_and_is_published_next_run(fleet: Fleet):
    fleet.device("dev-00001", silent_for_s=600)
    fleet.publisher.fail = True
    first = fleet.service().run(lambda: 60_000)
    assert first.raised == [] and first.failed_minutes == [staleness.minute_of(NOW - 300_000)]
    assert [t.event_id for t in fleet.state("dev-00001").outbox] == [
        staleness.stale_event_id("dev-00001", NOW - 300_000)
    ]
    fleet.publisher.fail = False
    fleet.now += 60_000
    second = fleet.service().run(lambda: 60_000)
    assert second.republished == [staleness.stale_event_id("dev-00001", NOW - 300_000)]
    assert stale_ids(fleet) == ["dev-00001"]
    assert fleet.state("dev-00001").outbox == ()


def test_a_reading_clears_the_stale_device_and_the_heartbeat_leaves_it_alone(fleet: Fleet):
    # GIVEN a device the heartbeat has marked stale
    fleet.device("dev-00001", silent_for_s=600)
    fleet.service().run(lambda: 60_000)
    # WHEN a reading arrives (the ingest side's DeviceState.observe, as the alarm evaluator calls it)
    stored = fleet.state("dev-00001").state
    sample = Sample("dev-00001", "temperature", 6, fleet.now, fleet.now + 5_000, 21.7, "C")
    resumed, events = stored.observe(sample, 300, None)
    fleet.store.put_device(resumed, {}, events)
    # THEN it emits Alarm Cleared for the device's stale alarm ...
    assert [(e.transition, e.to_message()["alarm"]["alarm_id"]) for e in events] == [
        ("Alarm Cleared", staleness.stale_alarm_id("dev-00001"))
    ]
    # ... and later heartbeat runs raise nothing until the device is silent again
    fleet.now += 60_000
    assert fleet.service().run(lambda: 60_000).raised == []
    fleet.now += 300_000
    outcome = fleet.service().run(lambda: 60_000)
    # device time + 300 s, the device's second stale episode
    assert outcome.raised == [staleness.stale_event_id("dev-00001", NOW + 300_000, 2)]


class ConflictingClear:
    """The real store, except that clearing an outbox loses a race (a reading wrote the item first)."""

    def __init__(self, inner: DynamoAlarmStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState:
        raise VersionConflictError(f"{state.item_id} changed since version {state.version}")


def test_a_lost_race_on_the_outbox_clear_does_not_fail_the_run(fleet: Fleet):
    # GIVEN a silent device, and an outbox clear that loses a race after the publish went out
    fleet.device("dev-00001", silent_for_s=600)
    service = fleet.service()
    service.store = ConflictingClear(fleet.store)  # type: ignore[assignment]
    # WHEN the heartbeat runs
    out = service.run(lambda: 60_000)
    # THEN the event counts as raised, the run completes and the checkpoint moves on
    assert out.raised == [staleness.stale_event_id("dev-00001", NOW - 300_000)]
    assert (out.failed_minutes, out.checkpoint) == ([], staleness.minute_of(NOW) - 1)
    assert stale_ids(fleet) == ["dev-00001"]


RULES = parse_rule_book(
    {
        "version": 2,
        "rules": [
            {
                "id": "temperature-range",
                "sensor_type": "temperature",
                "warning": {"max": 35.0},
                "critical": {"max": 45.0},
                "stale_after_seconds": 300,
            }
        ],
    },
    {"temperature"},
)


def reading(device_id: str, timestamp_ms: int, arrival_ms: int, seq: int) -> EnrichedReading:
    r = Reading(device_id, "temperature", 21.7, "C", timestamp_ms, seq)
    return EnrichedReading(r, device(device_id), 21.7, "C", arrival_ms, SHARD, seq_number(seq))


def test_a_reading_processed_8_minutes_after_it_arrived_goes_stale_on_the_next_run(fleet: Fleet):
    # GIVEN the deployed wiring (the store and the heartbeat on the wall clock), a heartbeat that has been
    # running once a minute, and a reading that arrived 8 minutes ago (stale_after 300 s)
    store, service = DynamoAlarmStore(TABLE, fleet.client), fleet.service()
    service.clock_ms = dynamodb_alarms.wall_clock_ms
    now = dynamodb_alarms.wall_clock_ms()
    DynamoHeartbeatCheckpoint(TABLE, fleet.client).advance(staleness.minute_of(now) - 1)
    arrival = now - 480_000
    # WHEN the ingest side processes it only now (Lambda was behind), and the heartbeat runs next
    out = AlarmEvaluator(store, RULES, [fleet.publisher]).evaluate(
        [reading("dev-00001", arrival - 200, arrival, 1)], lambda: 60_000
    )
    assert out.failed_from is None
    outcome = service.run(lambda: 60_000)
    # THEN the device went stale on that run, on its exact deadline
    assert outcome.raised == [staleness.stale_event_id("dev-00001", arrival - 200 + 300_000)]
    assert stale_ids(fleet) == ["dev-00001"]


def test_an_undelivered_clear_in_the_outbox_survives_the_next_stale_raise(fleet: Fleet):
    # GIVEN a device the heartbeat marked stale
    fleet.device("dev-00001", silent_for_s=600)
    fleet.service().run(lambda: 60_000)
    first = staleness.stale_event_id("dev-00001", NOW - 300_000)
    # AND a reading ended the silence, but its "Alarm Cleared" could not be published (kept in the outbox)
    fleet.publisher.fail = True
    out = AlarmEvaluator(fleet.store, RULES, [fleet.publisher]).evaluate(
        [reading("dev-00001", NOW + 10_000, NOW + 10_300, 6)], lambda: 60_000
    )
    [cleared] = [u.event.event_id for u in out.undelivered]
    assert [t.event_id for t in fleet.state("dev-00001").outbox] == [cleared]
    # WHEN the device goes silent again, the publisher is back, and the heartbeat raises Device Stale
    fleet.publisher.fail = False
    fleet.now = NOW + 10_000 + 300_000 + 30_000
    again = fleet.service().run(lambda: 60_000)
    second = staleness.stale_event_id("dev-00001", NOW + 310_000, 2)
    assert again.raised == [second]
    # THEN the clear went out before the new episode, and nothing is owed
    assert [(m["event_id"], m["transition"]) for m in fleet.publisher.published] == [
        (first, "Device Stale"),
        (cleared, "Alarm Cleared"),
        (second, "Device Stale"),
    ]
    assert fleet.state("dev-00001").outbox == ()


def test_a_device_whose_event_is_always_refused_is_parked_in_a_later_bucket(fleet: Fleet):
    # GIVEN a silent device whose Device Stale the publisher refuses on every run
    fleet.device("dev-00001", silent_for_s=310)
    event_id = staleness.stale_event_id("dev-00001", NOW - 10_000)
    fleet.publisher.fail = True
    # WHEN the heartbeat has run once a minute, PARK_AFTER_ATTEMPTS times
    outs = []
    for _ in range(PARK_AFTER_ATTEMPTS):
        outs.append(fleet.service().run(lambda: 60_000))
        fleet.now += 60_000
    # THEN the last run parked it: the item counts the attempts, keeps the event, and sits in the bucket
    # of the next minute (where a later run retries it), so its minute no longer holds the checkpoint
    assert [o.parked for o in outs] == [[]] * (PARK_AFTER_ATTEMPTS - 1) + [[event_id]]
    assert outs[-1].checkpoint == staleness.minute_of(fleet.now) - 2
    stored = fleet.state("dev-00001")
    assert ([t.event_id for t in stored.outbox], stored.outbox_attempts) == ([event_id], PARK_AFTER_ATTEMPTS)
    retry_bucket = staleness.stale_bucket("dev-00001", fleet.now)  # parked at the last run + 1 minute
    assert [d.state.device_id for d in fleet.store.due_devices(retry_bucket, fleet.now)] == ["dev-00001"]
    # WHEN the publisher takes it again and the heartbeat runs in that minute
    fleet.publisher.fail = False
    out = fleet.service().run(lambda: 60_000)
    # THEN it is delivered, once, and the item owes nothing
    assert out.republished == [event_id]
    assert stale_ids(fleet) == ["dev-00001"]
    stored = fleet.state("dev-00001")
    assert (stored.outbox, stored.outbox_attempts) == ((), 0)
