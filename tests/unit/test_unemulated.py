"""Settings the local runtime refuses rather than silently ignore (emulator/unemulated.py)."""

from __future__ import annotations

import json

from sensorflow.localcloud.emulator import fidelity
from sensorflow.localcloud.emulator.unemulated import in_mappings, in_template, report

FN = "arn:aws:lambda:us-east-1:123456789012:function:sensorflow-local-ingest"
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/readings"


def test_each_unemulated_mapping_setting_is_one_line_naming_the_mapping_and_the_setting() -> None:
    mappings = [
        {"UUID": "u-ok", "FunctionArn": FN, "EventSourceArn": STREAM, "BatchSize": 10},
        {"UUID": "u-window", "FunctionArn": FN, "EventSourceArn": STREAM, "TumblingWindowInSeconds": 60},
        {
            "UUID": "u-s3",
            "FunctionArn": FN,
            "EventSourceArn": STREAM,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:s3:::failed-batches"}},
        },
        {
            "UUID": "u-ddb",
            "FunctionArn": FN,
            "EventSourceArn": "arn:aws:dynamodb:us-east-1:1:table/t/stream/x",
        },
        {
            "UUID": "u-sqs",
            "FunctionArn": FN,
            "EventSourceArn": "arn:aws:sqs:us-east-1:1:q",
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps({"body": {"a": [1]}})}]},
        },
    ]
    assert report(in_mappings(mappings)) == [
        "event source mapping u-ddb (sensorflow-local-ingest): event source dynamodb is not emulated locally "
        "(only Kinesis streams and SQS queues are polled)",
        "event source mapping u-s3 (sensorflow-local-ingest): on-failure destination "
        "arn:aws:s3:::failed-batches is not emulated locally (only SQS and SNS destinations are sent)",
        "event source mapping u-sqs (sensorflow-local-ingest): FilterCriteria is not emulated locally "
        "(filters apply to Kinesis mappings only)",
        "event source mapping u-window (sensorflow-local-ingest): TumblingWindowInSeconds is not emulated "
        "locally (stateful windows are not emulated)",
    ]


def test_template_settings_are_refused_unless_their_condition_left_them_out() -> None:
    template = {
        "Resources": {
            "Mail": {"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "email"}},
            "MailIfSet": {
                "Type": "AWS::SNS::Subscription",
                "Condition": "HasEmail",
                "Properties": {"Protocol": "email"},
            },
            "Queue": {"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "sqs"}},
            "Nightly": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "ScheduleExpression": "cron(0 2 * * ? *)",
                    "Targets": [{"Id": "t", "Arn": "x", "InputPath": "$.detail", "RetryPolicy": {}}],
                },
            },
            "Critical": {
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "EventPattern": {},
                    "Targets": [{"Id": "c", "Arn": "x", "InputPath": "$.detail"}],
                },
            },
        }
    }
    assert report(in_template(template, created={"Mail", "Queue", "Nightly", "Critical"})) == [
        "Mail: Protocol email is not emulated locally (nothing is delivered locally)",
        "Nightly target t: InputPath is not emulated locally "
        "(a schedule target gets its constant Input or the event)",
        "Nightly target t: RetryPolicy is not emulated locally "
        "(delivery to a local Lambda never fails, so it would never act)",
    ]


def test_the_emulation_table_counts_every_behaviour_once() -> None:
    now, before = fidelity.counts(), fidelity.counts("before")
    assert sum(now.values()) == sum(before.values()) == len(fidelity.BEHAVIOURS)
    assert all(b.status in fidelity.STATUSES and b.before in fidelity.STATUSES for b in fidelity.BEHAVIOURS)
    assert len({(b.area, b.behaviour) for b in fidelity.BEHAVIOURS}) == len(fidelity.BEHAVIOURS)
