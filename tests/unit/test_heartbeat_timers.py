"""The heartbeat's alarm timers over fakes: reminders and snooze ends found through the device item's
due bucket (``wake_ms``), never a scan; silences and inhibition mark what they tell."""

from __future__ import annotations

from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.rules import parse_rule_book
from sensorflow.core.silences import Silence
from sensorflow.services.alarm_actions import AlarmActions
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.heartbeat import HeartbeatService
from tests.factories import SHARD, device, seq_number
from tests.fakes import FakeAlarmStore, FakeHeartbeatCheckpoint, FakePublisher, FakeSilenceStore

MIN = 60_000
NOW = 29_931_667 * MIN + 30_000
ALARM = "dev-00001#temperature#t"
RULES = parse_rule_book(
    {
        "version": 2,
        "rules": [
            {"id": "t", "sensor_type": "temperature", "warning": {"max": 35.0}, "repeat_every": 300},
        ],
    },
    {"temperature"},
)


class World:
    def __init__(self, silences: FakeSilenceStore | None = None) -> None:
        self.now = NOW
        self.store = FakeAlarmStore()
        self.store.clock_ms = lambda: self.now
        self.sns = FakePublisher("sns")
        self.silences = silences
        self.checkpoint = FakeHeartbeatCheckpoint(29_931_667 - 1)

    def reading(self, value: float, seq: int) -> None:
        r = Reading("dev-00001", "temperature", value, "C", self.now - 200, seq)
        e = EnrichedReading(r, device("dev-00001"), value, "C", self.now, SHARD, seq_number(seq))
        ev = AlarmEvaluator(self.store, RULES, [self.sns], silences=self.silences, clock_ms=lambda: self.now)
        assert ev.evaluate([e], lambda: 60_000).failed_from is None

    def heartbeat(self):
        return HeartbeatService(
            self.store,
            self.checkpoint,
            [self.sns],
            rules=RULES,
            silences=self.silences,
            clock_ms=lambda: self.now,
        ).run(lambda: 60_000)

    def told(self) -> list[tuple[str, str]]:
        return [(d["transition"], (d.get("suppressed") or {}).get("reason", "-")) for d in self.sns.delivered]


def test_the_heartbeat_reminds_of_an_unacknowledged_alarm_once_per_interval():
    w = World()
    w.reading(36.0, 1)  # raised at NOW - 200 ms (device time)
    # runs before the interval: nothing; the reminder comes on the first run after it, once
    for minute in range(1, 6):
        w.now = NOW + minute * MIN
        w.heartbeat()
    assert w.told() == [("Alarm Raised", "-"), ("Alarm Reminder", "-")]
    w.now += MIN
    w.heartbeat()  # the same interval: no second reminder
    assert len(w.told()) == 2
    # acknowledged: no more reminders
    AlarmActions(w.store, RULES, [w.sns]).apply("ack", ALARM, "ana", None, w.now)
    w.now += 10 * MIN
    for _ in range(3):
        w.now += MIN
        w.heartbeat()
    assert [t for t, _ in w.told()] == ["Alarm Raised", "Alarm Reminder", "Alarm Acknowledged"]


def test_a_snooze_on_a_silent_device_ends_by_the_heartbeat():
    w = World()
    w.reading(36.0, 1)
    actions = AlarmActions(w.store, RULES, [w.sns])
    actions.apply("snooze", ALARM, "bo", "fixing", NOW + 1_000, until_ms=NOW + 3 * MIN)
    # no reading comes; the heartbeat's run after the snooze's end brings the alarm back
    for minute in (1, 2, 3, 4):
        w.now = NOW + minute * MIN
        w.heartbeat()
    assert [t for t, _ in w.told()] == ["Alarm Raised", "Alarm Snoozed", "Alarm Reminder"]
    assert w.store.devices["dev-00001"].alarms[ALARM].state == "ACTIVE"


def test_silenced_transitions_are_published_marked_and_the_alarm_still_changes_state():
    silences = FakeSilenceStore()
    silences.add(
        Silence(
            "s1",
            {"site": device("dev-00001").site},
            NOW - MIN,
            NOW + 60 * MIN,
            "ana",
            None,
            "window",
            NOW - MIN,
        )
    )
    w = World(silences)
    w.reading(36.0, 1)
    w.now += MIN
    w.reading(20.0, 2)
    assert w.told() == [("Alarm Raised", "silenced"), ("Alarm Cleared", "silenced")]
    assert w.sns.delivered[0]["alarm"]["episode"] == 1
    assert w.store.devices["dev-00001"].alarms[ALARM].state == "NORMAL"


def stale_world(minutes_silent: int) -> World:
    w = World()
    w.reading(20.0, 1)  # a normal reading; the rule has no staleness, so give the sensor one
    stored = w.store.devices["dev-00001"]
    from dataclasses import replace

    from sensorflow.core.alarms import SensorSeen

    seen = NOW - minutes_silent * MIN
    state = replace(stored.state, sensors={"temperature": SensorSeen(seen, 20.0, 300)}, last_seen_ms=seen)
    w.store.seed_device(state, written_ms=NOW)  # as the ingest side writes it: processed now
    return w


def test_bug11_an_operator_acks_and_disables_a_device_stale_alarm_through_the_service():
    w = stale_world(minutes_silent=10)
    assert w.heartbeat().raised  # Device Stale raised
    actions = AlarmActions(w.store, RULES, [w.sns])
    key = "dev-00001#device#device-stale"
    acked = actions.apply("ack", key, "ana", "on my way", w.now + 1_000, caller_arn="arn:aws:iam::1:user/ana")
    assert (acked.events[0].transition, acked.alarm.state, acked.alarm.caller_arn) == (
        "Alarm Acknowledged",
        "ACKNOWLEDGED",
        "arn:aws:iam::1:user/ana",
    )
    off = actions.apply("disable", key, "ana", "decommissioned", w.now + 2_000)
    assert off.events[0].transition == "Alarm Disabled"
    assert w.store.devices["dev-00001"].state.stale_since_ms is None
    # disabled: the heartbeat raises nothing however long the device stays silent
    for _ in range(5):
        w.now += MIN
        assert w.heartbeat().raised == []
    # enabled again: the next run raises a new episode
    actions.apply("enable", key, "ana", None, w.now)
    w.now += MIN
    assert len(w.heartbeat().raised) == 1
    assert w.sns.delivered[-1]["alarm"]["episode"] == 2


def test_a_snoozed_device_stale_is_raised_when_the_snooze_ends():
    w = stale_world(minutes_silent=2)  # deadline in 3 minutes
    key = "dev-00001#device#device-stale"
    AlarmActions(w.store, RULES, [w.sns]).apply("snooze", key, "bo", "moving it", NOW, until_ms=NOW + 6 * MIN)
    raised_at = None
    for minute in range(1, 9):
        w.now = NOW + minute * MIN
        if w.heartbeat().raised:
            raised_at = minute
            break
    # the deadline passed at minute 3, but the snooze held the raise back until it ended
    assert raised_at == 6
