"""Transition events as the producer builds them: deterministic ids and the contract document.

``TransitionEvent.to_message()`` is the SNS Message body and the EventBridge ``detail``; the consumer's
typed view of the same document is ``sensorflow.core.contract``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sensorflow.core import staleness
from sensorflow.core.alarms.state import Alarm, Sample
from sensorflow.core.clock import iso
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule


def event_id(alarm_key: str, transition: str, discriminator: int | str) -> str:
    """sha256(alarm_id|transition|seq) -- or the stale deadline / action time -- first 32 hex digits."""
    return staleness.transition_event_id(alarm_key, transition, discriminator)


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    """One transition; ``to_message()`` is the SNS Message body and the EventBridge ``detail``."""

    event_id: str
    transition: Transition
    occurred_at_ms: int
    alarm: Alarm
    severity: str  # the alarm's severity; for a clear, the severity it had, so critical-only filters see it
    rule: dict[str, Any]
    reading: dict[str, Any] | None = None
    device: dict[str, Any] = field(default_factory=dict)
    suppressed: dict[str, Any] | None = None  # published and recorded, but notifies nobody

    def to_message(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "transition": self.transition,
            "occurred_at": iso(self.occurred_at_ms),
            "alarm": self.alarm.snapshot(self.severity),
            "reading": self.reading,
            "rule": self.rule,
            "device": self.device,
            "suppressed": self.suppressed,
        }

    def attributes(self) -> dict[str, str]:
        """The SNS message attributes subscription filter policies match on."""
        return attributes_of(self.to_message())


def attributes_of(doc: dict[str, Any]) -> dict[str, str]:
    """transition, severity, sensor_type, site, device_id, owner_team and suppressed ("none", "silenced"
    or "inhibited") of a transition document (all strings)."""
    alarm, device = doc.get("alarm") or {}, doc.get("device") or {}
    suppressed = doc.get("suppressed") or {}
    return {
        "transition": str(doc["transition"]),
        "severity": str(alarm.get("severity") or "warning"),
        "sensor_type": str(alarm.get("sensor_type") or "unknown"),
        "site": str(device.get("site") or "unknown"),
        "device_id": str(alarm.get("device_id") or device.get("device_id") or "unknown"),
        "owner_team": str(device.get("owner_team") or "unknown"),
        "suppressed": str(suppressed.get("reason") or "none"),
    }


def device_context(device: Device | None, device_id: str) -> dict[str, Any]:
    if device is None:
        return {"device_id": device_id, "site": None, "location": None, "model": None, "owner_team": None}
    return {
        "device_id": device.device_id,
        "site": device.site,
        "location": device.location,
        "model": device.model,
        "owner_team": device.owner_team,
    }


def rule_context(rule: AlarmRule, alarm: Alarm) -> dict[str, Any]:
    return {
        "rule_id": rule.rule_id,
        "bound": alarm.bound,
        "threshold": alarm.threshold,
        "clear_threshold": alarm.clear_threshold,
        "for_seconds": rule.for_seconds or None,
    }


def transition_event(
    transition: Transition,
    alarm: Alarm,
    rule: AlarmRule,
    device: Device | None,
    discriminator: int | str,
    at_ms: int,
    sample: Sample | None,
    severity: str | None = None,
) -> TransitionEvent:
    return TransitionEvent(
        event_id=event_id(alarm.alarm_id, transition, discriminator),
        transition=transition,
        occurred_at_ms=at_ms,
        alarm=alarm,
        severity=severity or alarm.severity or "warning",
        rule=rule_context(rule, alarm),
        reading=None if sample is None else reading_context(sample),
        device=device_context(device, alarm.device_id),
    )


def reading_context(sample: Sample) -> dict[str, Any]:
    return {
        "value": sample.value,
        "unit": sample.unit,
        "timestamp": iso(sample.timestamp_ms),
        "seq": sample.seq,
    }
