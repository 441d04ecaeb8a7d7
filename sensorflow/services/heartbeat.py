"""The ``heartbeat`` service: find devices that went silent and raise ``Device Stale``, without a scan.

Design (the index is shared with the ingest side, keys in ``sensorflow.core.staleness``):

- Every reading moves its device's item (``<device_id>#__device__`` in the alarms table) forward: its
  deadline is the earliest time one of its sensors goes stale (its newest device timestamp + that
  sensor's ``stale_after_seconds``), and ``stale_bucket`` = ``"<minute>#<shard>"`` of that deadline, or of
  the arrival if the deadline had already passed when the reading arrived.
- A sparse, keys-only GSI ``stale-due`` (partition ``stale_bucket``, sort ``stale_due_ms``, the bucket's
  first instant) holds only device items that have a deadline. A minute's deadlines are spread over
  ``STALE_BUCKET_SHARDS`` partitions so no index partition takes the whole fleet's writes for one minute.
- Each run (EventBridge ``rate(1 minute)``) Queries only the buckets of the minutes that came due since its
  checkpoint (``minutes x shards`` small Queries), reads the devices found (BatchGetItem) and decides on
  each exact deadline. A quiet fleet costs ``shards x 2`` empty Queries a minute, whatever its size; a run
  reads only devices whose deadline minute has come. No Scan, ever.
- The checkpoint (``alarm_id = "__heartbeat__"`` in the same table, ``through_minute``) advances only
  over minutes whose devices were all handled and published, one minute behind the current one, and
  every run re-reads one minute before it (index propagation is eventually consistent). After an
  outage a run catches up at most ``max_minutes_per_run`` minutes; the next runs continue. With no
  checkpoint (first run) it looks back ``initial_lookback_minutes``.
- For each due device the pure core (``sensorflow.core.alarms.device_staleness``) decides; the new state
  and its ``Device Stale`` event are written together (the event in the item's outbox) with a
  conditional write on the item's version, then published to SNS and EventBridge, then the outbox is
  cleared. A concurrent reading wins the race: the device is re-read and re-decided. An event whose
  publish failed stays in the outbox and the minute is not checkpointed, so the next run publishes it
  again with the same deterministic id (consumers dedupe on it).
- The clear is the ingest side's: the first reading after which no sensor is past its deadline emits
  ``Alarm Cleared`` for the device's stale alarm (``DeviceState.observe``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core import staleness
from sensorflow.core.alarms import device_staleness
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import (
    HeartbeatCheckpoint,
    RemainingTime,
    StaleDeviceStore,
    StoredDevice,
    TransitionLike,
    TransitionPublisher,
    VersionConflictError,
)
from sensorflow.observability import logger, metrics
from sensorflow.services.outbox import publish_all, still_owed

OVERLAP_MINUTES = 1
MAX_RACE_RETRIES = 3
# Stop starting new minutes with less than this left: a half-done minute is redone next run anyway.
TIME_FLOOR_MS = 5_000


@dataclass
class HeartbeatOutcome:
    minutes: list[int] = field(default_factory=list)
    queries: int = 0
    due: int = 0
    raised: list[str] = field(default_factory=list)  # event ids of Device Stale published this run
    republished: list[str] = field(default_factory=list)
    failed_minutes: list[int] = field(default_factory=list)
    checkpoint: int | None = None


@dataclass
class HeartbeatService:
    store: StaleDeviceStore
    checkpoint: HeartbeatCheckpoint
    publishers: Sequence[TransitionPublisher]
    initial_lookback_minutes: int = 60
    max_minutes_per_run: int = 240
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))

    def run(self, remaining_ms: RemainingTime) -> HeartbeatOutcome:
        now = self.clock_ms()
        current = staleness.minute_of(now)
        done = self.checkpoint.get()
        first = current - self.initial_lookback_minutes if done is None else done + 1 - OVERLAP_MINUTES
        last = min(current, first + self.max_minutes_per_run - 1)
        out = HeartbeatOutcome()
        through = done
        for minute in range(first, last + 1):
            if remaining_ms() < TIME_FLOOR_MS:
                break
            ok = self._minute(minute, now, remaining_ms, out)
            out.minutes.append(minute)
            if not ok:
                out.failed_minutes.append(minute)
            elif minute < current and not out.failed_minutes and (through is None or minute > through):
                through = minute  # only complete minutes, and never past a failed one
        if through is not None and through != done:
            self.checkpoint.advance(through)
        out.checkpoint = through
        self._record(out)
        return out

    def _minute(self, minute: int, now_ms: int, remaining_ms: RemainingTime, out: HeartbeatOutcome) -> bool:
        ok = True
        for shard in range(staleness.STALE_BUCKET_SHARDS):
            out.queries += 1
            due = self.store.due_devices(staleness.bucket_name(minute, shard), now_ms)
            out.due += len(due)
            raised_before = [d.state.device_id for d in due if d.state.stale_since_ms is not None]
            for stored in due:
                if stored.state.stale_since_ms is None:
                    ok &= self._raise(stored, now_ms, remaining_ms, out)
            if raised_before:
                ok &= self._republish(raised_before, remaining_ms, out)
        return ok

    def _raise(
        self, stored: StoredDevice, now_ms: int, remaining_ms: RemainingTime, out: HeartbeatOutcome
    ) -> bool:
        state = stored.state
        for _ in range(MAX_RACE_RETRIES):
            new, events = device_staleness(state, now_ms)
            if not events:
                return True  # a reading moved the deadline, or another run raised it
            # The item is written whole: what its outbox still owes (a clear EventBridge refused) stays in it.
            outbox: list[TransitionLike] = [*stored.outbox, *events]
            try:
                written = self.store.put_device(new, stored.alarms, outbox)
            except VersionConflictError:
                # A reading (or another heartbeat run) wrote the device: decide again on what is there now.
                fresh = self.store.load([state.device_id]).get(state.device_id)
                if fresh is None:
                    return True
                stored, state = fresh, fresh.state
                continue
            owed = self._publish(outbox, remaining_ms)
            if not owed:
                try:
                    self.store.clear_device_outbox(written)
                except TransientError as exc:  # VersionConflictError too: a reading wrote the item first
                    # The event is out; whoever reads the outbox next republishes it with the same id.
                    logger.warning("outbox not cleared", device_id=state.device_id, error=str(exc))
                out.raised += [e.event_id for e in events]
                logger.info("device stale", device_id=state.device_id, event_id=events[0].event_id)
                return True
            with contextlib.suppress(VersionConflictError):
                self.store.clear_device_outbox(written, keep=still_owed(outbox, owed))
            return False
        logger.warning("device kept changing, left for the next run", device_id=state.device_id)
        return False

    def _republish(self, device_ids: list[str], remaining_ms: RemainingTime, out: HeartbeatOutcome) -> bool:
        """Publish ``Device Stale`` events a failed or interrupted run left in device outboxes."""
        ok = True
        for stored in self.store.load(device_ids).values():
            if not stored.outbox:
                continue
            owed = self._publish(stored.outbox, remaining_ms)
            # Rewritten meanwhile: whoever wrote it owns its outbox now.
            with contextlib.suppress(VersionConflictError):
                self.store.clear_device_outbox(stored.state, keep=still_owed(stored.outbox, owed))
            if owed:
                ok = False
            else:
                out.republished += [e.event_id for e in stored.outbox]
        return ok

    def _publish(self, events: Sequence[TransitionLike], remaining_ms: RemainingTime) -> dict[str, set[str]]:
        owed = publish_all(events, self.publishers, remaining_ms)
        if owed:
            logger.warning("stale events undelivered, kept in the outbox", count=len(owed))
        return owed

    @staticmethod
    def _record(out: HeartbeatOutcome) -> None:
        metrics.add_metric(name="StaleBucketQueries", unit=MetricUnit.Count, value=out.queries)
        metrics.add_metric(name="DevicesStale", unit=MetricUnit.Count, value=len(out.raised))
        logger.info(
            "heartbeat run",
            minutes=len(out.minutes),
            queries=out.queries,
            due=out.due,
            raised=len(out.raised),
            republished=len(out.republished),
            failed_minutes=len(out.failed_minutes),
            checkpoint=out.checkpoint,
        )
