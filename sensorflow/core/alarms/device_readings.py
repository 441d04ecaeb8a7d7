"""One device's readings of a batch, applied in memory: the device state and all of its alarms move
together, so the store writes one item per device per batch, once.

Pure and deterministic: the same stored state and the same readings give the same state and the same
events, whatever batches they arrive in, which is what makes Lambda's redeliveries (whole-batch retries,
rewinds to any earlier record, bisected halves) and producer duplicates safe. A reading the replay guard
refuses (``DeviceState.applies``) touches nothing and is counted: a replay if its Kinesis sequence number
is at or below the newest applied one, else late (its device time is not after its sensor's newest).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sensorflow.core import staleness
from sensorflow.core.alarms.device import DeviceState
from sensorflow.core.alarms.machine import step
from sensorflow.core.alarms.state import ACKNOWLEDGED, Alarm, Sample, alarm_id
from sensorflow.core.alarms.suppression import suppress
from sensorflow.core.alarms.transitions import TransitionEvent
from sensorflow.core.records import EnrichedReading
from sensorflow.core.rules import AlarmRule
from sensorflow.core.silences import Silence


@dataclass(frozen=True, slots=True)
class PlannedReading:
    index: int  # position in the batch's enriched readings
    reading: EnrichedReading
    rules: Sequence[AlarmRule]  # the device's rules for the reading's sensor type


@dataclass(slots=True)
class Applied:
    state: DeviceState
    alarms: dict[str, Alarm]  # by alarm id; only alarms that differ from a fresh one are kept
    events: list[tuple[int, TransitionEvent]] = field(default_factory=list)  # (reading index, event)
    replayed: int = 0
    late: int = 0
    changed: bool = False  # state or an alarm differs from what was stored


def apply_readings(
    state: DeviceState,
    alarms: Mapping[str, Alarm],
    planned: Sequence[PlannedReading],
    silences: Sequence[Silence] = (),
) -> Applied:
    """Step the device and its alarms through ``planned`` (one device's readings, in batch order).

    Events are marked ``suppressed`` (``sensorflow.core.alarms.suppression``) when one of ``silences``
    matches them at the reading's arrival, or their device is stale when they happen."""
    out = Applied(state, dict(alarms))
    for p in planned:
        e, r = p.reading, p.reading.reading
        if not out.state.applies(r.sensor_type, r.timestamp_ms):
            if int(e.sequence_number) <= out.state.last_sequence:
                out.replayed += 1
            else:
                out.late += 1
            continue
        sample = Sample.of(e, out.state.previous(r.sensor_type))
        stale_after = min((x.stale_after_seconds for x in p.rules if x.stale_after_seconds), default=None)
        out.state, events = out.state.observe(sample, stale_after, e.device)
        if events:  # the stale episode is over: so is an acknowledgement of it
            _drop_stale_ack(out.alarms, r.device_id)
        if events and silences:
            events = [suppress(ev, silences, False) for ev in events]
        out.events += [(p.index, ev) for ev in events]
        stale = out.state.stale_since_ms is not None
        for rule in p.rules:
            key = alarm_id(r.device_id, r.sensor_type, rule.rule_id)
            before = out.alarms.get(key)
            if before is None:
                before = Alarm.initial(
                    r.device_id, r.sensor_type, rule.rule_id, rule.disabled_on_initialization
                )
            after, events = step(before, rule, sample, e.device)
            if after is not before:  # ``step`` returns the alarm itself when nothing changed
                initial = Alarm.initial(
                    r.device_id, r.sensor_type, rule.rule_id, rule.disabled_on_initialization
                )
                if after == initial:
                    out.alarms.pop(key, None)  # as it would start: nothing worth storing
                else:
                    out.alarms[key] = after
            if events and (silences or stale):
                events = [suppress(ev, silences, stale) for ev in events]
            out.events += [(p.index, ev) for ev in events]
    out.changed = out.state != state or out.alarms != dict(alarms)
    return out


def _drop_stale_ack(alarms: dict[str, Alarm], device_id: str) -> None:
    key = staleness.stale_alarm_id(device_id)
    control = alarms.get(key)
    if control is not None and control.state == ACKNOWLEDGED:
        del alarms[key]
