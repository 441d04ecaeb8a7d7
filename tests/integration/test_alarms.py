"""Alarm evaluation, conditional writes and the operator CLI on real adapters under moto's mock_aws.

SNS delivery is counted through the ``all-alerts`` SQS subscription of the ``stack`` fixture (raw
delivery), and EventBridge delivery through a rule on ``source: sensorflow.alarms`` targeting a queue.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import boto3
import pytest

from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
from sensorflow.adapters.eventbridge_transitions import EventBridgeTransitionPublisher
from sensorflow.adapters.sns_transitions import SnsTransitionPublisher
from sensorflow.cli import main as cli
from sensorflow.cli.alarms_command import resolve_stack
from sensorflow.core import alarms as am
from sensorflow.core import staleness
from sensorflow.core.ports import RemainingTime, TransitionLike, VersionConflictError
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.services.alarm_actions import AlarmActions
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from tests.factories import NOW_MS, SHARD, TEMPERATURE_RULES, device, seq_number
from tests.integration.conftest import REGION, STAGE, Stack

TYPES = {"temperature", "humidity", "pressure", "vibration", "co2"}
RULES = TEMPERATURE_RULES
TABLE = f"sensorflow-{STAGE}-alarms"
ALARM = "dev-00001#temperature#temperature-range"
T0 = NOW_MS - 600_000


def plenty() -> int:
    return 60_000


@pytest.fixture
def alarms(stack: Stack) -> Stack:
    c = stack.clients
    url = c["sqs"].create_queue(QueueName="alarm-bus")["QueueUrl"]
    arn = c["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.settings.alerts_event_bus
    c["events"].put_rule(
        Name="alarm-transitions", EventBusName=bus, EventPattern=json.dumps({"source": ["sensorflow.alarms"]})
    )
    c["events"].put_targets(Rule="alarm-transitions", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    stack.alarm_bus_queue_url = url  # type: ignore[attr-defined]
    return stack


def store(stack: Stack) -> DynamoAlarmStore:
    return DynamoAlarmStore(TABLE, stack.clients["dynamodb"])


def publishers(stack: Stack) -> list[Any]:
    return [
        SnsTransitionPublisher(stack.settings.alerts_topic_arn, stack.clients["sns"]),
        EventBridgeTransitionPublisher(stack.settings.alerts_event_bus, stack.clients["events"]),
    ]


def enriched(values: Sequence[float], first_seq: int = 1, every_s: int = 10) -> list[EnrichedReading]:
    dev = device("dev-00001")
    out = []
    for i, v in enumerate(values):
        ts = T0 + i * every_s * 1000
        r = Reading("dev-00001", "temperature", v, "C", ts, first_seq + i)
        out.append(EnrichedReading(r, dev, v, "C", ts + 300, SHARD, seq_number(first_seq + i)))
    return out


class FlakyPublisher:
    """A real publisher that reports the named transitions undelivered (unsent) in ``times`` calls."""

    def __init__(self, inner: Any, transitions: set[str], times: int = 1) -> None:
        self.inner, self.transitions, self.times = inner, transitions, times
        self.name = inner.name

    def publish(self, events: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        bad = {e.event_id for e in events if e.to_message()["transition"] in self.transitions}
        if self.times <= 0 or not bad:
            return self.inner.publish(events, remaining_ms)
        self.times -= 1
        return bad | self.inner.publish([e for e in events if e.event_id not in bad], remaining_ms)


def sns_transitions(stack: Stack) -> list[dict[str, Any]]:
    return [m for m in stack.drain(stack.all_alerts_queue_url) if "transition" in m]


# Two normal readings, eight at 40 C (60 s of device time from the first crossing at index 2 to index 8),
# then three at 30 C (below the 34 C clear line).
BATCH = [20.0, 20.0, *[40.0] * 8, 30.0, 30.0, 30.0]
RAISE_AT, CLEAR_AT = 8, 10


def test_replayed_batch_with_rewind_gives_exactly_one_raise_and_one_clear(alarms: Stack):
    readings = enriched(BATCH)
    sns, bus = publishers(alarms)
    # GIVEN attempt 1: the whole batch; SNS fails the "Alarm Cleared" once
    first = AlarmEvaluator(store(alarms), RULES, [FlakyPublisher(sns, {"Alarm Cleared"}), bus])
    out1 = first.evaluate(readings, plenty)
    # THEN the raise went out, the clear did not, and the evaluator fails from the clear's reading
    assert [(e.index, e.event.to_message()["transition"]) for e in out1.events] == [
        (RAISE_AT, "Alarm Raised")
    ]
    assert [(e.index, e.event.to_message()["transition"]) for e in out1.undelivered] == [
        (CLEAR_AT, "Alarm Cleared")
    ]
    assert out1.failed_from == CLEAR_AT
    # WHEN Lambda rewinds to the lowest failed sequence number (the clear's record) and redelivers from there
    evaluator = AlarmEvaluator(store(alarms), RULES, [sns, bus])
    out2 = evaluator.evaluate(readings[CLEAR_AT:], plenty)
    # THEN the readings are skipped by the high-water mark and the clear comes out of the outbox
    assert (out2.skipped, out2.failed_from, out2.transitions) == (3, None, ["Alarm Cleared"])
    # WHEN the whole batch comes a third time (e.g. a timed-out invocation retried)
    out3 = evaluator.evaluate(readings, plenty)
    assert (out3.skipped, out3.transitions, out3.writes) == (len(BATCH), [], 0)
    # THEN SNS delivered exactly one Raised and one Cleared
    delivered = sns_transitions(alarms)
    assert [(m["transition"], m["reading"]["seq"]) for m in delivered] == [
        ("Alarm Raised", RAISE_AT + 1),
        ("Alarm Cleared", CLEAR_AT + 1),
    ]
    assert delivered[1]["alarm"] == {
        "alarm_id": ALARM,
        "device_id": "dev-00001",
        "sensor_type": "temperature",
        "rule_id": "temperature-range",
        "state": "NORMAL",
        "severity": "warning",
        "since": None,
        "acknowledged_by": None,
        "note": None,
        "snoozed_until": None,
        "episode": 1,
        "updated_by": None,
        "caller_arn": None,
        "disabled_until": None,
    }
    # AND EventBridge got the same two event ids (the clear twice: at-least-once, same id, consumers dedupe)
    bus_events = alarms.drain(alarms.alarm_bus_queue_url)  # type: ignore[attr-defined]
    assert {(e["detail-type"], e["detail"]["event_id"]) for e in bus_events} == {
        (m["transition"], m["event_id"]) for m in delivered
    }
    assert {e["source"] for e in bus_events} == {"sensorflow.alarms"}
    # AND the device item holds the alarm back to NORMAL with its one episode counted, the guard at the
    # last record, no outbox
    stored = store(alarms).get_device("dev-00001")
    assert stored is not None
    assert {k: (a.state, a.episode, a.announced) for k, a in stored.alarms.items()} == {
        ALARM: ("NORMAL", 1, False)
    }
    assert (stored.state.last_sequence, stored.outbox) == (int(seq_number(len(BATCH))), ())


class FailingDeviceWrites:
    """The real store, except that the first device write raises a transient fault."""

    def __init__(self, inner: DynamoAlarmStore) -> None:
        self.inner, self.failed = inner, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def put_device(self, state: am.DeviceState, alarms: Any, outbox: Sequence[TransitionLike] = ()) -> Any:
        if not self.failed:
            self.failed = True
            from sensorflow.core.errors import TransientError

            raise TransientError("dynamodb:PutItem failed: ProvisionedThroughputExceededException")
        return self.inner.put_device(state, alarms, outbox)


def test_a_failed_device_write_publishes_nothing_and_the_redelivery_applies_everything(alarms: Stack):
    # GIVEN the device item's write fails on the first attempt
    readings = enriched(BATCH)
    flaky = FailingDeviceWrites(store(alarms))
    out1 = AlarmEvaluator(flaky, RULES, publishers(alarms)).evaluate(readings, plenty)  # type: ignore[arg-type]
    # THEN nothing is published, the batch fails from the device's first reading, nothing is stored
    assert (out1.transitions, out1.failed_from) == ([], 0)
    assert store(alarms).load(["dev-00001"]) == {}
    # WHEN Lambda redelivers the batch
    out2 = AlarmEvaluator(store(alarms), RULES, publishers(alarms)).evaluate(readings, plenty)
    # THEN no reading is skipped and both transitions come out once
    assert (out2.skipped, out2.transitions) == (0, ["Alarm Raised", "Alarm Cleared"])


class FailingLoad:
    """The real store, except that the first batch read raises a transient fault."""

    def __init__(self, inner: DynamoAlarmStore) -> None:
        self.inner, self.failed = inner, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def load(self, device_ids: Sequence[str]) -> Any:
        if not self.failed:
            self.failed = True
            from sensorflow.core.errors import TransientError

            raise TransientError("dynamodb:BatchGetItem failed: ProvisionedThroughputExceededException")
        return self.inner.load(device_ids)


def test_a_failed_state_read_fails_from_the_first_reading_instead_of_raising(alarms: Stack):
    # GIVEN the batch read of alarm state fails
    readings = enriched(BATCH)
    flaky = FailingLoad(store(alarms))
    out1 = AlarmEvaluator(flaky, RULES, publishers(alarms)).evaluate(readings, plenty)  # type: ignore[arg-type]
    # THEN the outcome reports every reading as failed, with nothing written or published
    assert (out1.transitions, out1.failed_from, out1.writes) == ([], 0, 0)
    assert store(alarms).load(["dev-00001"]) == {}
    # WHEN Lambda redelivers the batch THEN both transitions come out once
    out2 = AlarmEvaluator(flaky, RULES, publishers(alarms)).evaluate(readings, plenty)  # type: ignore[arg-type]
    assert (out2.skipped, out2.transitions, out2.failed_from) == (0, ["Alarm Raised", "Alarm Cleared"], None)


def test_a_malformed_device_override_falls_back_to_the_file_rules(alarms: Stack):
    # GIVEN a registry device whose override is invalid (warning above critical)
    bad = device("dev-00001", thresholds={"temperature-range": {"warning": {"max": 60.0}}})
    readings = [
        EnrichedReading(r.reading, bad, r.value, r.unit, r.ingest_time_ms, r.shard_id, r.sequence_number)
        for r in enriched(BATCH)
    ]
    # WHEN its readings are evaluated
    out = AlarmEvaluator(store(alarms), RULES, publishers(alarms)).evaluate(readings, plenty)
    # THEN nothing fails: the file's rule applies (raise and clear as for a device without overrides)
    assert (out.failed_from, out.transitions) == (None, ["Alarm Raised", "Alarm Cleared"])


def test_sns_attributes_drive_a_filter_policy(alarms: Stack):
    # critical-only queue of the stack fixture (FilterPolicy severity=critical)
    AlarmEvaluator(store(alarms), RULES, publishers(alarms)).evaluate(
        enriched([20.0] + [50.0] * 8 + [20.0]), plenty
    )
    critical = alarms.drain(alarms.critical_queue_url)
    assert [(m["transition"], m["alarm"]["severity"]) for m in critical] == [
        ("Alarm Raised", "critical"),
        ("Alarm Cleared", "critical"),
    ]


def later(readings: list[EnrichedReading], by_ms: int) -> list[EnrichedReading]:
    """The same readings, ``by_ms`` later in device time (the next readings of the same device)."""
    return [
        replace(e, reading=replace(e.reading, timestamp_ms=e.reading.timestamp_ms + by_ms)) for e in readings
    ]


def test_version_conflict_rereads_and_reapplies(alarms: Stack):
    s = store(alarms)
    evaluator = AlarmEvaluator(s, RULES, publishers(alarms))
    # GIVEN an active warning alarm
    evaluator.evaluate(enriched([40.0] * 7), plenty)
    assert s.load(["dev-00001"])["dev-00001"].alarms[ALARM].state == "ACTIVE"

    class RacingStore:
        """The operator acknowledges between the evaluator's read and its write."""

        def __init__(self) -> None:
            self.raced = False

        def __getattr__(self, name: str) -> Any:
            return getattr(s, name)

        def put_device(self, state: am.DeviceState, alarms: Any, outbox: Any = ()) -> Any:
            if not self.raced:
                self.raced = True
                current = s.get_device(state.device_id)
                assert current is not None
                acked, events = am.acknowledge(
                    current.alarms[ALARM], "ana", "looking", T0, RULES.get("temperature-range")
                )
                s.put_device(current.state, {**current.alarms, ALARM: acked}, events)
            return s.put_device(state, alarms, outbox)

    racing = RacingStore()
    # WHEN a critical excursion arrives (60 s held) while the operator acknowledges
    out = AlarmEvaluator(racing, RULES, publishers(alarms)).evaluate(
        later(enriched([50.0] * 7, first_seq=8), 70_000), plenty
    )
    # THEN the first write lost the race, the evaluator re-read and re-applied on top of the ack
    assert racing.raced
    assert out.transitions == ["Alarm Acknowledged", "Alarm Escalated"]  # the ack's outbox went out too
    final = s.get_alarm(ALARM)
    assert final is not None
    assert (final.alarm.state, final.alarm.severity, final.alarm.acknowledged_by, final.outbox) == (
        "ACTIVE",
        "critical",
        None,
        (),
    )


