"""incidents under moto: EventBridge critical transitions open, update and resolve incident records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from handlers import incidents as incidents_handler
from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.adapters.dynamodb_incidents import DynamoIncidentStore
from sensorflow.core.contract import InvalidTransitionError
from sensorflow.core.incident_state import Incident, incident_id, tracker_key
from tests.integration.conftest import REGION, FakeContext
from tests.transitions import (
    EPISODE_ACKED,
    EPISODE_CLEARED,
    EPISODE_RAISED,
    eventbridge_event,
    numbered_episode,
    transition,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TABLE = "sensorflow-test-incidents"
ALARM = "dev-00042#temperature#temperature-range"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoIncidentStore]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "incident_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "incident_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        monkeypatch.setenv("INCIDENTS_TABLE_NAME", TABLE)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        client_factory.reset()
        bootstrap.incident_service.cache_clear()
        yield DynamoIncidentStore(TABLE, ddb)
        bootstrap.incident_service.cache_clear()
        client_factory.reset()


def deliver(doc: dict[str, Any]) -> str:
    return incidents_handler.handler(eventbridge_event(doc), FakeContext())["outcome"]


RAISED, ACKED, CLEARED = EPISODE_RAISED, EPISODE_ACKED, EPISODE_CLEARED


def only_incident(store: DynamoIncidentStore, opening: dict[str, Any]) -> Incident:
    found = store.get_incident(incident_id(ALARM, opening["event_id"]))
    assert found is not None
    return found


def test_raise_ack_clear_opens_updates_and_resolves(store: DynamoIncidentStore):
    # GIVEN a critical raise WHEN it is delivered THEN an incident is open
    assert deliver(RAISED) == "opened"
    incident = only_incident(store, RAISED)
    assert (incident.status, incident.severity, incident.opened_at, incident.site) == (
        "OPEN",
        "critical",
        "2026-11-29T10:20:30.000Z",
        "site-a",
    )
    assert store.load(ALARM)[0].open_incident_id == incident.incident_id
    # WHEN acknowledged THEN who, when and the note are recorded
    assert deliver(ACKED) == "updated"
    incident = only_incident(store, RAISED)
    assert (incident.status, incident.acknowledged_by, incident.note) == ("ACKNOWLEDGED", "alice", "on it")
    # WHEN cleared THEN it is resolved and the tracker points at nothing
    assert deliver(CLEARED) == "resolved"
    incident = only_incident(store, RAISED)
    assert (incident.status, incident.resolved_at, incident.resolved_by_event) == (
        "RESOLVED",
        "2026-11-29T10:42:00.000Z",
        CLEARED["event_id"],
    )
    assert [s.transition for s in incident.timeline] == [
        "Alarm Raised",
        "Alarm Acknowledged",
        "Alarm Cleared",
    ]
    assert incident.timeline[2].value == 41.0
    assert store.load(ALARM)[0].open_incident_id is None


def test_every_event_delivered_twice_changes_nothing_the_second_time(store: DynamoIncidentStore):
    outcomes = [deliver(doc) for doc in (RAISED, RAISED, ACKED, ACKED, CLEARED, CLEARED)]
    assert outcomes == ["opened", "duplicate", "updated", "duplicate", "resolved", "duplicate"]
    incident = only_incident(store, RAISED)
    assert incident.version == 3  # three writes: open, acknowledge, resolve
    assert len(incident.timeline) == 3
    items = store.client.scan(TableName=TABLE)["Items"]  # test read-back only
    assert sorted(i["kind"]["S"] for i in items) == ["incident", "tracker"]


def test_a_re_raise_after_a_clear_opens_a_new_incident(store: DynamoIncidentStore):
    again = transition("Alarm Raised", seq=60, occurred_at="2026-11-29T11:00:00.000Z")
    for doc in (RAISED, CLEARED, again):
        deliver(doc)
    first, second = only_incident(store, RAISED), only_incident(store, again)
    assert first.incident_id != second.incident_id
    assert (first.status, second.status) == ("RESOLVED", "OPEN")


def test_escalation_to_critical_opens_and_warning_raise_does_not(store: DynamoIncidentStore):
    warning = transition("Alarm Raised", severity="warning", value=38.0, threshold=35.0)
    escalated = transition("Alarm Escalated", seq=20, occurred_at="2026-11-29T10:22:00.000Z")
    assert deliver(warning) == "ignored"
    assert deliver(escalated) == "opened"
    incident = only_incident(store, escalated)
    assert (incident.status, incident.escalated_at) == ("OPEN", "2026-11-29T10:22:00.000Z")


def test_clear_before_raise_yields_a_resolved_incident(store: DynamoIncidentStore):
    # GIVEN the clear and the acknowledgement are delivered before the raise
    assert deliver(CLEARED) == "pending"
    assert deliver(ACKED) == "pending"
    # WHEN the raise arrives THEN the incident is opened already acknowledged and resolved
    assert deliver(RAISED) == "resolved"
    incident = only_incident(store, RAISED)
    assert (incident.status, incident.acknowledged_by, incident.resolved_by_event) == (
        "RESOLVED",
        "alice",
        CLEARED["event_id"],
    )
    tracker = store.load(ALARM)[0]
    assert (tracker.open_incident_id, tracker.pending) == (None, ())


def test_a_late_clear_from_an_earlier_episode_does_not_resolve_the_open_incident(store: DynamoIncidentStore):
    again = transition("Alarm Raised", seq=60, occurred_at="2026-11-29T11:00:00.000Z")
    deliver(again)
    assert deliver(CLEARED) == "ignored"  # occurred at 10:42, before the incident opened at 11:00
    assert only_incident(store, again).status == "OPEN"


def test_wrong_source_or_detail_type_is_rejected(store: DynamoIncidentStore):
    event = eventbridge_event(RAISED)
    event["detail-type"] = "Alarm Cleared"
    with pytest.raises(InvalidTransitionError, match="does not match transition 'Alarm Raised'"):
        incidents_handler.handler(event, FakeContext())
    assert store.load(ALARM)[0].version == 0
    assert tracker_key(ALARM) == "alarm#" + ALARM


def test_a_concurrent_writer_is_detected_and_the_event_reapplied(store: DynamoIncidentStore):
    # GIVEN another invocation applies the acknowledgement between our read and our write
    from sensorflow.services.incidents import IncidentService

    deliver(RAISED)

    class RacingStore:
        raced = False

        def load(self, alarm_id, incident_id=None):
            loaded = store.load(alarm_id, incident_id)
            if not self.raced:
                self.raced = True
                IncidentService(store).handle(parse(ACKED))
            return loaded

        def save(self, before, decision):
            store.save(before, decision)

    from sensorflow.core.contract import parse_transition as parse

    # WHEN our clear is applied THEN the conditional write fails once, and the retry keeps both events
    assert IncidentService(RacingStore()).handle(parse(CLEARED)) == "resolved"
    incident = only_incident(store, RAISED)
    assert [s.transition for s in incident.timeline] == [
        "Alarm Raised",
        "Alarm Acknowledged",
        "Alarm Cleared",
    ]


def test_the_incidents_sample_events_open_and_resolve_one_incident(store: DynamoIncidentStore):
    # GIVEN the committed sample events (`sls invoke local -f incidents --path events/incidents-*.json`)
    raised, cleared = (
        json.loads((EVENTS / name).read_text())
        for name in ("incidents-raised-critical.json", "incidents-cleared.json")
    )
    # WHEN incidents handles the raise, then the clear
    outcomes = [incidents_handler.handler(e, FakeContext())["outcome"] for e in (raised, cleared)]
    # THEN one incident, the episode's, opened and resolved by exactly those two events
    assert outcomes == ["opened", "resolved"]
    alarm = raised["detail"]["alarm"]
    assert alarm["episode"] == cleared["detail"]["alarm"]["episode"] == 1
    incident = store.get_incident(incident_id(alarm["alarm_id"], alarm["episode"]))
    assert incident is not None
    assert (incident.status, incident.opened_by_event, incident.resolved_by_event) == (
        "RESOLVED",
        raised["detail"]["event_id"],
        cleared["detail"]["event_id"],
    )


# --- numbered episodes (alarm.episode): bugs 3 and 4 of issue 10 -------------------------------------------


def test_two_episodes_out_of_order_with_duplicates_give_two_incidents_each_resolved_by_its_own_clear(
    store: DynamoIncidentStore,
):
    raised1, cleared1 = numbered_episode(1)
    raised2, cleared2 = numbered_episode(2)
    # GIVEN EventBridge delivers the second raise first, a clear before its raise, and duplicates
    outcomes = [deliver(d) for d in (raised2, cleared1, cleared1, cleared2, raised1, raised2)]
    # THEN each episode's events went to its own incident, keyed by (alarm, episode)
    assert outcomes == ["opened", "pending", "duplicate", "resolved", "resolved", "duplicate"]
    for episode, raised, cleared in ((1, raised1, cleared1), (2, raised2, cleared2)):
        incident = store.get_incident(incident_id(ALARM, episode))
        assert incident is not None
        assert (incident.episode, incident.status, incident.opened_by_event, incident.resolved_by_event) == (
            episode,
            "RESOLVED",
            raised["event_id"],
            cleared["event_id"],
        )
        assert [s.transition for s in incident.timeline] == ["Alarm Raised", "Alarm Cleared"]
    # AND nothing waits in the tracker any more
    tracker = store.load(ALARM)[0]
    assert (tracker.held, tracker.open_incident_id, len(tracker.applied)) == ((), None, 4)


class _CloudFormationTags(yaml.SafeLoader):
    """serverless.yml as YAML: CloudFormation's short tags (``!GetAtt`` ...) read as None."""


