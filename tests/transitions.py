"""Builders for alarm transition events (the issue 5 JSON contract) and their Lambda envelopes."""

from __future__ import annotations

import copy
import json
from typing import Any

from sensorflow.core.alarms import event_id as transition_event_id


def transition(
    name: str = "Alarm Raised",
    *,
    device_id: str = "dev-00042",
    sensor_type: str = "temperature",
    rule_id: str = "temperature-range",
    severity: str | None = "critical",
    state: str = "ACTIVE",
    seq: int = 17,
    value: float | None = 47.3,
    unit: str = "C",
    bound: str | None = "max",
    threshold: float | None = 45.0,
    occurred_at: str = "2026-11-29T10:20:30.000Z",
    since: str | None = "2026-11-29T10:15:00.000Z",
    acknowledged_by: str | None = None,
    note: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    alarm_id = f"{device_id}#{sensor_type}#{rule_id}"
    return {
        "event_id": event_id or transition_event_id(alarm_id, name, seq),
        "transition": name,
        "occurred_at": occurred_at,
        "alarm": {
            "alarm_id": alarm_id,
            "device_id": device_id,
            "sensor_type": sensor_type,
            "rule_id": rule_id,
            "state": state,
            "severity": severity,
            "since": since,
            "acknowledged_by": acknowledged_by,
            "note": note,
            "snoozed_until": None,
        },
        "reading": None
        if value is None
        else {"value": value, "unit": unit, "timestamp": occurred_at, "seq": seq},
        "rule": {
            "rule_id": rule_id,
            "bound": bound,
            "threshold": threshold,
            "clear_threshold": None,
            "for_seconds": 60,
        },
        "device": {
            "device_id": device_id,
            "site": "site-a",
            "location": "hall-1",
            "model": "TH-200",
            "owner_team": "ops",
        },
    }


def sns_event(
    doc: dict[str, Any], topic_arn: str = "arn:aws:sns:us-east-1:123456789012:sensorflow-test-alerts"
) -> dict[str, Any]:
    """The exact shape Lambda receives from an SNS subscription (one record per invocation)."""
    alarm = doc["alarm"]
    attrs = {
        "transition": doc["transition"],
        "severity": alarm["severity"] or "none",
        "sensor_type": alarm["sensor_type"],
        "site": doc["device"]["site"],
        "device_id": alarm["device_id"],
    }
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": topic_arn + ":2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": doc["occurred_at"],
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "Message": json.dumps(doc),
                    "MessageAttributes": {k: {"Type": "String", "Value": v} for k, v in attrs.items()},
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "TopicArn": topic_arn,
                    "Subject": None,
                },
            }
        ]
    }


def eventbridge_event(doc: dict[str, Any], bus: str = "sensorflow-test-alerts") -> dict[str, Any]:
    """The exact shape Lambda receives from an EventBridge rule target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": doc["transition"],
        "source": "sensorflow.alarms",
        "account": "123456789012",
        "time": doc["occurred_at"][:19] + "Z",
        "region": "us-east-1",
        "resources": [],
        "detail": copy.deepcopy(doc),
    }