def test_a_stale_write_is_refused(alarms: Stack):
    s = store(alarms)
    fresh = am.DeviceState("dev-00001")
    v1 = s.put_device(fresh, {})
    assert v1.version == 1
    with pytest.raises(VersionConflictError):
        s.put_device(fresh, {})  # still at version 0: someone else wrote version 1
    assert s.put_device(v1, {}).version == 2


def test_batch_get_reads_more_than_100_keys(alarms: Stack):
    s = store(alarms)
    for i in range(130):
        s.put_device(am.DeviceState(f"dev-{i:05d}"), {})
    loaded = s.load([*(f"dev-{i:05d}" for i in range(130)), "dev-99999"])
    assert sorted(loaded) == [f"dev-{i:05d}" for i in range(130)]


def test_one_batch_of_many_devices_writes_exactly_one_item_per_changed_device(alarms: Stack):
    # GIVEN 40 devices with two readings each in one batch, 5 of them past the warning line
    s = store(alarms)
    writes: Counter[str] = Counter()
    alarms.clients["dynamodb"].meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: writes.update([model.name])
    )
    readings = []
    for d in range(40):
        dev = device(f"dev-{d:05d}")
        for i in range(2):
            ts = T0 + i * 10_000
            value = 40.0 if d < 5 else 20.0
            r = Reading(dev.device_id, "temperature", value, "C", ts, i + 1)
            readings.append(EnrichedReading(r, dev, value, "C", ts + 300, SHARD, seq_number(d * 2 + i)))
    # WHEN the batch is evaluated
    out = AlarmEvaluator(s, RULES, publishers(alarms)).evaluate(readings, plenty)
    # THEN one read call, one PutItem per device (its state, its alarm), and nothing raised yet (60 s hold)
    assert (out.failed_from, out.transitions, out.writes) == (None, [], 40)
    assert (writes["BatchGetItem"], writes["PutItem"], writes["UpdateItem"]) == (1, 40, 0)
    pending = s.load(["dev-00000"])["dev-00000"].alarms[
        am.alarm_id("dev-00000", "temperature", "temperature-range")
    ]
    assert pending.state == "PENDING"
    # WHEN the same batch is redelivered THEN nothing is written at all
    writes.clear()
    again = AlarmEvaluator(s, RULES, publishers(alarms)).evaluate(readings, plenty)
    assert (again.skipped, again.writes, writes["PutItem"]) == (80, 0, 0)


