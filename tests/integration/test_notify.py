"""notify under moto: SNS event -> ledger claim in DynamoDB -> webhook on loopback, exactly once.

The webhook is ``sensorflow.localcloud.webhook_receiver.WebhookReceiver`` on 127.0.0.1; its URL (with a
secret-looking path, like a Slack webhook) lives only in an SSM SecureString parameter. Team ``plant-a``
has a second receiver under the team parameter path. The SNS filter policies of ``serverless.yml`` (notify's
subscription and the email one) are checked against moto's SNS with suppressed and unsuppressed messages.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from handlers import notify as notify_handler
from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.adapters import webhook_sender
from sensorflow.core.errors import ConfigError, DeliveryError
from sensorflow.localcloud.webhook_receiver import WebhookReceiver
from tests.integration.conftest import REGION, FakeContext
from tests.transitions import sns_event, transition

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
TABLE = "sensorflow-test-notifications"
PARAMETER = "/sensorflow/test/webhook-url"
TEAM_PATH = "/sensorflow/test/webhooks/teams"


@dataclass
class NotifyStack:
    hook: WebhookReceiver
    dynamodb: Any
    ssm: Any
    team_hook: WebhookReceiver

    def ledger(self, event_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(TableName=TABLE, Key={"event_id": {"S": event_id}}, ConsistentRead=True)
        return {k: next(iter(v.values())) for k, v in item.get("Item", {}).items()}


@pytest.fixture
def notify_stack(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[NotifyStack]:
    monkeypatch.setattr(webhook_sender, "BASE_DELAY_S", 0.001)  # keep retry tests fast; the logic is the same
    with (
        mock_aws(),
        WebhookReceiver(tmp_path / "webhook.jsonl") as hook,
        WebhookReceiver(tmp_path / "team-webhook.jsonl") as team_hook,
    ):
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[{"AttributeName": "event_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "event_id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
        )
        ssm = boto3.client("ssm", region_name=REGION)
        ssm.put_parameter(Name=PARAMETER, Value=hook.url, Type="SecureString")
        ssm.put_parameter(Name=f"{TEAM_PATH}/plant-a", Value=team_hook.url, Type="SecureString")
        monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", TABLE)
        monkeypatch.setenv("WEBHOOK_URL_PARAMETER", PARAMETER)
        monkeypatch.setenv("WEBHOOK_TEAM_PARAMETER_PATH", TEAM_PATH)
        # The receivers are plain http on 127.0.0.1, as on the local stage (serverless.yml params.local).
        monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        client_factory.reset()
        bootstrap.notify_service.cache_clear()
        yield NotifyStack(hook, dynamodb, ssm, team_hook)
        bootstrap.notify_service.cache_clear()
        client_factory.reset()


def test_the_same_sns_event_twice_gives_exactly_one_message(notify_stack: NotifyStack):
    # GIVEN one Alarm Raised transition delivered by SNS twice (at-least-once delivery)
    doc = transition("Alarm Raised")
    event = sns_event(doc)
    # WHEN notify handles both deliveries
    first = notify_handler.handler(event, FakeContext())
    second = notify_handler.handler(event, FakeContext())
    # THEN the webhook got exactly one message, rendered from the transition
    assert first == {"notifications": [{"event_id": doc["event_id"], "outcome": "sent"}]}
    assert second == {"notifications": [{"event_id": doc["event_id"], "outcome": "duplicate"}]}
    messages = notify_stack.hook.messages()
    assert len(messages) == 1
    assert messages[0]["text"].startswith("[CRITICAL] Alarm Raised: temperature on dev-00042\n")
    assert notify_stack.hook.requests == 1
    # AND the ledger holds the raw event id, sent, with a TTL
    item = notify_stack.ledger(doc["event_id"])
    assert (item["status"], item["attempts"], item["transition"]) == ("sent", "1", "Alarm Raised")
    assert int(item["expires_at"]) > int(item["sent_at_ms"]) // 1000


def test_distinct_events_each_get_one_message(notify_stack: NotifyStack):
    raised = transition("Alarm Raised", seq=17)
    cleared = transition("Alarm Cleared", seq=40, value=41.0, state="NORMAL")
    for doc in (raised, cleared, raised, cleared):
        notify_handler.handler(sns_event(doc), FakeContext())
    texts = [m["text"].splitlines()[0] for m in notify_stack.hook.messages()]
    assert texts == [
        "[CRITICAL] Alarm Raised: temperature on dev-00042",
        "[CRITICAL] Alarm Cleared: temperature on dev-00042",
    ]


def test_5xx_then_success_is_retried_within_one_invocation(notify_stack: NotifyStack):
    notify_stack.hook.fail_next(503, 500, 429)
    doc = transition()
    assert notify_handler.handler(sns_event(doc), FakeContext())["notifications"][0]["outcome"] == "sent"
    assert notify_stack.hook.requests == 4
    assert len(notify_stack.hook.messages()) == 1
    assert notify_stack.ledger(doc["event_id"])["status"] == "sent"


def test_failure_after_retries_raises_and_a_later_retry_delivers_once(notify_stack: NotifyStack):
    # GIVEN a webhook that fails every attempt of the first invocation
    notify_stack.hook.fail_next(*([502] * webhook_sender.MAX_ATTEMPTS))
    doc = transition()
    # WHEN notify runs: it raises, so Lambda's async retry / on-failure destination take over
    with pytest.raises(DeliveryError, match=r"after 5 attempt\(s\): HTTP 502"):
        notify_handler.handler(sns_event(doc), FakeContext())
    item = notify_stack.ledger(doc["event_id"])
    assert (item["status"], item["last_error"]) == (
        "failed",
        "webhook delivery failed after 5 attempt(s): HTTP 502",
    )
    # AND Lambda's retry of the same event claims it again and delivers exactly one message
    assert notify_handler.handler(sns_event(doc), FakeContext())["notifications"][0]["outcome"] == "sent"
    assert len(notify_stack.hook.messages()) == 1
    assert notify_stack.ledger(doc["event_id"])["attempts"] == "2"


def test_a_live_claim_elsewhere_sends_nothing(notify_stack: NotifyStack):
    # GIVEN another invocation holds an unexpired claim on the event
    doc = transition()
    notify_stack.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "event_id": {"S": doc["event_id"]},
            "status": {"S": "sending"},
            "claim_token": {"S": "other"},
            "lease_until_ms": {"N": str(10**13)},
        },
    )
    # WHEN a duplicate delivery arrives THEN it sends nothing
    result = notify_handler.handler(sns_event(doc), FakeContext())
    assert result["notifications"][0]["outcome"] == "in_progress"
    assert notify_stack.hook.requests == 0


def test_an_expired_claim_is_taken_over(notify_stack: NotifyStack):
    doc = transition()
    notify_stack.dynamodb.put_item(
        TableName=TABLE,
        Item={
            "event_id": {"S": doc["event_id"]},
            "status": {"S": "sending"},
            "claim_token": {"S": "crashed"},
            "lease_until_ms": {"N": "1"},
            "attempts": {"N": "1"},
        },
    )
    assert notify_handler.handler(sns_event(doc), FakeContext())["notifications"][0]["outcome"] == "sent"
    assert len(notify_stack.hook.messages()) == 1


def test_the_webhook_url_never_appears_in_logs(notify_stack: NotifyStack, capfd, caplog, monkeypatch):
    # GIVEN verbose logging (botocore included) and a failure path that logs every attempt
    caplog.set_level(logging.DEBUG)
    reads: list[dict[str, Any]] = []
    client_factory.client("ssm").meta.events.register(
        "provide-client-params.ssm.GetParameter", lambda params, **_: reads.append(dict(params))
    )
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    notify_stack.hook.fail_next(500, 404)  # 404 also re-reads the parameter
    # WHEN notify delivers (after a retry and a refresh) and then fails a second event
    notify_handler.handler(sns_event(transition()), FakeContext())
    notify_stack.hook.fail_next(*([503] * webhook_sender.MAX_ATTEMPTS))
    with pytest.raises(DeliveryError):
        notify_handler.handler(sns_event(transition("Alarm Cleared", seq=99)), FakeContext())
    # THEN the SecureString was read with decryption (once, then again after the 404), after the one
    # lookup of team "ops" (no parameter: default route, and the miss is cached) ...
    team = {"Name": f"{TEAM_PATH}/ops", "WithDecryption": True}
    assert reads == [team] + [{"Name": PARAMETER, "WithDecryption": True}] * 2
    assert len(notify_stack.hook.messages()) == 1
    # ... and neither the URL nor its secret path is in any captured log line or message
    out, err = capfd.readouterr()
    logged = out + err + caplog.text
    assert "webhook attempt failed" in logged
    secret_path = notify_stack.hook.path
    assert secret_path not in logged
    assert notify_stack.hook.url not in logged


def test_a_plain_string_parameter_is_refused(notify_stack: NotifyStack):
    notify_stack.ssm.put_parameter(Name=PARAMETER, Value=notify_stack.hook.url, Type="String", Overwrite=True)
    with pytest.raises(ConfigError, match="is a String, not a SecureString"):
        notify_handler.handler(sns_event(transition()), FakeContext())
    assert notify_stack.hook.requests == 0


def test_the_notify_sample_events_each_send_one_message(notify_stack: NotifyStack):
    # GIVEN the committed sample events (what `sls invoke local -f notify --path events/notify-*.json` sends)
    names = ("notify-raised.json", "notify-cleared.json", "notify-suppressed.json")
    samples = [json.loads((EVENTS / name).read_text()) for name in names]
    # WHEN notify handles each
    outcomes = [notify_handler.handler(e, FakeContext())["notifications"][0]["outcome"] for e in samples]
    # THEN the raise and the clear of the same temperature alarm are one message each, and the raise
    # during a maintenance window (silenced) is none
    assert outcomes == ["sent", "sent", "suppressed"]
    assert [m["text"].split("\n")[0] for m in notify_stack.hook.messages()] == [
        "[CRITICAL] Alarm Raised: temperature on dev-00000",
        "[CRITICAL] Alarm Cleared: temperature on dev-00000",
    ]


# --- routing per owner team ---------------------------------------------------------------------------


def owned_by(team: str, **kwargs: Any) -> dict[str, Any]:
    doc = transition(**kwargs)
    doc["device"]["owner_team"] = team
    return doc


def test_a_team_with_its_own_parameter_gets_its_own_webhook(notify_stack: NotifyStack, caplog):
    # GIVEN team plant-a has /sensorflow/test/webhooks/teams/plant-a, team plant-b has no parameter
    reads: list[str] = []
    client_factory.client("ssm").meta.events.register(
        "provide-client-params.ssm.GetParameter", lambda params, **_: reads.append(params["Name"])
    )
    a = owned_by("plant-a", seq=1)
    b1, b2 = owned_by("plant-b", seq=2), owned_by("plant-b", seq=3)
    # WHEN notify handles one transition of plant-a and two of plant-b
    outcomes = [
        notify_handler.handler(sns_event(d), FakeContext())["notifications"][0]["outcome"]
        for d in (a, b1, b2)
    ]
    # THEN plant-a's message went to its webhook only, plant-b's two to the default webhook
    assert outcomes == ["sent"] * 3
    assert [m["blocks"][-1]["elements"][0]["text"].split()[1] for m in notify_stack.team_hook.messages()] == [
        a["event_id"]
    ]
    assert len(notify_stack.hook.messages()) == 2
    # AND plant-b's missing parameter was asked about once, not once per message
    assert reads == [f"{TEAM_PATH}/plant-a", f"{TEAM_PATH}/plant-b", PARAMETER]
    # AND the log names each route, never a URL
    sent = [r for r in caplog.records if r.message == "notification sent"]
    assert [r.route for r in sent] == ["plant-a", "default", "default"]
    assert notify_stack.team_hook.url not in caplog.text and notify_stack.hook.url not in caplog.text
    # AND the ledger keeps one item per event
    assert notify_stack.ledger(a["event_id"])["status"] == "sent"


def test_a_suppressed_transition_is_processed_and_sends_nothing(notify_stack: NotifyStack):
    doc = owned_by("plant-a")
    doc["suppressed"] = {
        "reason": "silenced",
        "silence_id": "sil-1",
        "created_by": "alice",
        "comment": "maintenance",
        "ends_at": "2026-11-29T12:00:00.000Z",
    }
    result = notify_handler.handler(sns_event(doc), FakeContext())
    assert result == {"notifications": [{"event_id": doc["event_id"], "outcome": "suppressed"}]}
    assert (notify_stack.hook.requests, notify_stack.team_hook.requests) == (0, 0)
    assert notify_stack.ledger(doc["event_id"]) == {}


# --- the SNS filter policies in serverless.yml ----------------------------------------------------------


class _TemplateLoader(yaml.SafeLoader):
    """serverless.yml with its CloudFormation short forms (!Ref, !Sub, ...) read as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def filter_policies() -> dict[str, dict[str, Any]]:
    """notify's subscription filter and the email subscription's, ``${self:custom.*}`` resolved."""
    doc = yaml.load((ROOT / "serverless.yml").read_text(), Loader=_TemplateLoader)  # a SafeLoader
    [sns] = [e["sns"] for e in doc["functions"]["notify"]["events"] if "sns" in e]
    notify = dict(sns["filterPolicy"])
    custom = re.fullmatch(r"\$\{self:custom\.(\w+)\}", str(notify["transition"]))
    if custom:
        notify["transition"] = doc["custom"][custom.group(1)]
    # `resources` is a list osls merges: resources/monitoring.yml (a ${file()}), then the stack's own
    [own] = [part for part in doc["resources"] if isinstance(part, dict)]
    email = own["Resources"]["AlertsEmailSubscription"]["Properties"]["FilterPolicy"]
    return {"notify": notify, "email": email}