_CloudFormationTags.add_multi_constructor("!", lambda loader, suffix, node: None)


def incidents_rule_pattern() -> dict[str, Any]:
    doc = yaml.load((ROOT / "serverless.yml").read_text(), Loader=_CloudFormationTags)
    [trigger] = doc["functions"]["incidents"]["events"]
    return trigger["eventBridge"]["pattern"]


def test_the_incidents_rule_passes_critical_ends_and_reminders_and_they_resolve(store: DynamoIncidentStore):
    # GIVEN the incidents function's EventBridge rule as serverless.yml declares it, feeding a queue
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    events.create_event_bus(Name="alerts")
    url = sqs.create_queue(QueueName="incidents")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="incidents", EventBusName="alerts", EventPattern=json.dumps(incidents_rule_pattern())
    )
    events.put_targets(Rule="incidents", EventBusName="alerts", Targets=[{"Id": "q", "Arn": arn}])
    # AND two critical episodes, ended by a disable and by a reset (carrying the episode's severity), a
    # reminder of the second, and a disable with no episode open (warning)
    raised1, disabled1 = numbered_episode(1, end="Alarm Disabled")
    raised2, reset2 = numbered_episode(2, end="Alarm Reset")
    reminder2 = transition(
        "Alarm Reminder", seq=250, episode=2, value=None, occurred_at="2026-11-29T10:25:00.000Z"
    )
    idle_disable = transition(
        "Alarm Disabled", seq=300, episode=2, severity="warning", state="DISABLED", value=None
    )
    sent = [raised1, disabled1, raised2, reminder2, reset2, idle_disable]
    # WHEN they are published to the bus
    for doc in sent:
        entry = {"Source": "sensorflow.alarms", "DetailType": doc["transition"], "Detail": json.dumps(doc)}
        assert events.put_events(Entries=[{**entry, "EventBusName": "alerts"}])["FailedEntryCount"] == 0
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    routed = [json.loads(m["Body"]) for m in messages]
    # THEN the rule passes every critical one, the warning disable not
    assert sorted(e["detail"]["event_id"] for e in routed) == sorted(d["event_id"] for d in sent[:5])
    # AND delivered to incidents, the disable and the reset resolve their episodes' incidents
    by_id = {e["detail"]["event_id"]: e for e in routed}
    outcomes = [incidents_handler.handler(by_id[d["event_id"]], FakeContext())["outcome"] for d in sent[:5]]
    assert outcomes == ["opened", "resolved", "opened", "updated", "resolved"]
    first, second = (store.get_incident(incident_id(ALARM, n)) for n in (1, 2))
    assert first is not None and second is not None
    assert (first.status, first.resolved_by_event) == ("RESOLVED", disabled1["event_id"])
    assert (second.status, second.resolved_by_event) == ("RESOLVED", reset2["event_id"])
    assert [s.transition for s in second.timeline] == ["Alarm Raised", "Alarm Reminder", "Alarm Reset"]
