"""SNS PublishBatch entries for transitions: the Subject stays within SNS's limit."""

from __future__ import annotations

from sensorflow.adapters.sns_transitions import SUBJECT_MAX_CHARS, transition_entry
from sensorflow.core.ports import StoredTransition


def transition(device_id: str, rule_id: str) -> StoredTransition:
    alarm_id = f"{device_id}#temperature#{rule_id}"
    doc = {
        "event_id": "e" * 32,
        "transition": "Alarm Escalated",
        "alarm": {
            "alarm_id": alarm_id,
            "device_id": device_id,
            "sensor_type": "temperature",
            "severity": "critical",
        },
        "device": {"device_id": device_id, "site": "site-a"},
    }
    return StoredTransition("e" * 32, doc)


def test_a_long_alarm_id_gives_a_subject_under_100_characters():
    # GIVEN the longest device id the checks accept (64 characters) and a long rule id
    device_id = "d" * 64
    entry = transition_entry(transition(device_id, "temperature-range"))
    # THEN the subject is cut to 99 characters: SNS refuses 100 or more as a sender fault
    full = f"[critical] Alarm Escalated: {device_id}#temperature#temperature-range"
    assert (SUBJECT_MAX_CHARS, entry["Subject"]) == (99, full[:99])


def test_a_short_subject_is_kept_whole():
    entry = transition_entry(transition("dev-00001", "temperature-range"))
    assert entry["Subject"] == "[critical] Alarm Escalated: dev-00001#temperature#temperature-range"
