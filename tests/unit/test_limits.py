"""Size caps on registry and operator text, and the final guard on outgoing entries (issue 12, Inputs).

Over in-memory fakes: the caps themselves (``core.limits``), the registry seeding and the registry read that
enforce them, the publishers that reject an entry too large to send, and the outbox that quarantines it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from sensorflow.adapters.dynamodb_registry import DynamoDeviceRegistry
from sensorflow.adapters.eventbridge_transitions import (
    PUT_EVENTS_MAX_ENTRY_BYTES,
    EventBridgeTransitionPublisher,
)
from sensorflow.adapters.eventbridge_transitions import oversized as eb_oversized
from sensorflow.adapters.s3_quarantine import S3QuarantineSink, transition_key
from sensorflow.adapters.sns_transitions import PUBLISH_BATCH_MAX_BYTES, SnsTransitionPublisher
from sensorflow.adapters.sns_transitions import oversized as sns_oversized
from sensorflow.core import limits
from sensorflow.core.alarms.actions import MAX_NOTE
from sensorflow.core.errors import InvalidRecordError, TransientError
from sensorflow.core.limits import TooLargeError, check_device, check_operator_text
from sensorflow.core.ports import RemainingTime, StoredTransition, TransitionLike
from sensorflow.core.silences import MAX_COMMENT_CHARS, MAX_VALUE_CHARS
from sensorflow.localcloud.deploy import DeployError, seed_registry
from sensorflow.services.outbox import QuarantiningPublisher, publish_all, still_owed
from tests.factories import device


def plenty() -> int:
    return 60_000


# --- the caps ----------------------------------------------------------------------------------------------


def test_the_caps_agree_with_the_modules_that_enforce_them_today():
    # The operator note is cut at MAX_NOTE by core.alarms.actions, and silences refuse longer comments and
    # match values; a registry value longer than a silence's match value could never be silenced.
    assert limits.NOTE_MAX_CHARS == MAX_NOTE == 1_024
    assert limits.SILENCE_COMMENT_MAX_CHARS == MAX_COMMENT_CHARS == 280
    assert limits.REGISTRY_TEXT_MAX_CHARS == MAX_VALUE_CHARS == 128


@pytest.mark.parametrize("field", limits.REGISTRY_TEXT_FIELDS)
def test_each_registry_string_is_capped_at_128_characters(field: str):
    # GIVEN a device with the field at the cap THEN it passes
    check_device(device(**{field: "x" * 128}))
    # GIVEN one character more THEN it is refused, naming the field and the cap but not the value
    with pytest.raises(TooLargeError) as caught:
        check_device(device(**{field: "x" * 129}))
    assert str(caught.value) == f"{field} is 129 characters, over the cap of 128 characters"
    assert (caught.value.field, caught.value.size, caught.value.cap) == (field, 129, 128)


def test_threshold_overrides_are_capped_by_their_json_size():
    # GIVEN overrides whose compact JSON is exactly 4,096 bytes THEN they pass; one byte more is refused
    pad = 4_096 - len(json.dumps({"r": {"note": ""}}, separators=(",", ":")))
    check_device(device(thresholds={"r": {"note": "x" * pad}}))
    with pytest.raises(TooLargeError, match=r"^thresholds is 4097 bytes of JSON, over the cap of 4096 bytes"):
        check_device(device(thresholds={"r": {"note": "x" * (pad + 1)}}))


def test_a_device_id_no_reading_could_carry_is_refused():
    with pytest.raises(ValueError, match="device_id 'dev 1' is not well formed"):
        check_device(device("dev 1"))


def test_operator_text_is_refused_over_its_cap_naming_the_flag():
    check_operator_text("--note", None, limits.NOTE_MAX_CHARS)
    check_operator_text("--note", "n" * 1_024, limits.NOTE_MAX_CHARS)
    with pytest.raises(TooLargeError) as caught:
        check_operator_text("--reason", "r" * 1_025, limits.NOTE_MAX_CHARS)
    assert str(caught.value) == "--reason is 1025 characters, over the cap of 1024 characters"


# --- where registry text is written, and where it is read --------------------------------------------


class FakeDynamo:
    def __init__(self, items: dict[str, dict[str, Any]] | None = None) -> None:
        self.items = items or {}
        self.written: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        for requests in RequestItems.values():
            self.written += [r["PutRequest"]["Item"] for r in requests]
        return {}

    def get_item(self, TableName: str, Key: dict[str, Any]) -> dict[str, Any]:
        item = self.items.get(Key["device_id"]["S"])
        return {"Item": item} if item else {}

    def client(self, service: str) -> FakeDynamo:
        return self


def registry_item(device_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "device_id": device_id,
        "site": "plant-a",
        "location": "hall-1",
        "model": "TH-1",
        "owner_team": "ops",
    }
    return base | fields


def test_seeding_refuses_a_site_over_the_cap_and_writes_nothing():
    # GIVEN a fleet whose second device has a 150 KB site
    endpoint = FakeDynamo()
    items = [registry_item("dev-00001"), registry_item("dev-00002", site="s" * 150_000)]
    # WHEN the registry is seeded THEN it is refused, naming the device, the field and the cap
    with pytest.raises(DeployError) as caught:
        seed_registry(endpoint, "devices", items)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "device registry not seeded: device 'dev-00002': "
        "site is 150000 characters, over the cap of 128 characters"
    )
    assert endpoint.written == []


def dynamo_item(device_id: str, **fields: str) -> dict[str, Any]:
    return {k: {"S": v} for k, v in registry_item(device_id, **fields).items()}


def test_a_registry_item_over_a_cap_is_refused_when_read_so_its_readings_are_quarantined():
    # GIVEN a registry item another tool wrote with a 150 KB owner team, and a good one
    table = FakeDynamo(
        {
            "dev-00001": dynamo_item("dev-00001", owner_team="t" * 150_000),
            "dev-00002": dynamo_item("dev-00002"),
        }
    )
    registry = DynamoDeviceRegistry("devices", table)
    # WHEN the ingest looks them up THEN the oversized one is an invalid record naming the field (nothing cut)
    with pytest.raises(InvalidRecordError) as caught:
        registry.get("dev-00001")
    assert (caught.value.reason, caught.value.detail) == (
        "registry_invalid",
        "device 'dev-00001': owner_team is 150000 characters, over the cap of 128 characters",
    )
    # AND the good one and an absent one read as before
    assert registry.get("dev-00002") == device(
        "dev-00002", site="plant-a", location="hall-1", model="TH-1", owner_team="ops"
    )
    assert registry.get("dev-00003") is None


# --- the final guard on each outgoing entry ----------------------------------------------------------


def test_sns_takes_an_entry_of_exactly_its_limit_and_rejects_one_byte_more():
    # 262,144 bytes per message, attributes included (API_PublishBatch.html)
    def entry(n: int) -> dict[str, Any]:
        return {
            "Id": "e",
            "Message": "m" * (n - 5),
            "MessageAttributes": {"a": {"DataType": "S", "StringValue": "vvv"}},
        }

    assert sns_oversized(entry(PUBLISH_BATCH_MAX_BYTES)) is None
    assert sns_oversized(entry(PUBLISH_BATCH_MAX_BYTES + 1)) == (
        "SNS entry is 262145 bytes (message and attributes), over PublishBatch's 262144"
    )


def test_eventbridge_takes_an_entry_under_its_limit_and_rejects_one_of_256_kb():
    # "under 256 KB", counted as Source + DetailType + Detail (eb-putevent-size.html)
    def entry(n: int) -> dict[str, Any]:
        return {"Source": "s", "DetailType": "d", "Detail": "x" * (n - 2)}

    assert eb_oversized(entry(PUT_EVENTS_MAX_ENTRY_BYTES - 1)) is None
    assert eb_oversized(entry(PUT_EVENTS_MAX_ENTRY_BYTES)) == (
        "EventBridge entry is 262144 bytes (Source, DetailType, Detail), not under PutEvents' 262144"
    )


def transition(
    event_id: str, alarm_id: str = "dev-00001#temperature#temperature-range", site: str = "site-a"
) -> StoredTransition:
    doc = {
        "event_id": event_id,
        "transition": "Alarm Raised",
        "occurred_at": "2026-11-29T10:00:00.000Z",
        "alarm": {
            "alarm_id": alarm_id,
            "device_id": "dev-00001",
            "sensor_type": "temperature",
            "severity": "critical",
        },
        "device": {"device_id": "dev-00001", "site": site, "owner_team": "ops"},
    }
    return StoredTransition(event_id, doc)


class FakeSns:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def publish_batch(
        self, TopicArn: str, PublishBatchRequestEntries: list[dict[str, Any]]
    ) -> dict[str, Any]:
        self.sent += [e["Id"] for e in PublishBatchRequestEntries]
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


class FakeEvents:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent += [json.loads(e["Detail"])["event_id"] for e in Entries]
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}


def test_sns_rejects_an_oversized_transition_unsent_and_sends_the_rest():
    # GIVEN a transition whose 150 KB site (in the message and again as an attribute) makes a 300 KB entry
    sns = FakeSns()
    publisher = SnsTransitionPublisher("arn:topic", sns)
    big, small = transition("big", site="s" * 150_000), transition("small", alarm_id="other")
    # WHEN it is published, checked
    undelivered, rejected = publisher.publish_checked([big, small], plenty)
    # THEN it is rejected with the reason and never sent; the other goes out
    assert (undelivered, list(rejected), sns.sent) == (set(), ["big"], ["small"])
    assert rejected["big"].startswith("SNS entry is 30")
    # AND a caller without a quarantine keeps it owed (no crash, nothing lost)
    assert publisher.publish([big], plenty) == {"big"}


def test_eventbridge_rejects_an_oversized_transition_unsent_and_sends_the_rest():
    events = FakeEvents()
    publisher = EventBridgeTransitionPublisher("bus", events)
    big, small = transition("big", site="s" * 300_000), transition("small", alarm_id="other")
    undelivered, rejected = publisher.publish_checked([big, small], plenty)
    assert (undelivered, list(rejected), events.sent) == (set(), ["big"], ["small"])
    assert publisher.publish([big], plenty) == {"big"}


class FakeQuarantine:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.kept: list[tuple[str, str, str]] = []

    def write_transition(self, event: TransitionLike, publisher: str, reason: str, detail: str) -> None:
        if self.fail:
            raise TransientError("s3:PutObject quarantine transition: SlowDown")
        self.kept.append((event.event_id, publisher, reason))


class Rejecting:
    """A checked publisher that rejects the named events and delivers the rest, recording what it got."""

    def __init__(self, name: str, reject: set[str]) -> None:
        self.name, self.reject = name, reject
        self.got: list[str] = []

    def publish(self, events: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        raise AssertionError("the outbox goes through publish_checked")

    def publish_checked(
        self, events: Sequence[TransitionLike], remaining_ms: RemainingTime
    ) -> tuple[set[str], dict[str, str]]:
        self.got += [e.event_id for e in events]
        return set(), {e.event_id: "too large" for e in events if e.event_id in self.reject}


def test_a_rejected_transition_is_quarantined_and_leaves_the_outbox_and_its_alarm_moves_on():
    # GIVEN alarm A's oversized Raised followed by its Cleared; SNS rejects the Raised as too large
    quarantine = FakeQuarantine()
    sns = Rejecting("sns", reject={"a1"})
    events = [transition("a1", alarm_id="A"), transition("a2", alarm_id="A")]
    # WHEN the outbox is published
    owed = publish_all(events, [QuarantiningPublisher(sns, quarantine)], plenty)
    # THEN the Raised is quarantined with its reason, nothing is owed, and the Cleared is not held behind it
    assert quarantine.kept == [("a1", "sns", "transition_too_large")]
    assert (owed, still_owed(events, owed), sns.got) == ({}, [], ["a1", "a2"])


def test_a_rejected_transition_the_quarantine_could_not_take_stays_owed_in_order():
    # GIVEN the quarantine is failing (S3 throttles)
    sns = Rejecting("sns", reject={"a1"})
    events = [transition("a1", alarm_id="A"), transition("a2", alarm_id="A")]
    owed = publish_all(events, [QuarantiningPublisher(sns, FakeQuarantine(fail=True))], plenty)
    # THEN the Raised stays owed, and the Cleared waits behind it as for any undelivered event
    assert owed == {"a1": {"sns"}, "a2": {"sns"}}
    assert sns.got == ["a1"]


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:
        self.objects[Key] = Body


def test_a_quarantined_transition_is_one_object_per_event_and_publisher_with_the_whole_document():
    s3 = FakeS3()
    event = transition("e1", site="s" * 150_000)
    S3QuarantineSink("bucket", s3).write_transition(event, "sns", "transition_too_large", "SNS entry is ...")
    key = "quarantine/transitions/year=2026/month=11/day=29/e1.sns.jsonl"
    assert (list(s3.objects), transition_key(event, "sns")) == ([key], key)
    [line] = s3.objects[key].decode().splitlines()
    record = json.loads(line)
    assert {k: v for k, v in record.items() if k != "document"} == {
        "reason": "transition_too_large",
        "detail": "SNS entry is ...",
        "publisher": "sns",
        "event_id": "e1",
        "alarm_id": "dev-00001#temperature#temperature-range",
        "transition": "Alarm Raised",
        "occurred_at": "2026-11-29T10:00:00.000Z",
        "document_bytes": len(json.dumps(event.document, separators=(",", ":"))),
    }
    assert record["document"] == event.document


def test_the_heartbeat_quarantines_a_transition_too_large_to_publish_when_its_stage_has_a_bucket():
    from sensorflow import bootstrap
    from sensorflow.config import HeartbeatSettings
    from sensorflow.services.outbox import QuarantiningPublisher

    env = {
        "ALARMS_TABLE_NAME": "alarms",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:alerts",
        "ALERTS_EVENT_BUS_NAME": "bus",
        "QUARANTINE_BUCKET_NAME": "quarantine",
    }
    clients = {name: object() for name in ("dynamodb", "sns", "events", "s3")}
    service = bootstrap.build_heartbeat_service(HeartbeatSettings.from_env(env), clients)
    assert [type(p) for p in service.publishers] == [QuarantiningPublisher, QuarantiningPublisher]
    bare = bootstrap.build_heartbeat_service(
        HeartbeatSettings.from_env({k: v for k, v in env.items() if k != "QUARANTINE_BUCKET_NAME"}), clients
    )
    assert not any(isinstance(p, QuarantiningPublisher) for p in bare.publishers)
