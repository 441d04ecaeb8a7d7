"""The alarm evaluator: committed readings of a Kinesis batch in, alarm transitions out, exactly once.

Order of work for one batch (``AlarmEvaluator.evaluate``):

1. **Load** the item of every device in the batch (one item per device holds its state and all its
   alarms), with BatchGetItem (chunks of 100).
2. **Step** each device's readings in memory, in order (``sensorflow.core.alarms.apply_readings``). The
   replay guard is the sensor's device time, not the device's ``seq``: replays after Lambda's rewind to
   the lowest failed sequence number
   (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html), producer duplicates
   and late readings change nothing.
3. **Write state with an outbox**, once per device whose item changed, from a bounded thread pool (one
   device's writes never overlap; different devices' do). Each write is a conditional put (optimistic
   ``version``) that also stores the transitions it produced, so state and its events commit together and a
   crash after this point loses no transition. On a version conflict the item is re-read and the device's
   readings re-applied (at most ``max_conflict_retries`` times).
4. **Publish** the outbox events (and any left from an earlier failed attempt), per alarm in order.
5. **Clear** the outboxes whose events all went out.
6. Return the events with the index of the reading that caused each, and ``failed_from``: the lowest reading
   index whose state or events did not make it. The ingest service reports that record and every later one
   in ``batchItemFailures``; the redelivery skips what was committed and republishes what outboxes hold.

Why outbox rather than "publish, then write": publishing first means a failed write makes the redelivery
publish the same transition again. Ids are deterministic, so consumers would dedupe, but plain SNS
subscribers (the external SQS queue, email) would see it twice. With the outbox a duplicate is only
possible if a publish succeeds and the outbox clear fails, and then it carries the same ``event_id``.
An outbox left behind by a batch that Lambda gave up on is published with that device's next reading.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.alarms import Applied, DeviceState, PlannedReading, apply_readings
from sensorflow.core.alarms.wake import with_wake
from sensorflow.core.errors import ConfigError, TransientError
from sensorflow.core.ports import (
    AlarmOutcome,
    AlarmStore,
    Emitted,
    RemainingTime,
    SilenceStore,
    StoredDevice,
    TransitionLike,
    TransitionPublisher,
    VersionConflictError,
)
from sensorflow.core.records import EnrichedReading
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.core.silences import Silence
from sensorflow.observability import logger, metrics
from sensorflow.services.outbox import publish_all, still_owed

DEFAULT_MAX_CONFLICT_RETRIES = 3
# Device items written at once. Each PutItem waits ~5 ms on DynamoDB, so a batch touching 500 devices
# takes ~2.5 s one at a time and ~0.16 s sixteen at a time. Keep sensorflow.adapters.clients'
# MAX_POOL_CONNECTIONS at least this large.
DEFAULT_WRITE_CONCURRENCY = 16

T = TypeVar("T")
R = TypeVar("R")


@dataclass(slots=True)
class _Device:
    """One device of the batch: its readings, what was stored, what it becomes, and how that went."""

    device_id: str
    planned: list[PlannedReading]
    stored: StoredDevice
    applied: Applied
    leftovers: list[TransitionLike] = field(default_factory=list)
    written: DeviceState | None = None
    error: str | None = None
    silences: Sequence[Silence] = ()

    @property
    def first_index(self) -> int:
        return self.planned[0].index

    @property
    def outbox(self) -> list[TransitionLike]:
        return [*self.leftovers, *(ev for _, ev in self.applied.events)]


class AlarmEvaluator:
    def __init__(
        self,
        store: AlarmStore,
        rules: RuleBook,
        publishers: Sequence[TransitionPublisher],
        max_conflict_retries: int = DEFAULT_MAX_CONFLICT_RETRIES,
        write_concurrency: int = DEFAULT_WRITE_CONCURRENCY,
        silences: SilenceStore | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._silences = silences
        self._clock_ms = clock_ms
        self._store = store
        self._rules = rules
        self._publishers = publishers
        self._retries = max_conflict_retries
        self._concurrency = max(1, write_concurrency)
        self._pool: Executor | None = None  # created on the first batch that needs it, then reused

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome:
        out = AlarmOutcome()
        if not readings:
            return out
        by_device: dict[str, list[PlannedReading]] = {}
        for i, e in enumerate(readings):
            by_device.setdefault(e.reading.device_id, []).append(PlannedReading(i, e, self._rules_for(e)))
        try:
            stored = self._store.load(list(by_device))
        except TransientError as exc:
            # Reported from the first reading (batchItemFailures), not raised: a function error would
            # retry the whole batch and drop the quarantine and readings already decided before it.
            logger.warning("alarm state read failed; failing from the first reading", error=str(exc))
            out.fail_from(0)
            return out
        silences = self._active_silences()
        devices = [
            _step(d, planned, stored.get(d), silences, self._rules) for d, planned in by_device.items()
        ]
        for d in devices:
            out.skipped += d.applied.replayed + d.applied.late
            out.late += d.applied.late
        dirty = [d for d in devices if d.applied.changed or d.leftovers]
        self._map(self._commit, dirty)
        for d in dirty:
            if d.error is not None:
                logger.warning(
                    "alarm state write failed; failing from its first reading",
                    device_id=d.device_id,
                    error=d.error,
                )
                out.fail_from(d.first_index)
            else:
                out.writes += int(d.applied.changed)
        self._publish([d for d in dirty if d.written is not None], out, remaining_ms)
        return out

    def _rules_for(self, e: EnrichedReading) -> list[AlarmRule]:
        """The device's rules; a malformed override in the registry falls back to the file's rules, loudly,
        rather than failing every delivery of the shard until its records expire."""
        try:
            return self._rules.for_device(e.reading.sensor_type, e.device)
        except ConfigError as exc:
            logger.error("invalid device override ignored", device_id=e.reading.device_id, error=str(exc))
            metrics.add_metric(name="InvalidDeviceOverrides", unit=MetricUnit.Count, value=1)
            return self._rules.for_device(e.reading.sensor_type, None)

    def _active_silences(self) -> Sequence[Silence]:
        """The silences in force. Unreadable ones are logged and counted, and the batch goes on unsilenced:
        a page too many beats an alarm lost, and the state is right either way."""
        if self._silences is None:
            return ()
        try:
            return self._silences.active(self._clock_ms())
        except TransientError as exc:
            logger.warning("silences unreadable; evaluating without them", error=str(exc))
            metrics.add_metric(name="SilencesUnavailable", unit=MetricUnit.Count, value=1)
            return ()

    def _map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``fn`` over ``items`` on the pool (in order of ``items``); inline when there is one."""
        if len(items) <= 1 or self._concurrency == 1:
            return [fn(x) for x in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._concurrency, thread_name_prefix="alarm-writes")
        return list(self._pool.map(fn, items))

    # --- write with the outbox, re-applying on a version conflict ----------------------------------------

    def _commit(self, d: _Device) -> None:
        """Write the device item (state, alarms, outbox); on a lost race re-read and re-apply. Runs on the
        pool, so it records its result on ``d`` and raises nothing."""
        for attempt in range(self._retries + 1):
            if not d.applied.changed:
                d.written = d.stored.state  # only leftovers to publish; the item is as it was
                return
            try:
                d.written = self._store.put_device(d.applied.state, d.applied.alarms, d.outbox)
                return
            except VersionConflictError:
                logger.info("alarm state conflict; re-reading", device_id=d.device_id, attempt=attempt)
                try:
                    fresh = self._store.load([d.device_id]).get(d.device_id)
                except TransientError as exc:
                    d.error = str(exc)
                    return
                reapplied = _step(d.device_id, d.planned, fresh, d.silences, self._rules)
                d.stored, d.applied, d.leftovers = reapplied.stored, reapplied.applied, reapplied.leftovers
            except TransientError as exc:
                d.error = str(exc)
                return
        d.error = f"{d.device_id}: version conflicts after {self._retries} retries"

    # --- publish, then clear the outboxes ------------------------------------------------------------------

    def _publish(self, written: list[_Device], out: AlarmOutcome, remaining_ms: RemainingTime) -> None:
        ordered: list[tuple[int, TransitionLike]] = sorted(
            ((d.first_index, ev) for d in written for ev in d.leftovers), key=lambda x: x[0]
        )
        ordered += sorted(((i, ev) for d in written for i, ev in d.applied.events), key=lambda x: x[0])
        if not ordered:
            return
        owed = publish_all([ev for _, ev in ordered], self._publishers, remaining_ms)
        for index, ev in ordered:
            (out.undelivered if ev.event_id in owed else out.events).append(Emitted(index, ev))
        if owed:
            first_bad = min(i for i, ev in ordered if ev.event_id in owed)
            logger.warning("alarm transitions undelivered; kept in the outbox", undelivered=len(owed))
            out.fail_from(first_bad)
        cleared = self._map(lambda d: self._clear(d, owed), [d for d in written if d.outbox])
        out.writes += sum(cleared)

    def _clear(self, d: _Device, owed: dict[str, set[str]]) -> bool:
        assert d.written is not None
        try:
            d.written = self._store.clear_device_outbox(d.written, still_owed(d.outbox, owed))
            return True
        except TransientError as exc:
            # Harmless: the next load republishes them with the same event ids; consumers dedupe.
            logger.warning("outbox not cleared", device_id=d.device_id, error=str(exc))
            return False


def _step(
    device_id: str,
    planned: list[PlannedReading],
    stored: StoredDevice | None,
    silences: Sequence[Silence],
    rules: RuleBook,
) -> _Device:
    base = stored or StoredDevice(DeviceState(device_id))
    applied = apply_readings(base.state, base.alarms, planned, silences)
    if applied.changed:  # the alarms' next timer (reminder, snooze end) brings the heartbeat back then
        applied.state = with_wake(applied.state, applied.alarms, lambda a: rules.get(a.rule_id))
    return _Device(device_id, planned, base, applied, list(base.outbox), silences=silences)