def test_device_item_feeds_the_stale_index(alarms: Stack):
    # processed as the readings arrived: the bucket is floored at the write time, on the store's clock
    s = DynamoAlarmStore(TABLE, alarms.clients["dynamodb"], clock_ms=lambda: T0 + 10_300)
    AlarmEvaluator(s, RULES, publishers(alarms)).evaluate(enriched([20.0, 21.0]), plenty)
    state = s.load(["dev-00001"])["dev-00001"].state
    deadline = T0 + 10_000 + 300_000  # newest device timestamp + stale_after
    assert (state.last_sequence, state.stale_deadline_ms, state.stale_bucket) == (
        int(seq_number(2)),
        deadline,
        staleness.stale_bucket("dev-00001", deadline),
    )
    # the bucket comes due at the first instant of the deadline's minute (the heartbeat then decides exactly)
    due_at = staleness.bucket_start_ms(state.stale_bucket)
    assert due_at <= deadline < due_at + 60_000
    assert s.due_devices(state.stale_bucket, due_at - 1) == []
    assert [d.state.device_id for d in s.due_devices(state.stale_bucket, due_at)] == ["dev-00001"]


# --- the operator CLI, in-process against moto ---------------------------------------------------------


@pytest.fixture
def deployed(alarms: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    cfn = boto3.client("cloudformation", region_name=REGION)
    cfn.create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "AlarmsTableName": {"Value": TABLE},
                    "AlertsTopicArn": {"Value": alarms.settings.alerts_topic_arn},
                    "AlertsEventBusName": {"Value": alarms.settings.alerts_event_bus},
                },
            }
        ),
    )
    monkeypatch.setenv("USER", "ana")
    return alarms


