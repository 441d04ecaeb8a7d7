"""The console's real stage source and actions on the real adapters under moto's mock_aws.

GIVEN a stack with a raised alarm, a readings object, a quarantine object and a failure queue, the
console's routes read them through ``StageSource`` and act through ``StageActions``: the same
``AlarmActions``, silence store and identity (``--by``, the STS caller ARN) as ``sensorflow alarms`` /
``sensorflow silences``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from sensorflow import bootstrap
from sensorflow.adapters.s3_quarantine import S3QuarantineSink
from sensorflow.adapters.s3_readings import S3ReadingSink
from sensorflow.cli.console.operator_actions import StageActions
from sensorflow.cli.console.routes import Console
from sensorflow.cli.console.stage import StageSource
from sensorflow.core import alarms as am
from sensorflow.core.ports import QuarantineEntry
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.ingest import batch_key
from tests.factories import NOW_MS, SHARD, TEMPERATURE_RULES
from tests.integration.conftest import REGION, STAGE, Stack
from tests.integration.test_alarms import ALARM, BATCH, RAISE_AT, enriched, plenty, store

PORT = 5061
HEADERS = {"Host": f"127.0.0.1:{PORT}", "Origin": f"http://127.0.0.1:{PORT}"}
TOKEN = "csrf-token"


class Arrived:
    arrival_time_ms = NOW_MS
    shard_id = SHARD
    sequence_number = "49650000000000000000000000000000000000000000000000000001"


@pytest.fixture
def console(stack: Stack) -> tuple[Console, dict[str, Any]]:
    c = {**stack.clients, "sts": boto3.client("sts", region_name=REGION)}
    c["cloudwatch"] = boto3.client("cloudwatch", region_name=REGION)
    s = stack.settings
    # GIVEN an alarm raised by the evaluator (ACTIVE), its readings in the bucket, a quarantined record
    readings = enriched(BATCH[: RAISE_AT + 1])
    AlarmEvaluator(
        store(stack),
        TEMPERATURE_RULES,
        bootstrap.transition_publishers(s.alerts_topic_arn, s.alerts_event_bus, c),
    ).evaluate(readings, plenty)
    S3ReadingSink(s.readings_bucket, c["s3"]).write(f"readings/{batch_key(Arrived())}.avro", readings)  # type: ignore[arg-type]
    S3QuarantineSink(s.quarantine_bucket, c["s3"]).write(
        f"quarantine/{batch_key(Arrived())}.jsonl",  # type: ignore[arg-type]
        [QuarantineEntry("unknown_device", "not in the registry", b"x", "<dev>", "1", SHARD, NOW_MS)] * 2,
    )
    failures = c["sqs"].create_queue(QueueName=f"sensorflow-{STAGE}-ingest-failures")["QueueUrl"]
    c["sqs"].send_message(QueueUrl=failures, MessageBody="{}")
    outputs = {
        "AlarmsTableName": s.alarms_table,
        "AlertsTopicArn": s.alerts_topic_arn,
        "AlertsEventBusName": s.alerts_event_bus,
        "ReadingsBucketName": s.readings_bucket,
        "QuarantineBucketName": s.quarantine_bucket,
        "FailureQueueUrl": failures,
    }
    source = StageSource(STAGE, outputs, c)
    actions = bootstrap.build_alarm_actions(
        s.alarms_table, s.alerts_topic_arn, s.alerts_event_bus, TEMPERATURE_RULES, c
    )
    silences = bootstrap.build_silence_store(s.alarms_table, c["dynamodb"])
    stack.drain(stack.all_alerts_queue_url)
    return Console(
        source, StageActions(actions, silences, c["sts"], by="ana"), PORT, TOKEN, lambda: NOW_MS
    ), c


def post(console: Console, **form: str) -> str:
    response = console.handle("POST", "/action", HEADERS, urlencode({"csrf": TOKEN, **form}).encode())
    assert response.status == 303 and response.location is not None
    return console.handle("GET", response.location, HEADERS).body.decode()


def test_the_alarms_page_shows_the_raised_alarm_with_its_device_context(stack: Stack, console: Any):
    page = console[0].handle("GET", "/", HEADERS).body.decode()
    assert re.findall(r'data-alarm="([^"]+)" data-state="([A-Z]+)"', page) == [(ALARM, am.ACTIVE)]
    assert "<td>site-a</td>" in page and "<td>40</td>" in page


def test_ack_from_the_console_is_the_clis_ack_with_the_same_identity(stack: Stack, console: Any):
    app, c = console
    # WHEN the console's form acknowledges the alarm with a note
    page = post(app, action="ack", alarm_id=ALARM, note="on my way", back="/")
    # THEN the alarm is ACKNOWLEDGED in DynamoDB by --by, with the STS caller ARN, as `alarms ack` records
    stored = store(stack).get_alarm(ALARM)
    assert stored is not None
    arn = c["sts"].get_caller_identity()["Arn"]
    a = stored.alarm
    assert (a.state, a.acknowledged_by, a.caller_arn, a.note) == (am.ACKNOWLEDGED, "ana", arn, "on my way")
    # AND "Alarm Acknowledged" went out on the topic, and the page says what the CLI prints
    assert [m["transition"] for m in stack.drain(stack.all_alerts_queue_url)] == ["Alarm Acknowledged"]
    assert f'id="flash">{ALARM}: ACKNOWLEDGED (Alarm Acknowledged)' in page
    # AND acking again is refused with the core's reason, and nothing is published
    again = post(app, action="ack", alarm_id=ALARM)
    assert 'id="error">' in again and stack.drain(stack.all_alerts_queue_url) == []


def test_snooze_needs_a_duration_and_disable_a_reason_as_on_the_command_line(stack: Stack, console: Any):
    app, _ = console
    assert "is not a duration" in post(app, action="snooze", alarm_id=ALARM, **{"for": "soon"})
    assert "disable needs --reason" in post(app, action="disable", alarm_id=ALARM, note=" ", **{"for": ""})
    assert "SNOOZED" in post(app, action="snooze", alarm_id=ALARM, **{"for": "30m"})
    stored = store(stack).get_alarm(ALARM)
    assert stored is not None and stored.alarm.snoozed_until_ms == NOW_MS + 30 * 60_000


def test_silence_from_the_console_silences_the_device_as_ana(stack: Stack, console: Any):
    app, c = console
    page = post(app, action="silence", alarm_id=ALARM, note="maintenance", **{"for": "2h"})
    assert "silences device_id=dev-00001 until" in page
    (silence,) = bootstrap.build_silence_store(stack.settings.alarms_table, c["dynamodb"]).active(NOW_MS)
    assert (silence.matchers, silence.created_by, silence.comment) == (
        {"device_id": "dev-00001"},
        "ana",
        "maintenance",
    )
    assert silence.caller_arn == c["sts"].get_caller_identity()["Arn"]
    assert "silenced by" in app.handle("GET", "/", HEADERS).body.decode()


def test_device_quarantine_and_health_pages_read_the_stage(stack: Stack, console: Any):
    app, _ = console
    device = app.handle("GET", "/device?id=dev-00001", HEADERS).body.decode()
    assert device.count("<circle") == RAISE_AT + 1
    quarantine = app.handle("GET", "/quarantine", HEADERS).body.decode()
    assert "<td>unknown_device</td><td>2</td>" in quarantine and "&lt;dev&gt;" in quarantine
    health = app.handle("GET", "/health", HEADERS).body.decode()
    assert "<td>on-failure (ingest)</td><td>1</td>" in health
    assert 'id="heartbeat">never ran' in health
