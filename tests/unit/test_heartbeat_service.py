"""The heartbeat service over in-memory fakes: the staleness index, the checkpoint and two publishers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sensorflow.core import staleness
from sensorflow.core.alarms import DeviceState, Sample, SensorSeen
from sensorflow.core.ports import RemainingTime, TransitionLike
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.rules import parse_rule_book
from sensorflow.observability import metrics
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.heartbeat import PARK_AFTER_ATTEMPTS, HeartbeatService
from tests.factories import SHARD, device, seq_number
from tests.fakes import FakeAlarmStore, FakeHeartbeatCheckpoint, FakePublisher

MINUTE = 29_931_667  # epoch minutes
NOW = MINUTE * 60_000 + 30_000  # 30 s into the current minute
SHARDS = staleness.STALE_BUCKET_SHARDS
CONTEXT = {"site": "site-a", "location": "hall-1", "model": "TH-200", "owner_team": "ops"}
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


@dataclass
class Fleet:
    store: FakeAlarmStore = field(default_factory=FakeAlarmStore)
    checkpoint: FakeHeartbeatCheckpoint = field(default_factory=FakeHeartbeatCheckpoint)
    sns: FakePublisher = field(default_factory=lambda: FakePublisher("sns"))
    bus: FakePublisher = field(default_factory=lambda: FakePublisher("eventbridge"))
    now: int = NOW
    max_minutes_per_run: int = 240

    def __post_init__(self) -> None:
        self.store.clock_ms = lambda: self.now  # the store writes on the fleet's wall clock

    def device(self, device_id: str, silent_for_s: int, stale_after_s: int | None = 300) -> DeviceState:
        """A device whose last reading came ``silent_for_s`` ago, written by the ingest side as it arrived."""
        seen = self.now - silent_for_s * 1000
        return self.store.seed_device(
            DeviceState(
                device_id,
                last_seen_ms=seen,
                sensors={"temperature": SensorSeen(seen, 21.5, stale_after_s)},
                context={"device_id": device_id, **CONTEXT},
            ),
            written_ms=seen,
        )

    def reading(
        self, device_id: str, timestamp_ms: int, arrival_ms: int, seq: int = 6
    ) -> list[TransitionLike]:
        """The ingest side processes one temperature reading now (``self.now``): its undelivered events."""
        r = Reading(device_id, "temperature", 21.7, "C", timestamp_ms, seq)
        e = EnrichedReading(r, device(device_id), 21.7, "C", arrival_ms, SHARD, seq_number(seq))
        out = AlarmEvaluator(self.store, RULES, [self.sns, self.bus]).evaluate([e], lambda: 60_000)
        return [u.event for u in out.undelivered]

    def service(self) -> HeartbeatService:
        return HeartbeatService(
            store=self.store,
            checkpoint=self.checkpoint,
            publishers=[self.sns, self.bus],
            initial_lookback_minutes=10,
            max_minutes_per_run=self.max_minutes_per_run,
            clock_ms=lambda: self.now,
        )

    def run(self, remaining_ms: int | RemainingTime = 60_000):
        return self.service().run(remaining_ms if callable(remaining_ms) else lambda: remaining_ms)


def stale_id(device_id: str, deadline_ms: int, episode: int = 1) -> str:
    return staleness.stale_event_id(device_id, deadline_ms, episode)


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
    first = stale_id("dev-00001", NOW - 300_000)
    # AND a reading ended the silence, but EventBridge refused its "Alarm Cleared" (kept in the outbox)
    fleet.bus.fail_calls = 1
    [cleared] = [e.event_id for e in fleet.reading("dev-00001", NOW + 10_000, NOW + 10_300)]
    assert [(t.event_id, t.pending) for t in fleet.store.devices["dev-00001"].outbox] == [
        (cleared, ("eventbridge",))
    ]
    # WHEN the device goes silent again (EventBridge back) and the heartbeat raises Device Stale
    fleet.now = NOW + 10_000 + 300_000 + 30_000
    again = fleet.run()
    second = stale_id("dev-00001", NOW + 310_000, episode=2)
    assert again.raised == [second]
    # THEN the clear reached EventBridge before the new episode, and SNS only once; nothing is owed
    assert fleet.bus.event_ids == [first, cleared, second]
    assert fleet.sns.event_ids == [first, cleared, second]
    assert fleet.store.devices["dev-00001"].outbox == ()


# --- bug: a reading processed minutes after it arrived was never reported stale ----------------------------


@settings(max_examples=60, deadline=None)
@example(lag_s=480, arrival_s=10, run_s=30)  # the reproduction: 8 minutes of processing lag
@example(lag_s=420, arrival_s=0, run_s=0)  # the smallest lag seen missed
@given(lag_s=st.integers(0, 3_600), arrival_s=st.integers(0, 59), run_s=st.integers(0, 59))
def test_a_reading_processed_late_goes_stale_on_the_first_run_after_its_deadline_and_its_write(
    lag_s: int, arrival_s: int, run_s: int
):
    # GIVEN a heartbeat that has been running once a minute (at run_s into each minute)
    arrival = NOW - 30_000 + arrival_s * 1000
    fleet = Fleet(checkpoint=FakeHeartbeatCheckpoint(MINUTE - 2))
    runs = iter(range((MINUTE - 1) * 60_000 + run_s * 1000, 10**15, 60_000))
    # AND a reading taken just before it arrived, which the ingest side processes lag_s later
    taken, written = arrival - 200, arrival + lag_s * 1000
    deadline = taken + 300_000
    raised_at, processed = None, False
    # WHEN the heartbeat keeps running, and the reading is written between two runs
    for run_at in runs:
        if not processed and written <= run_at:
            fleet.now = written
            assert fleet.reading("dev-00001", taken, arrival) == []
            processed = True
        fleet.now = run_at
        out = fleet.run()
        assert out.failed_minutes == []
        if out.raised:
            assert (raised_at, out.raised) == (None, [stale_id("dev-00001", deadline)])
            raised_at = run_at
        if run_at > max(deadline, written) + 180_000:
            break
    # THEN it went stale exactly once, on the first run after both its deadline and its write
    assert raised_at is not None
    assert raised_at - 60_000 < max(deadline, written) <= raised_at
    assert fleet.sns.event_ids == fleet.bus.event_ids == [stale_id("dev-00001", deadline)]


# --- bug: one device whose Device Stale can never be published pinned the checkpoint ---------------------


def test_a_device_whose_event_is_always_refused_is_parked_and_the_fleet_goes_on(
    caplog: pytest.LogCaptureFixture,
):
    # GIVEN a heartbeat that has been running (at most 3 minutes per run, to make the catch-up limit bite)
    fleet = Fleet(checkpoint=FakeHeartbeatCheckpoint(MINUTE - 1), max_minutes_per_run=3)
    # AND a device going stale now whose Device Stale EventBridge refuses, every time
    fleet.device("dev-poison", silent_for_s=310)
    poison = stale_id("dev-poison", NOW - 10_000)
    fleet.bus.fail_ids = {poison}
    # AND healthy devices going stale in the minutes after it
    fleet.device("dev-00001", silent_for_s=300 - 150)  # deadline in minute + 3
    fleet.device("dev-00002", silent_for_s=300 - 600)  # deadline in minute + 10
    metrics.clear_metrics()
    caplog.set_level(logging.WARNING, logger="sensorflow")
    # WHEN the heartbeat runs once a minute, until the device has failed PARK_AFTER_ATTEMPTS times
    outs = []
    for _ in range(PARK_AFTER_ATTEMPTS):
        outs.append(fleet.run())
        fleet.now += 60_000
    # THEN until the last attempt its minute held the checkpoint, and the fleet behind it waited
    assert [o.checkpoint for o in outs[:-1]] == [MINUTE - 1] * (PARK_AFTER_ATTEMPTS - 1)
    assert [o.raised for o in outs[:-1]] == [[]] * (PARK_AFTER_ATTEMPTS - 1)
    # AND on the last attempt the device was parked: its minute no longer holds the checkpoint
    parked = outs[-1]
    assert (parked.failed_minutes, parked.checkpoint) == ([], MINUTE + 1)
    assert parked.parked == [poison]
    assert metrics.metric_set["StaleEventsParked"]["Value"] == [0.0] * (PARK_AFTER_ATTEMPTS - 1) + [1.0]
    [log] = [r for r in caplog.records if r.getMessage() == "stale events parked"]
    assert (log.levelname, log.device_id, log.event_id) == ("WARNING", "dev-poison", poison)  # type: ignore[attr-defined]
    # AND its event is still owed, to EventBridge only (SNS has it), in its outbox
    stored = fleet.store.devices["dev-poison"]
    assert [(t.event_id, t.pending) for t in stored.outbox] == [(poison, ("eventbridge",))]
    assert (stored.state.stale_event_id, stored.outbox_attempts) == (poison, PARK_AFTER_ATTEMPTS)
    assert fleet.sns.event_ids == [poison]
    # WHEN the heartbeat keeps running
    later = []
    for _ in range(8):
        later.append(fleet.run())
        fleet.now += 60_000
    # THEN the devices behind it go stale, and the checkpoint keeps up with the clock
    assert [eid for o in later for eid in o.raised] == [
        stale_id("dev-00001", NOW + 150_000),
        stale_id("dev-00002", NOW + 600_000),
    ]
    assert later[-1].checkpoint == staleness.minute_of(fleet.now) - 2
    assert all(o.failed_minutes == [] for o in later)
    # AND the parked device was retried meanwhile (backing off), and is still owed
    assert len([c for c in fleet.bus.calls if poison in c]) > PARK_AFTER_ATTEMPTS
    assert [t.event_id for t in fleet.store.devices["dev-poison"].outbox] == [poison]
    # WHEN EventBridge takes it at last THEN a later run delivers it, once, and the outbox is empty
    fleet.bus.fail_ids = set()
    for _ in range(60):
        fleet.run()
        fleet.now += 60_000
    assert fleet.bus.event_ids.count(poison) == 1 and fleet.sns.event_ids.count(poison) == 1
    stored = fleet.store.devices["dev-poison"]
    assert (stored.outbox, stored.outbox_attempts) == ((), 0)


# --- bug: remaining time was checked only between minutes ------------------------------------------------


class LambdaTimeoutError(Exception):
    """The invocation ran out of time: Lambda stops it wherever it is."""


class Invocation:
    """A Lambda invocation's remaining time, in which each publish call takes ``publish_ms``; a call
    started with no time left is where Lambda kills the function."""

    def __init__(self, budget_ms: int, publish_ms: int = 10_000) -> None:
        self.budget_ms, self.publish_ms, self.used_ms = budget_ms, publish_ms, 0

    def remaining_ms(self) -> int:
        return self.budget_ms - self.used_ms

    def timed(self, publisher: FakePublisher) -> FakePublisher:
        publish = publisher.publish

        def timed_publish(transitions, remaining_ms):
            if self.remaining_ms() <= 0:
                raise LambdaTimeoutError("Task timed out")
            self.used_ms += self.publish_ms
            return publish(transitions, remaining_ms)

        publisher.publish = timed_publish  # type: ignore[method-assign]
        return publisher


def test_a_run_out_of_time_inside_a_crowded_minute_checkpoints_the_minutes_before_it():
    # GIVEN a checkpoint six minutes back, one device due in minute -5 and five in minute -3
    fleet = Fleet(checkpoint=FakeHeartbeatCheckpoint(MINUTE - 6))
    fleet.device("dev-00000", silent_for_s=600)  # deadline in minute -5
    crowd = [f"dev-0000{i}" for i in range(1, 6)]
    for i, device_id in enumerate(crowd):
        fleet.device(device_id, silent_for_s=480 + i)  # deadlines in minute -3
    # AND an invocation with time for three devices' publishes (SNS takes 10 s a call)
    invocation = Invocation(budget_ms=30_000)
    invocation.timed(fleet.sns)
    # WHEN the heartbeat runs
    out = fleet.run(invocation.remaining_ms)
    # THEN it stopped inside minute -3, before a device it had no time for, and never overran
    assert out.interrupted == MINUTE - 3
    crowd_ids = [stale_id(d, NOW - (480 + i) * 1000 + 300_000) for i, d in enumerate(crowd)]
    assert out.raised[0] == stale_id("dev-00000", NOW - 300_000)
    assert len(out.raised) == 3 and set(out.raised[1:]) < set(crowd_ids)  # two of the crowd (shard order)
    assert invocation.remaining_ms() >= 0
    # AND the checkpoint is the last complete minute
    assert (out.minutes, out.checkpoint, fleet.checkpoint.get()) == (
        [MINUTE - 6, MINUTE - 5, MINUTE - 4],
        MINUTE - 4,
        MINUTE - 4,
    )
    # AND every device is either raised and published, or untouched: none is half-written
    for device_id, stored in fleet.store.devices.items():
        assert stored.outbox == ()
        raised = stored.state.stale_event_id in out.raised
        assert raised == (stored.state.stale_since_ms is not None), device_id
        assert stored.state.version == (3 if raised else 1), device_id  # seed, Device Stale, outbox cleared
    # WHEN the next run has time
    fleet.now += 60_000
    invocation.budget_ms, invocation.used_ms = 900_000, 0
    resumed = fleet.run(invocation.remaining_ms)
    # THEN it resumes in that minute and raises the rest, each once
    assert resumed.minutes[0] == MINUTE - 4
    assert sorted(out.raised + resumed.raised) == sorted([stale_id("dev-00000", NOW - 300_000), *crowd_ids])
    assert sorted(fleet.sns.event_ids) == sorted(fleet.bus.event_ids) == sorted(out.raised + resumed.raised)
    assert resumed.checkpoint == MINUTE