def raise_alarm(stack: Stack) -> None:
    AlarmEvaluator(store(stack), RULES, publishers(stack)).evaluate(enriched([40.0] * 7), plenty)
    stack.drain(stack.all_alerts_queue_url)


def test_cli_ack_records_who_and_publishes(deployed: Stack, capsys: pytest.CaptureFixture[str]):
    raise_alarm(deployed)
    assert cli.main(["alarms", "ack", ALARM, "--stage", STAGE, "--note", "on my way"]) == 0
    assert capsys.readouterr().out == f"{ALARM}: ACKNOWLEDGED (Alarm Acknowledged)\n"
    [msg] = sns_transitions(deployed)
    assert (msg["transition"], msg["alarm"]["acknowledged_by"], msg["alarm"]["note"]) == (
        "Alarm Acknowledged",
        "ana",
        "on my way",
    )
    stored = store(deployed).get_alarm(ALARM)
    assert stored is not None
    assert (stored.alarm.state, stored.alarm.acknowledged_by, stored.outbox) == ("ACKNOWLEDGED", "ana", ())
    # a second ack is refused with one clear line
    assert cli.main(["alarms", "ack", ALARM, "--stage", STAGE]) == 2
    assert "is ACKNOWLEDGED; only an ACTIVE or LATCHED alarm can be acknowledged" in capsys.readouterr().err


