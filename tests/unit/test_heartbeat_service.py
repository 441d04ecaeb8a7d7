"""The heartbeat service over in-memory fakes: the staleness index, the checkpoint and two publishers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sensorflow.core import staleness
from sensorflow.core.alarms import DeviceState, Sample, SensorSeen
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.rules import parse_rule_book
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.heartbeat import HeartbeatService
from tests.factories import SHARD, device, seq_number
from tests.fakes import FakeAlarmStore, FakeHeartbeatCheckpoint, FakePublisher

MINUTE = 29_931_667  # epoch minutes
NOW = MINUTE * 60_000 + 30_000  # 30 s into the current minute
SHARDS = staleness.STALE_BUCKET_SHARDS
CONTEXT = {"site": "site-a", "location": "hall-1", "model": "TH-200", "owner_team": "ops"}


@dataclass
class Fleet:
    store: FakeAlarmStore = field(default_factory=FakeAlarmStore)
    checkpoint: FakeHeartbeatCheckpoint = field(default_factory=FakeHeartbeatCheckpoint)
    sns: FakePublisher = field(default_factory=lambda: FakePublisher("sns"))
    bus: FakePublisher = field(default_factory=lambda: FakePublisher("eventbridge"))
    now: int = NOW

    def device(self, device_id: str, silent_for_s: int, stale_after_s: int | None = 300) -> DeviceState:
        seen = self.now - silent_for_s * 1000
        return self.store.seed_device(
            DeviceState(
                device_id,
                last_seen_ms=seen,
                sensors={"temperature": SensorSeen(seen, 21.5, stale_after_s)},
                context={"device_id": device_id, **CONTEXT},
            )
        )

    def service(self) -> HeartbeatService:
        return HeartbeatService(
            store=self.store,
            checkpoint=self.checkpoint,
            publishers=[self.sns, self.bus],
            initial_lookback_minutes=10,
            clock_ms=lambda: self.now,
        )

    def run(self, remaining_ms: int = 60_000):
        return self.service().run(lambda: remaining_ms)


def stale_id(device_id: str, deadline_ms: int) -> str:
    return staleness.stale_event_id(device_id, deadline_ms)


def test_a_device_past_its_deadline_gets_exactly_one_device_stale():
    # GIVEN devices silent for various times against a 300 s limit
    fleet = Fleet()
    fleet.device("dev-00001", silent_for_s=600)  # deadline 5 min ago
    fleet.device("dev-00002", silent_for_s=299)  # deadline in 1 s
    fleet.device("dev-00003", silent_for_s=3600, stale_after_s=None)  # no staleness rule
    fleet.device("dev-00004", silent_for_s=1200)  # deadline 15 min ago: before the first run's lookback
    deadline = NOW - 300_000
    # WHEN the heartbeat runs for the first time
    out = fleet.run()
    # THEN exactly the device past its deadline got one Device Stale, on both publishers
    assert out.raised == [stale_id("dev-00001", deadline)]
    assert fleet.sns.event_ids == fleet.bus.event_ids == [stale_id("dev-00001", deadline)]
    [doc] = fleet.sns.delivered
    assert (doc["transition"], doc["alarm"]["alarm_id"], doc["alarm"]["state"], doc["rule"]["threshold"]) == (
        "Device Stale",
        staleness.stale_alarm_id("dev-00001"),
        "ACTIVE",
        300.0,
    )
    assert doc["device"] == {"device_id": "dev-00001", **CONTEXT}
    # AND it looked at the lookback minutes and the current one, every shard of each
    assert out.minutes == list(range(MINUTE - 10, MINUTE + 1))
    assert out.queries == 11 * SHARDS
    # read as candidates: dev-00001, and dev-00002 whose deadline (in 1 s) falls in the current minute
    assert (out.due, out.failed_minutes) == (2, [])
    # AND the device records the episode with its outbox emptied; the checkpoint is the last full minute
    stored = fleet.store.devices["dev-00001"]
    assert (stored.state.stale_since_ms, stored.state.stale_event_id, stored.outbox) == (
        deadline,
        stale_id("dev-00001", deadline),
        (),
    )
    assert (out.checkpoint, fleet.checkpoint.advances) == (MINUTE - 1, [MINUTE - 1])
    # WHEN the next run comes a minute later
    fleet.now += 60_000
    again = fleet.run()
    # THEN it reads only the new minutes (and one before), raises nothing again for the first device,
    # and finds the one whose deadline has passed since
    assert again.minutes == [MINUTE - 1, MINUTE, MINUTE + 1]
    assert (again.raised, again.republished) == ([stale_id("dev-00002", NOW + 1_000)], [])
    assert (
        fleet.sns.event_ids
        == fleet.bus.event_ids
        == [
            stale_id("dev-00001", deadline),
            stale_id("dev-00002", NOW + 1_000),
        ]
    )
    assert fleet.checkpoint.advances == [MINUTE - 1, MINUTE]


def test_the_checkpoint_advances_over_complete_minutes_and_never_past_a_failed_one():
    # GIVEN a checkpoint six minutes back, one device due in minute -4 and one due in minute -2
    fleet = Fleet(checkpoint=FakeHeartbeatCheckpoint(MINUTE - 6))
    fleet.device("dev-00001", silent_for_s=540)  # deadline NOW - 240 s: minute - 4
    fleet.device("dev-00002", silent_for_s=420)  # deadline NOW - 120 s: minute - 2
    first, second = stale_id("dev-00001", NOW - 240_000), stale_id("dev-00002", NOW - 120_000)
    # AND SNS refuses the first device's event
    fleet.sns.fail_ids = {first}
    # WHEN the heartbeat runs
    out = fleet.run()
    # THEN it re-read the checkpointed minute (index lag) up to the current one
    assert out.minutes == list(range(MINUTE - 6, MINUTE + 1))
    # AND minute -4 failed, the later device was still raised, and the checkpoint stops before minute -4
    assert (out.failed_minutes, out.raised) == ([MINUTE - 4], [second])
    assert (out.checkpoint, fleet.checkpoint.advances, fleet.checkpoint.get()) == (
        MINUTE - 5,
        [MINUTE - 5],
        MINUTE - 5,
    )
    assert fleet.sns.event_ids == [second]
    assert fleet.bus.event_ids == [first, second]


def test_a_run_out_of_time_starts_no_minute_and_leaves_the_checkpoint():
    # GIVEN a due device and a checkpoint, but less than the time floor left in the invocation
    fleet = Fleet(checkpoint=FakeHeartbeatCheckpoint(MINUTE - 6))
    fleet.device("dev-00001", silent_for_s=600)
    # WHEN the heartbeat runs
    out = fleet.run(remaining_ms=4_999)
    # THEN nothing is queried, raised or checkpointed
    assert (out.minutes, out.queries, out.raised, out.checkpoint) == ([], 0, [], MINUTE - 6)
    assert (fleet.checkpoint.advances, fleet.sns.calls, fleet.store.writes[1:]) == ([], [], [])


def test_a_publish_failure_stays_in_the_outbox_and_a_later_run_republishes_the_same_event_id():
    # GIVEN a device past its deadline, SNS up and EventBridge refusing its next call
    fleet = Fleet()
    fleet.device("dev-00001", silent_for_s=600)
    event_id = stale_id("dev-00001", NOW - 300_000)
    fleet.bus.fail_calls = 1
    # WHEN the heartbeat runs
    first = fleet.run()
    # THEN the event is not counted raised, its minute failed, and the outbox keeps it for EventBridge only
    assert (first.raised, first.failed_minutes) == ([], [MINUTE - 5])
    assert [(t.event_id, t.pending) for t in fleet.store.devices["dev-00001"].outbox] == [
        (event_id, ("eventbridge",))
    ]
    assert (fleet.sns.event_ids, fleet.bus.event_ids) == ([event_id], [])
    assert (first.checkpoint, fleet.checkpoint.advances) == (MINUTE - 6, [MINUTE - 6])
    # WHEN EventBridge recovers and the next run comes a minute later
    fleet.now += 60_000
    second = fleet.run()
    # THEN it goes back over the failed minute and republishes the same event id, to EventBridge only
    assert second.minutes[0] == MINUTE - 6
    assert (second.raised, second.republished, second.failed_minutes) == ([], [event_id], [])
    assert (fleet.sns.event_ids, fleet.bus.event_ids) == ([event_id], [event_id])
    assert fleet.store.devices["dev-00001"].outbox == ()
    assert (second.checkpoint, fleet.checkpoint.advances) == (MINUTE, [MINUTE - 6, MINUTE])


def test_a_concurrent_reading_that_moves_the_deadline_is_re_decided_and_raises_nothing():
    # GIVEN a device past its deadline
    fleet = Fleet()
    fleet.device("dev-00001", silent_for_s=600)

    def a_reading_arrives() -> None:
        state = fleet.store.devices["dev-00001"].state
        sample = Sample("dev-00001", "temperature", 6, NOW - 1_000, NOW, 21.7, "C")
        fleet.store.put_device(state.observe(sample, 300, None)[0], {})

    # AND a reading is written between the heartbeat's Query and its write (a version conflict)
    fleet.store.interleave("dev-00001", a_reading_arrives)
    # WHEN the heartbeat runs
    out = fleet.run()
    # THEN it re-read the device, found the deadline moved, and raised nothing
    assert fleet.store.loads == [("dev-00001",)]
    assert (out.raised, out.failed_minutes, fleet.sns.calls, fleet.bus.calls) == ([], [], [], [])
    stored = fleet.store.devices["dev-00001"]
    assert (stored.state.stale_since_ms, stored.state.stale_deadline_ms) == (None, NOW - 1_000 + 300_000)
    assert fleet.store.writes == [
        ("put_device", "dev-00001", 1),  # the fleet set-up
        ("put_device", "dev-00001", 2),  # the reading; the heartbeat wrote nothing
    ]
    assert out.checkpoint == MINUTE - 1


def test_a_concurrent_write_that_leaves_the_device_silent_is_re_decided_and_raised_once():
    # GIVEN a device past its deadline, whose item another sensor's reading rewrites concurrently
    fleet = Fleet()
    fleet.device("dev-00001", silent_for_s=600)
    deadline = NOW - 300_000

    def another_sensor_reports() -> None:
        state = fleet.store.devices["dev-00001"].state
        sample = Sample("dev-00001", "co2", 6, NOW - 1_000, NOW, 450.0, "ppm")
        fleet.store.put_device(state.observe(sample, 600, None)[0], {})

    fleet.store.interleave("dev-00001", another_sensor_reports)
    # WHEN the heartbeat runs
    out = fleet.run()
    # THEN the lost write is re-decided on the fresh item: the temperature sensor is still silent
    assert out.raised == [stale_id("dev-00001", deadline)]
    assert fleet.sns.event_ids == fleet.bus.event_ids == [stale_id("dev-00001", deadline)]
    assert fleet.store.writes == [
        ("put_device", "dev-00001", 1),
        ("put_device", "dev-00001", 2),  # the co2 reading
        ("put_device", "dev-00001", 3),  # Device Stale with its outbox, on top of it
        ("clear_device_outbox", "dev-00001", 4),
    ]
    stored = fleet.store.devices["dev-00001"]
    assert (stored.state.stale_since_ms, set(stored.state.sensors), stored.outbox) == (
        deadline,
        {"temperature", "co2"},
        (),
    )


def test_a_device_stale_write_keeps_the_undelivered_clear_already_in_the_device_outbox():
    # GIVEN a device the heartbeat marked stale
    fleet = Fleet()
    fleet.device("dev-00001", silent_for_s=600)
    fleet.run()
    # AND a reading ended the silence, but EventBridge refused its "Alarm Cleared" (kept in the outbox)
    rules = parse_rule_book(
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
    r = Reading("dev-00001", "temperature", 21.7, "C", NOW + 10_000, 6)
    e = EnrichedReading(r, device("dev-00001"), 21.7, "C", NOW + 10_300, SHARD, seq_number(6))
    fleet.bus.fail_calls = 1
    out = AlarmEvaluator(fleet.store, rules, [fleet.sns, fleet.bus]).evaluate([e], lambda: 60_000)
    [cleared] = [u.event.event_id for u in out.undelivered]
    assert [(t.event_id, t.pending) for t in fleet.store.devices["dev-00001"].outbox] == [
        (cleared, ("eventbridge",))
    ]
    # WHEN the device goes silent again (EventBridge back) and the heartbeat raises Device Stale
    fleet.now = NOW + 10_000 + 300_000 + 30_000
    again = fleet.run()
    assert again.raised == [stale_id("dev-00001", NOW + 310_000)]
    # THEN the clear still reaches EventBridge: published now, or still owed in the outbox
    owed = [t.event_id for t in fleet.store.devices["dev-00001"].outbox]
    assert cleared in fleet.bus.event_ids or cleared in owed
