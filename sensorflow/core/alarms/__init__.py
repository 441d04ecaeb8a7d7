"""The alarm lifecycle as a pure state machine: one alarm per (device, sensor type, rule).

States: NORMAL, PENDING (condition seen, duration / M-of-N not met yet), ACTIVE, ACKNOWLEDGED,
LATCHED (a ``latch`` rule's condition is over, waiting for an acknowledgement), SNOOZED (until a time),
DISABLED (with a reason, optionally until a time). Only transitions emit events, never one per reading:

- ``Alarm Raised``     the condition held long / often enough (or a snooze ran out with it still held);
- ``Alarm Escalated``  warning -> critical while raised (an acknowledged alarm becomes ACTIVE again);
- ``Alarm Cleared``    the value is back inside the clear band (hysteresis), or a stale sensor reports;
                       for a ``latch`` rule, only when the LATCHED alarm is acknowledged;
- ``Alarm Reminder``   an ACTIVE alarm nobody acknowledged, every ``repeat_every`` (``timers``), or the
                       episode a snooze hid, when the snooze ends;
- ``Alarm Acknowledged`` / ``Alarm Snoozed`` / ``Alarm Disabled`` / ``Alarm Enabled`` / ``Alarm Reset``:
  operator actions (``actions``);
- ``Device Stale``     a sensor silent for its ``stale_after_seconds`` (the heartbeat calls
  ``device_staleness``; one alarm per device, keys and buckets from ``sensorflow.core.staleness``).

Replays: a reading applies only if its device time is after its sensor's newest applied reading
(``DeviceState.applies``), so Lambda's redelivery after a partial failure, a producer's duplicate and a
late out-of-order reading change nothing and emit nothing, whatever the device's own ``seq`` says.
Event ids are deterministic (``sha256(alarm_id|transition|Kinesis sequence number)``, or the stale
deadline / action time), so a transition published twice is the same event twice and consumers dedupe
on ``event_id``. A device's state and all its alarms move together (``apply_readings``), one item each.

Clocks: for-duration uses device time (reading timestamps); snooze expiry and staleness use arrival /
wall time (the record's Kinesis arrival, the heartbeat's now), which a device's clock cannot skew.

Modules by concern: ``state`` (the alarm value), ``condition`` (debounce and hysteresis), ``machine``
(``step``), ``actions`` (operator actions), ``device`` (replay guard and staleness), ``device_readings``
(a batch's readings of one device) and ``transitions`` (the events they emit).
"""

from __future__ import annotations

from sensorflow.core.alarms.actions import ActionNotAllowedError, acknowledge, disable, enable, reset, snooze
from sensorflow.core.alarms.device import DeviceState, SensorSeen, device_staleness
from sensorflow.core.alarms.device_readings import Applied, PlannedReading, apply_readings
from sensorflow.core.alarms.machine import step
from sensorflow.core.alarms.state import (
    ACKNOWLEDGED,
    ACTIVE,
    DISABLED,
    LATCHED,
    NORMAL,
    PENDING,
    SNOOZED,
    STATES,
    Alarm,
    Sample,
    alarm_id,
)
from sensorflow.core.alarms.suppression import suppress
from sensorflow.core.alarms.timers import due, next_due_ms
from sensorflow.core.alarms.transitions import TransitionEvent, attributes_of, event_id

__all__ = [
    "ACKNOWLEDGED",
    "ACTIVE",
    "DISABLED",
    "LATCHED",
    "NORMAL",
    "PENDING",
    "SNOOZED",
    "STATES",
    "ActionNotAllowedError",
    "Alarm",
    "Applied",
    "DeviceState",
    "PlannedReading",
    "Sample",
    "SensorSeen",
    "TransitionEvent",
    "acknowledge",
    "alarm_id",
    "apply_readings",
    "attributes_of",
    "device_staleness",
    "disable",
    "due",
    "enable",
    "event_id",
    "next_due_ms",
    "reset",
    "snooze",
    "step",
    "suppress",
]