def test_cli_snooze_and_list(deployed: Stack, capsys: pytest.CaptureFixture[str]):
    raise_alarm(deployed)
    assert cli.main(["alarms", "snooze", ALARM, "--stage", STAGE, "--for", "30m", "--by", "bo"]) == 0
    capsys.readouterr()
    stored = store(deployed).get_alarm(ALARM)
    assert stored is not None
    assert stored.alarm.state == "SNOOZED"
    assert stored.alarm.updated_by == "bo"
    assert stored.alarm.snoozed_until_ms - stored.alarm.updated_at_ms == 30 * 60_000
    assert cli.main(["alarms", "list", "--stage", STAGE, "--json"]) == 0
    [row] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["alarm_id"], row["state"], row["severity"]) == (ALARM, "SNOOZED", "warning")
    assert cli.main(["alarms", "list", "--stage", STAGE, "--state", "ACTIVE"]) == 0
    assert capsys.readouterr().out == "no alarms\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["alarms", "ack", "dev-00001#temperature#nope", "--stage", STAGE], "unknown alarm id"),
        (["alarms", "ack", "not-an-id", "--stage", STAGE], "is not an alarm id"),
        (["alarms", "snooze", ALARM, "--stage", STAGE, "--for", "soon"], "--for 'soon' is not a duration"),
        (["alarms", "snooze", ALARM, "--stage", STAGE, "--until", "2026-13-01"], "is not an ISO-8601 time"),
        (["alarms", "snooze", ALARM, "--stage", STAGE, "--until", "2020-01-01T00:00:00"], "has no time zone"),
        (
            ["alarms", "snooze", ALARM, "--stage", STAGE, "--until", "2020-01-01T00:00:00Z"],
            "not in the future",
        ),
        (["alarms", "list", "--stage", "nowhere"], "stack sensorflow-nowhere not found"),
        (["alarms", "enable", ALARM, "--stage", STAGE], "has never been raised"),
    ],
)
def test_cli_errors_are_one_line(deployed: Stack, capsys: pytest.CaptureFixture[str], argv, message):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_resolve_stack_reads_outputs(deployed: Stack):
    targets = resolve_stack(boto3.client("cloudformation", region_name=REGION), STAGE)
    assert (targets.table, targets.bus_name) == (TABLE, deployed.settings.alerts_event_bus)


