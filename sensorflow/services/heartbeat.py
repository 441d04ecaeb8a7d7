"""The ``heartbeat`` service: find devices that went silent and raise ``Device Stale``, without a scan.

Design (the index is shared with the ingest side, keys in ``sensorflow.core.staleness``):

- Every write of a device's item (``<device_id>#__device__`` in the alarms table) files it under its
  deadline: the earliest time one of its sensors goes stale (its newest device timestamp + that sensor's
  ``stale_after_seconds``). ``stale_bucket`` = ``"<minute>#<shard>"`` of that deadline, but never of a
  minute before the write (the store's clock, ``DeviceState.stale_bucket_at``): a deadline already past
  when the item is written (a backlog, a reading processed minutes after it arrived, the heartbeat's own
  write) lands in the write's minute, which no run has checkpointed yet.
- A sparse, keys-only GSI ``stale-due`` (partition ``stale_bucket``, sort ``stale_due_ms``, the bucket's
  first instant) holds only device items that have a deadline. A minute's deadlines are spread over
  ``STALE_BUCKET_SHARDS`` partitions so no index partition takes the whole fleet's writes for one minute.
- Each run (EventBridge ``rate(1 minute)``) Queries only the buckets of the minutes that came due since its
  checkpoint (``minutes x shards`` small Queries), reads the devices found (BatchGetItem) and decides on
  each exact deadline. A quiet fleet costs ``shards x 2`` empty Queries a minute, whatever its size; a run
  reads only devices whose deadline minute has come. No Scan, ever.
- The checkpoint (``alarm_id = "__heartbeat__"`` in the same table, ``through_minute``) advances only
  over minutes whose devices were all handled (published, or parked), one minute behind the current one,
  and every run re-reads one minute before it (index propagation is eventually consistent). After an
  outage a run catches up at most ``max_minutes_per_run`` minutes; the next runs continue. With no
  checkpoint (first run) it looks back ``initial_lookback_minutes``.
- Time: before each shard's Query and each device the run checks the invocation's remaining time, and
  stops with less than ``TIME_FLOOR_MS`` left. A device is never left half-way (its write, publish and
  outbox update run together); the minute it stopped in is not checkpointed, the minutes before it are,
  and the next run resumes there.
- For each due device the pure core (``sensorflow.core.alarms.device_staleness``) decides; the new state
  and its ``Device Stale`` event are written together (appended to what the item's outbox still owes,
  e.g. an "Alarm Cleared" EventBridge refused) with a conditional write on the item's version, then
  published to SNS and EventBridge, then the outbox is cleared. A concurrent reading wins the race: the
  device is re-read and re-decided. What a publish failed to deliver stays in the outbox and the minute is
  not checkpointed, so the next run, finding the stale device in its bucket, publishes it again with the
  same deterministic id (consumers dedupe on it), and only to the publishers still owed it. A device this
  run's own write moved to a later bucket is handled once per run, where it was first found.
- Parking: a device whose outbox failed to publish ``park_after_attempts`` runs in a row (counted in the
  device item, ``outbox_attempts``, so across runs and containers; a reading's write starts it afresh)
  stops holding the checkpoint: its events stay owed in its outbox, the item moves to a later bucket
  (``PARKED_RETRY_FIRST_MINUTES``, doubling to ``PARKED_RETRY_MAX_MINUTES``) where a later run retries
  it, and the run logs a warning with ``device_id`` and ``event_id`` and counts ``StaleEventsParked``.
  The device's next reading publishes the outbox too (the ingest side's leftovers).
- Alarm timers ride on the same buckets: the device item comes due at the earliest of its stale deadline
  and ``wake_ms`` (its alarms' next reminder, snooze end or disable end, set by whoever writes the item).
  A due device is woken whole (``sensorflow.core.alarms.wake``): ``Device Stale`` unless an operator
  snoozed or disabled it, plus every timer that came due, written and published like the stale raise.
- The clear is the ingest side's: the first reading after which no sensor is past its deadline emits
  ``Alarm Cleared`` for the device's stale alarm (``DeviceState.observe``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core import staleness
from sensorflow.core.alarms import Alarm, DeviceState
from sensorflow.core.alarms.wake import wake_device
from sensorflow.core.contract import Transition
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import (
    HeartbeatCheckpoint,
    RemainingTime,
    SilenceStore,
    StaleDeviceStore,
    StoredDevice,
    TransitionLike,
    TransitionPublisher,
    VersionConflictError,
)
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.core.silences import Silence
from sensorflow.observability import logger, metrics
from sensorflow.services.outbox import publish_all, still_owed

OVERLAP_MINUTES = 1
MAX_RACE_RETRIES = 3
# Start no new piece of work (a shard's Query, a device) with less than this left: one device's write,
# publish and outbox update take well under it, so a run never stops half-way through a device, and a
# minute left unfinished is not checkpointed (the next run redoes it; every step is idempotent).
TIME_FLOOR_MS = 5_000
# A device whose outbox this many runs in a row failed to publish is parked: it stops holding the
# checkpoint, its events stay owed in its outbox, and it is retried in a later minute's bucket, after
# PARKED_RETRY_FIRST_MINUTES, doubling up to PARKED_RETRY_MAX_MINUTES.
PARK_AFTER_ATTEMPTS = 5
PARKED_RETRY_FIRST_MINUTES = 1
PARKED_RETRY_MAX_MINUTES = 60

MinuteResult = Literal["done", "failed", "interrupted"]
Delivery = Literal["delivered", "parked", "owed"]


@dataclass
class HeartbeatOutcome:
    minutes: list[int] = field(default_factory=list)  # minutes gone through, completely
    queries: int = 0
    due: int = 0
    raised: list[str] = field(default_factory=list)  # event ids of Device Stale published this run
    timers: list[str] = field(default_factory=list)  # reminders, snooze and disable ends published
    republished: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)  # event ids left owed by parked devices
    failed_minutes: list[int] = field(default_factory=list)
    interrupted: int | None = None  # the minute the run stopped in for lack of time (not checkpointed)
    checkpoint: int | None = None
    handled: set[str] = field(default_factory=set, repr=False)  # device ids, once per run


@dataclass
class HeartbeatService:
    store: StaleDeviceStore
    checkpoint: HeartbeatCheckpoint
    publishers: Sequence[TransitionPublisher]
    initial_lookback_minutes: int = 60
    max_minutes_per_run: int = 240
    park_after_attempts: int = PARK_AFTER_ATTEMPTS
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    rules: RuleBook | None = None  # for the alarms' timers (reminders); without it only staleness
    silences: SilenceStore | None = None

    def run(self, remaining_ms: RemainingTime) -> HeartbeatOutcome:
        now = self.clock_ms()
        current = staleness.minute_of(now)
        done = self.checkpoint.get()
        first = current - self.initial_lookback_minutes if done is None else done + 1 - OVERLAP_MINUTES
        last = min(current, first + self.max_minutes_per_run - 1)
        out = HeartbeatOutcome()
        through = done
        for minute in range(first, last + 1):
            result = self._minute(minute, now, remaining_ms, out)
            if result == "interrupted":
                out.interrupted = minute
                break
            out.minutes.append(minute)
            if result == "failed":
                out.failed_minutes.append(minute)
            elif minute < current and not out.failed_minutes and (through is None or minute > through):
                through = minute  # only complete minutes, and never past a failed one
        if through is not None and through != done:
            self.checkpoint.advance(through)
        out.checkpoint = through
        self._record(out)
        return out

    def _minute(
        self, minute: int, now_ms: int, remaining_ms: RemainingTime, out: HeartbeatOutcome
    ) -> MinuteResult:
        ok = True
        for shard in range(staleness.STALE_BUCKET_SHARDS):
            if remaining_ms() < TIME_FLOOR_MS:
                return "interrupted"
            out.queries += 1
            found = self.store.due_devices(staleness.bucket_name(minute, shard), now_ms)
            # A device this run wrote moved to the current minute: its outcome counts where it was found.
            due = [d for d in found if d.state.device_id not in out.handled]
            out.due += len(due)
            for stored in due:
                if remaining_ms() < TIME_FLOOR_MS:
                    return "interrupted"
                out.handled.add(stored.state.device_id)
                wake = stored.state.wake_ms
                if stored.state.stale_since_ms is None or (wake is not None and wake <= now_ms):
                    ok &= self._raise(stored, now_ms, remaining_ms, out)
                elif stored.outbox:
                    ok &= self._republish(stored, now_ms, remaining_ms, out)
        return "done" if ok else "failed"

    def _raise(
        self, stored: StoredDevice, now_ms: int, remaining_ms: RemainingTime, out: HeartbeatOutcome
    ) -> bool:
        state = stored.state
        silences = self._active_silences(now_ms)
        for _ in range(MAX_RACE_RETRIES):
            woken = wake_device(state, stored.alarms, self._rule_of, now_ms, silences)
            events = woken.events
            if woken.state == state and woken.alarms == dict(stored.alarms):
                # A reading moved the deadline, or another run raised it; what a raise left owed goes out.
                if stored.outbox and state.stale_since_ms is not None:
                    return self._republish(stored, now_ms, remaining_ms, out)
                return True
            # The item is written whole: what its outbox still owes (a clear EventBridge refused) stays in it.
            outbox: list[TransitionLike] = [*stored.outbox, *events]
            try:
                written = self.store.put_device(woken.state, woken.alarms, outbox)
            except VersionConflictError:
                # A reading (or another heartbeat run) wrote the device: decide again on what is there now.
                fresh = self.store.load([state.device_id]).get(state.device_id)
                if fresh is None:
                    return True
                stored, state = fresh, fresh.state
                continue
            if not outbox:
                return True  # a timer that changed state without telling (a quiet snooze end)
            # The put started the item's attempt count afresh.
            delivery = self._deliver(written, outbox, 0, now_ms, remaining_ms, out)
            if delivery == "delivered":
                for e in events:
                    (out.raised if e.transition == Transition.STALE else out.timers).append(e.event_id)
                    logger.info(
                        "device stale" if e.transition == Transition.STALE else "alarm timer",
                        device_id=state.device_id,
                        transition=e.transition,
                        event_id=e.event_id,
                    )
            return delivery != "owed"
        logger.warning("device kept changing, left for the next run", device_id=state.device_id)
        return False

    def _republish(
        self, stored: StoredDevice, now_ms: int, remaining_ms: RemainingTime, out: HeartbeatOutcome
    ) -> bool:
        """Publish what a stale device's outbox still owes (a failed or interrupted run, a parked device,
        a writer that left it)."""
        outbox = list(stored.outbox)
        delivery = self._deliver(stored.state, outbox, stored.outbox_attempts, now_ms, remaining_ms, out)
        if delivery == "delivered":
            out.republished += [e.event_id for e in outbox]
        return delivery != "owed"

    def _deliver(
        self,
        written: DeviceState,
        outbox: Sequence[TransitionLike],
        attempts: int,
        now_ms: int,
        remaining_ms: RemainingTime,
        out: HeartbeatOutcome,
    ) -> Delivery:
        """Publish the outbox of the item at ``written``, then clear it, or keep what is still owed and
        count the failed attempt (``attempts`` so far): past ``park_after_attempts`` the device is parked."""
        owed = publish_all(outbox, self.publishers, remaining_ms)
        device_id = written.device_id
        if not owed:
            try:
                self.store.clear_device_outbox(written)
            except TransientError as exc:  # VersionConflictError too: a reading wrote the item first
                # The events are out; whoever reads the outbox next republishes them with the same ids.
                logger.warning("outbox not cleared", device_id=device_id, error=str(exc))
            return "delivered"
        keep = still_owed(outbox, owed)
        attempts += 1
        parked = attempts >= self.park_after_attempts
        retry_at = now_ms + _retry_delay_ms(attempts - self.park_after_attempts) if parked else None
        try:
            self.store.defer_outbox(written, keep, attempts, retry_at)
        except TransientError as exc:  # VersionConflictError too: whoever wrote it owns its outbox now
            logger.warning(
                "stale events undelivered, outbox not updated", device_id=device_id, error=str(exc)
            )
            return "owed"
        event_ids = [e.event_id for e in keep]
        if not parked:
            logger.warning(
                "stale events undelivered, kept in the outbox", device_id=device_id, count=len(owed)
            )
            return "owed"
        out.parked += event_ids
        logger.warning(
            "stale events parked",
            device_id=device_id,
            event_id=event_ids[0],
            event_ids=event_ids,
            attempts=attempts,
            retry_at_ms=retry_at,
        )
        return "parked"

    def _rule_of(self, alarm: Alarm) -> AlarmRule | None:
        return None if self.rules is None else self.rules.get(alarm.rule_id)

    def _active_silences(self, now_ms: int) -> Sequence[Silence]:
        if self.silences is None:
            return ()
        try:
            return self.silences.active(now_ms)
        except TransientError as exc:
            logger.warning("silences unreadable; going on without them", error=str(exc))
            return ()

    @staticmethod
    def _record(out: HeartbeatOutcome) -> None:
        metrics.add_metric(name="StaleBucketQueries", unit=MetricUnit.Count, value=out.queries)
        metrics.add_metric(name="DevicesStale", unit=MetricUnit.Count, value=len(out.raised))
        metrics.add_metric(name="StaleEventsParked", unit=MetricUnit.Count, value=len(out.parked))
        metrics.add_metric(name="AlarmTimerEvents", unit=MetricUnit.Count, value=len(out.timers))
        logger.info(
            "heartbeat run",
            minutes=len(out.minutes),
            queries=out.queries,
            due=out.due,
            raised=len(out.raised),
            timers=len(out.timers),
            republished=len(out.republished),
            parked=len(out.parked),
            failed_minutes=len(out.failed_minutes),
            interrupted=out.interrupted,
            checkpoint=out.checkpoint,
        )


def _retry_delay_ms(retries: int) -> int:
    """A parked device's wait before its next attempt: doubling per failed retry, capped."""
    minutes = min(PARKED_RETRY_FIRST_MINUTES * 2 ** min(retries, 16), PARKED_RETRY_MAX_MINUTES)
    return minutes * staleness.MINUTE_MS
