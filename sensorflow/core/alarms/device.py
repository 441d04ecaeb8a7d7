"""Per-device state: the replay guard, rate-of-change memory, and staleness (``Device Stale``)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sensorflow.core import staleness
from sensorflow.core.alarms.state import ACTIVE, NORMAL, Alarm, Sample
from sensorflow.core.alarms.transitions import TransitionEvent, device_context, event_id, reading_context
from sensorflow.core.contract import Transition
from sensorflow.core.records import Device


@dataclass(frozen=True, slots=True)
class SensorSeen:
    """A sensor's newest applied reading: its device time (staleness, rate of change, the replay guard)
    and value (rate of change)."""

    timestamp_ms: int
    value: float
    stale_after_s: int | None = None  # the smallest stale_after_seconds of the sensor's rules


@dataclass(frozen=True, slots=True)
class DeviceState:
    """Per-device state: the replay guard, rate-of-change memory and staleness.

    **Replay guard.** A reading is applied only if its device time is after its sensor's newest applied
    one (``observe`` refuses it otherwise). Lambda's redelivery after a rewind, a producer's retry (the
    same payload again, a new sequence number) and a late reading all fail that test, whatever the
    device's ``seq`` says: a rebooted device that restarts its counter keeps its alarms, and a forged
    ``seq`` changes nothing. The device clock is bounded by the ingest checks (+5 minutes of arrival), so a
    forged timestamp can hold a sensor back for that long at most. ``last_sequence`` (the newest applied
    Kinesis sequence number) tells a replay from a late reading, for the counts.

    **Staleness.** A device is stale when any of its sensors has been silent longer than that sensor's
    ``stale_after_seconds``: one ``Device Stale`` alarm per device (``staleness.stale_alarm_id``). It clears
    on the first reading after which no sensor is past its deadline any more. Silence is measured from the
    newest *device timestamp* of each sensor, against the wall clock: a gateway that uploads an hour of
    buffered readings at once does not look alive for the hour it was offline.
    """

    device_id: str
    last_sequence: int = -1  # newest applied Kinesis sequence number
    last_seen_ms: int | None = None  # newest arrival time
    sensors: dict[str, SensorSeen] = field(default_factory=dict)
    stale_since_ms: int | None = None  # set by the heartbeat: the deadline that passed
    stale_event_id: str | None = None
    context: dict[str, Any] = field(default_factory=dict)  # site, location, model, owner_team
    version: int = 0  # the device item's optimistic lock, owned by the store
    stale_episode: int = 0  # Device Stale episodes so far (+1 on each raise; never reset)
    wake_ms: int | None = None  # the earliest alarm timer (snooze / disable end, reminder): ``alarms.wake``
    stale_held: bool = False  # an operator snoozed or disabled Device Stale: its deadline wakes nobody

    @property
    def item_id(self) -> str:
        return staleness.device_item_key(self.device_id)

    def previous(self, sensor_type: str) -> tuple[int, float] | None:
        seen = self.sensors.get(sensor_type)
        return (seen.timestamp_ms, seen.value) if seen else None

    def applies(self, sensor_type: str, timestamp_ms: int) -> bool:
        """The replay guard: is a reading of ``sensor_type`` at ``timestamp_ms`` new to this device?"""
        seen = self.sensors.get(sensor_type)
        return seen is None or timestamp_ms > seen.timestamp_ms

    @property
    def stale_deadline_ms(self) -> int | None:
        """The earliest time a sensor goes stale, or None if no rule of its sensors asks for staleness."""
        deadlines = [
            s.timestamp_ms + s.stale_after_s * 1000 for s in self.sensors.values() if s.stale_after_s
        ]
        return min(deadlines, default=None)

    @property
    def stale_bucket(self) -> str | None:
        """``stale_bucket_at`` with no write time known: floored at the latest arrival only."""
        return self.stale_bucket_at(None)

    def stale_bucket_at(self, written_ms: int | None) -> str | None:
        """The index bucket of the deadline, for the item written at ``written_ms`` (the store's clock):
        never of a minute before the write, nor before the latest arrival. A deadline that is already past
        when the item is written (a backlog upload, a replay, a reading processed minutes after it
        arrived) goes in the bucket of the write's minute, which the heartbeat has not passed yet (it
        checkpoints a minute behind and re-reads one), so it is still found. The arrival alone is not
        enough: a reading processed 7 minutes after it arrived would land in a minute already passed."""
        deadline = self.due_ms
        if deadline is None:
            return None
        floor = max(self.last_seen_ms or deadline, written_ms or deadline)
        return staleness.stale_bucket(self.device_id, max(deadline, floor))

    @property
    def due_ms(self) -> int | None:
        """When the heartbeat must next look at the device: its stale deadline or its alarms' ``wake_ms``,
        whichever is first. A deadline an operator holds back (``stale_held``) counts only once raised
        (the heartbeat republishes what a raise left owed by the same bucket)."""
        deadline = None if self.stale_held and self.stale_since_ms is None else self.stale_deadline_ms
        times = [t for t in (deadline, self.wake_ms) if t is not None]
        return min(times, default=None)

    def device(self) -> Device | None:
        """The registry context its events carry, as the ingest side last saw it."""
        ctx = self.context
        if not ctx:
            return None
        return Device(
            device_id=self.device_id,
            site=ctx.get("site") or "unknown",
            location=ctx.get("location") or "unknown",
            model=ctx.get("model") or "unknown",
            owner_team=ctx.get("owner_team") or "unknown",
        )

    def _stale_after_of_deadline(self) -> int | None:
        deadline = self.stale_deadline_ms
        for s in self.sensors.values():
            if s.stale_after_s and s.timestamp_ms + s.stale_after_s * 1000 == deadline:
                return s.stale_after_s
        return None

    def observe(
        self, sample: Sample, stale_after_s: int | None, device: Device | None
    ) -> tuple[DeviceState, list[TransitionEvent]]:
        """Record a reading the replay guard lets through; clear a raised staleness it ends."""
        if not self.applies(sample.sensor_type, sample.timestamp_ms):
            return self, []
        sensors = dict(self.sensors)
        sensors[sample.sensor_type] = SensorSeen(sample.timestamp_ms, sample.value, stale_after_s)
        # The constructor, not ``replace``: this runs for every reading and ``replace`` costs several times
        # more (it introspects the fields on each call).
        new = DeviceState(
            self.device_id,
            max(self.last_sequence, sample.order if sample.order is not None else -1),
            max(self.last_seen_ms or 0, sample.arrival_ms),
            sensors,
            self.stale_since_ms,
            self.stale_event_id,
            device_context(device, self.device_id) if device else self.context,
            self.version,
            self.stale_episode,
            self.wake_ms,
            self.stale_held,
        )
        if self.stale_since_ms is None:
            return new, []
        deadline = new.stale_deadline_ms
        if deadline is not None and deadline <= sample.arrival_ms:
            return new, []  # another sensor is still silent: the device stays stale
        stale_after = self._stale_after_of_deadline()
        cleared = replace(new, stale_since_ms=None, stale_event_id=None)
        alarm = replace(self.stale_alarm(), state=NORMAL, severity=None, raised=False, announced=False)
        return cleared, [
            TransitionEvent(
                event_id=event_id(alarm.alarm_id, Transition.CLEARED, sample.discriminator),
                transition=Transition.CLEARED,
                occurred_at_ms=sample.arrival_ms,
                alarm=alarm,
                severity="warning",
                rule=stale_rule_context(stale_after),
                reading=reading_context(sample),
                device=device_context(device, self.device_id) if device else dict(self.context),
            )
        ]

    def stale_alarm(self) -> Alarm:
        return Alarm(
            alarm_id=staleness.stale_alarm_id(self.device_id),
            device_id=self.device_id,
            sensor_type=staleness.STALE_SENSOR_TYPE,
            rule_id=staleness.STALE_RULE_ID,
            state=ACTIVE if self.stale_since_ms is not None else NORMAL,
            severity="warning" if self.stale_since_ms is not None else None,
            raised=self.stale_since_ms is not None,
            announced=self.stale_since_ms is not None,
            since_ms=self.stale_since_ms,
            bound="stale",
            episode=self.stale_episode,
        )


def device_staleness(state: DeviceState, now_ms: int) -> tuple[DeviceState, list[TransitionEvent]]:
    """The heartbeat's check of one device: ``Device Stale`` once a sensor's deadline has passed.

    The event id is ``staleness.stale_event_id(device_id, deadline, episode)``, so every run that finds the
    same silence produces the same event, and a second episode on the same deadline (a reading cleared the
    first while another sensor stayed silent) gets an id of its own; a reading (``DeviceState.observe``)
    clears it.
    """
    deadline = state.stale_deadline_ms
    if deadline is None or deadline > now_ms or state.stale_since_ms is not None:
        return state, []
    episode = state.stale_episode + 1
    eid = staleness.stale_event_id(state.device_id, deadline, episode)
    new = replace(state, stale_since_ms=deadline, stale_event_id=eid, stale_episode=episode)
    return new, [
        TransitionEvent(
            event_id=eid,
            transition=Transition.STALE,
            occurred_at_ms=now_ms,
            alarm=new.stale_alarm(),
            severity="warning",
            rule=stale_rule_context(state._stale_after_of_deadline()),
            reading=None,
            device=dict(state.context) or device_context(None, state.device_id),
        )
    ]


def stale_rule_context(stale_after_s: int | None) -> dict[str, Any]:
    return {
        "rule_id": staleness.STALE_RULE_ID,
        "bound": "stale",
        "threshold": None if stale_after_s is None else float(stale_after_s),
        "clear_threshold": None,
        "for_seconds": stale_after_s,
    }