def test_the_filter_policies_keep_suppressed_transitions_away(notify_stack: NotifyStack):
    # GIVEN queues subscribed to a topic with notify's and the email subscription's filter policies
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="sensorflow-test-alerts")["TopicArn"]
    queues = {}
    for name, policy in filter_policies().items():
        url = sqs.create_queue(QueueName=f"filter-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(policy), "RawMessageDelivery": "true"},
        )
        queues[name] = url
    # WHEN transitions are published with each value of the `suppressed` attribute, and without it
    cases = {
        "none": ("Alarm Raised", "none"),
        "silenced": ("Alarm Raised", "silenced"),
        "inhibited": ("Alarm Cleared", "inhibited"),
        "missing": ("Alarm Raised", None),
        "reminder": ("Alarm Reminder", "none"),
        "ack": ("Alarm Acknowledged", "none"),
    }
    for body, (name, suppressed) in cases.items():
        attrs = {"transition": name, "severity": "critical"} | (
            {"suppressed": suppressed} if suppressed else {}
        )
        sns.publish(
            TopicArn=topic,
            Message=body,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()},
        )
    # THEN neither subscription receives a suppressed one; a message without the attribute is not suppressed
    received = {
        name: sorted(
            m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        )
        for name, url in queues.items()
    }
    assert received == {
        "notify": ["ack", "missing", "none", "reminder"],
        "email": ["missing", "none", "reminder"],
    }
