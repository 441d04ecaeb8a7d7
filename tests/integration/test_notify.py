"""notify under moto: SNS event -> ledger claim in DynamoDB -> webhook on loopback, exactly once.

The webhook is ``sensorflow.localcloud.webhook_receiver.WebhookReceiver`` on 127.0.0.1; its URL (with a
secret-looking path, like a Slack webhook) lives only in an SSM SecureString parameter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from handlers import notify as notify_handler
from sensorflow import bootstrap
from sensorflow.adapters import clients as client_factory
from sensorflow.adapters import webhook_sender
from sensorflow.core.errors import ConfigError, DeliveryError
from sensorflow.localcloud.webhook_receiver import WebhookReceiver
from tests.integration.conftest import REGION, FakeContext
from tests.transitions import sns_event, transition

EVENTS = Path(__file__).resolve().parents[2] / "events"
TABLE = "sensorflow-test-notifications"
PARAMETER = "/sensorflow/test/webhook-url"


@dataclass
class NotifyStack:
    hook: WebhookReceiver
    dynamodb: Any
    ssm: Any

    def ledger(self, event_id: str) -> dict[str, Any]:
        item = self.dynamodb.get_item(TableName=TABLE, Key={"event_id": {"S": event_id}}, ConsistentRead=True)
        return {k: next(iter(v.values())) for k, v in item.get("Item", {}).items()}


@pytest.fixture
def notify_stack(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[NotifyStack]:
    monkeypatch.setattr(webhook_sender, "BASE_DELAY_S", 0.001)  # keep retry tests fast; the logic is the same
    with mock_aws(), WebhookReceiver(tmp_path / "webhook.jsonl") as hook:
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
        monkeypatch.setenv("NOTIFICATIONS_TABLE_NAME", TABLE)
        monkeypatch.setenv("WEBHOOK_URL_PARAMETER", PARAMETER)
        monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
        client_factory.reset()
        bootstrap.notify_service.cache_clear()
        yield NotifyStack(hook, dynamodb, ssm)
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
    # THEN the SecureString was read with decryption (once, then again after the 404) ...
    assert reads == [{"Name": PARAMETER, "WithDecryption": True}] * 2
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
    samples = [
        json.loads((EVENTS / name).read_text()) for name in ("notify-raised.json", "notify-cleared.json")
    ]
    # WHEN notify handles each
    outcomes = [notify_handler.handler(e, FakeContext())["notifications"][0]["outcome"] for e in samples]
    # THEN each is one message: the raise and the clear of the same temperature alarm
    assert outcomes == ["sent", "sent"]
    assert [m["text"].split("\n")[0] for m in notify_stack.hook.messages()] == [
        "[CRITICAL] Alarm Raised: temperature on dev-00000",
        "[CRITICAL] Alarm Cleared: temperature on dev-00000",
    ]