def test_disable_then_readings_emit_nothing(deployed: Stack, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["alarms", "disable", ALARM, "--stage", STAGE, "--reason", "sensor swap"]) == 0
    out = AlarmEvaluator(store(deployed), RULES, publishers(deployed)).evaluate(enriched([50.0] * 8), plenty)
    assert out.transitions == []
    assert Counter(m["transition"] for m in sns_transitions(deployed)) == Counter({"Alarm Disabled": 1})


def test_cli_unreachable_endpoint_is_one_line_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a stale AWS_ENDPOINT_URL: the discard port on loopback, where nothing listens
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    # WHEN an operator lists alarms THEN one line says what failed and how to fix it
    assert cli.main(["alarms", "list", "--stage", STAGE]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"sensorflow alarms: error: read stack sensorflow-{STAGE}: cannot reach http://127.0.0.1:9/: "
        "is `sensorflow local up` running, or is AWS_ENDPOINT_URL stale?"
    ]


def test_an_operator_event_eventbridge_refused_is_resent_to_eventbridge_only(alarms: Stack):
    # GIVEN an ACTIVE alarm
    AlarmEvaluator(store(alarms), RULES, publishers(alarms)).evaluate(enriched([40.0] * 7), plenty)
    alarms.drain(alarms.all_alerts_queue_url)
    alarms.drain(alarms.alarm_bus_queue_url)  # type: ignore[attr-defined]
    # WHEN an operator acknowledges it and EventBridge refuses the event once (SNS takes it)
    sns, bus = publishers(alarms)
    actions = AlarmActions(store(alarms), RULES, [sns, FlakyPublisher(bus, {"Alarm Acknowledged"})])
    outcome = actions.apply("ack", ALARM, "ana", "on my way", NOW_MS)
    [ack] = outcome.events
    # THEN the event stays in the outbox, owed to EventBridge alone
    assert outcome.undelivered == 1
    stored = store(alarms).get_alarm(ALARM)
    assert stored is not None
    assert [(e.event_id, e.pending) for e in stored.outbox] == [(ack.event_id, ("eventbridge",))]
    # WHEN the alarm's next reading goes through the evaluator with both publishers working
    AlarmEvaluator(store(alarms), RULES, publishers(alarms)).evaluate(enriched([41.0], first_seq=8), plenty)
    # THEN SNS subscribers saw the acknowledgement exactly once, and EventBridge got it on the resend
    sns_acks = [m["event_id"] for m in sns_transitions(alarms) if m["transition"] == "Alarm Acknowledged"]
    bus_acks = [
        e["detail"]["event_id"]
        for e in alarms.drain(alarms.alarm_bus_queue_url)  # type: ignore[attr-defined]
        if e["detail-type"] == "Alarm Acknowledged"
    ]
    assert (sns_acks, bus_acks) == ([ack.event_id], [ack.event_id])
    stored = store(alarms).get_alarm(ALARM)
    assert stored is not None and stored.outbox == ()
