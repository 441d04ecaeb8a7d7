"""The alarm evaluator: committed readings of a Kinesis batch in, alarm transitions out, exactly once.

Order of work for one batch (``AlarmEvaluator.evaluate``):

1. **Load** every alarm the batch can touch and every device item, in one BatchGetItem (chunks of 100).
2. **Step** readings in order. A reading at or below the device's high-water mark (``last_seq``) is
   skipped before any alarm sees it: replays after Lambda's rewind to the lowest failed sequence number
   (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html), producer
   duplicates and late out-of-order readings change nothing.
3. **Write state with an outbox.** Each changed alarm (and device item) is written with a conditional
   put (optimistic ``version``) that also stores the transitions it produced. State and its events
   commit together, so a crash after this point loses no transition. On a version conflict the item is
   re-read and the batch's readings are re-applied (at most ``max_conflict_retries`` times).
4. **Publish** the outbox events (and any left from an earlier failed attempt) to every publisher.
5. **Clear** the outboxes whose events all went out.
6. Return the events with the index of the reading that caused each, and ``failed_from``: the lowest
   reading index whose state or events did not make it. The ingest service reports that record and every
   later one in ``batchItemFailures``; the redelivery skips the committed readings by high-water mark
   and republishes what the outboxes still hold.

Why outbox rather than "publish, then write": publishing first means a failed write makes the redelivery
publish the same transition again. Ids are deterministic, so consumers would dedupe, but plain SNS
subscribers (the external SQS queue, email) would see it twice. With the outbox a duplicate is only
possible if a publish succeeds and the outbox clear fails, and then it carries the same ``event_id``.
An outbox left behind by a batch that Lambda gave up on is published with that alarm's next reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.alarms import Alarm, DeviceState, Sample, TransitionEvent, step
from sensorflow.core.errors import ConfigError, TransientError
from sensorflow.core.ports import (
    AlarmOutcome,
    AlarmStore,
    Emitted,
    RemainingTime,
    StoredAlarm,
    StoredDevice,
    TransitionLike,
    TransitionPublisher,
    VersionConflictError,
)
from sensorflow.core.records import Device, EnrichedReading
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.observability import logger, metrics
from sensorflow.services.outbox import publish_all, still_owed

DEFAULT_MAX_CONFLICT_RETRIES = 3


@dataclass(slots=True)
class _Step:
    index: int
    sample: Sample
    rule: AlarmRule
    device: Device


@dataclass(slots=True)
class _Observe:
    index: int
    sample: Sample
    stale_after_s: int | None
    device: Device


@dataclass(slots=True)
class _Pending:
    """One item to write: its new state, the events it produced, and where they came from."""

    key: str
    state: Alarm | DeviceState
    events: list[tuple[int, TransitionEvent]]
    first_index: int
    leftovers: Sequence[TransitionLike] = ()
    dirty: bool = True  # False: nothing new to write, only leftovers to publish


class AlarmEvaluator:
    def __init__(
        self,
        store: AlarmStore,
        rules: RuleBook,
        publishers: Sequence[TransitionPublisher],
        max_conflict_retries: int = DEFAULT_MAX_CONFLICT_RETRIES,
    ) -> None:
        self._store = store
        self._rules = rules
        self._publishers = publishers
        self._retries = max_conflict_retries

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome:
        out = AlarmOutcome()
        if not readings:
            return out
        plans = [(e, self._rules_for(e)) for e in readings]
        alarm_keys = {
            Alarm.new(e.reading.device_id, e.reading.sensor_type, r.rule_id).alarm_id: i
            for i, (e, rules) in reversed(list(enumerate(plans)))
            for r in rules
        }  # alarm id -> first reading index touching it
        device_first = {e.reading.device_id: i for i, e in reversed(list(enumerate(readings)))}
        try:
            stored_alarms, stored_devices = self._store.load(list(alarm_keys), list(device_first))
        except TransientError as exc:
            # Reported from the first reading (batchItemFailures), not raised: a function error would
            # retry the whole batch and drop the quarantine and readings already decided before it.
            logger.warning("alarm state read failed; failing from the first reading", error=str(exc))
            out.fail_from(0)
            return out

        steps, observes = _step_readings(plans, stored_devices, device_first, out)
        pending = [
            *_pending_alarms(alarm_keys, stored_alarms, steps),
            *_pending_devices(device_first, stored_devices, observes),
        ]
        written = self._write_all(pending, steps, observes, out)
        self._publish(written, out, remaining_ms)
        return out

    def _write_all(
        self,
        pending: list[_Pending],
        steps: dict[str, list[_Step]],
        observes: dict[str, list[_Observe]],
        out: AlarmOutcome,
    ) -> list[_Pending]:
        """Alarms first: a device item carries the device high-water mark, and a redelivery skips every
        reading below it, so it must not move past a reading whose alarm state failed to commit."""
        written: list[_Pending] = []
        failed_devices: set[str] = set()
        for p in pending:
            if isinstance(p.state, Alarm):
                if self._write(p, steps, observes, out):
                    written.append(p)
                else:
                    failed_devices.add(p.state.device_id)
        for p in pending:
            if isinstance(p.state, DeviceState):
                if p.state.device_id in failed_devices:
                    out.fail_from(p.first_index)
                elif self._write(p, steps, observes, out):
                    written.append(p)
        return written

    def _rules_for(self, e: EnrichedReading) -> list[AlarmRule]:
        """The device's rules; a malformed override in the registry falls back to the file's rules, loudly,
        rather than failing every delivery of the shard until its records expire."""
        try:
            return self._rules.for_device(e.reading.sensor_type, e.device)
        except ConfigError as exc:
            logger.error("invalid device override ignored", device_id=e.reading.device_id, error=str(exc))
            metrics.add_metric(name="InvalidDeviceOverrides", unit=MetricUnit.Count, value=1)
            return self._rules.for_device(e.reading.sensor_type, None)

    # --- write with the outbox, re-applying on a version conflict ----------------------------------------

    def _write(
        self,
        p: _Pending,
        steps: dict[str, list[_Step]],
        observes: dict[str, list[_Observe]],
        out: AlarmOutcome,
    ) -> bool:
        for attempt in range(self._retries + 1):
            outbox: list[TransitionLike] = [*p.leftovers, *(ev for _, ev in p.events)]
            try:
                if not p.dirty:
                    return True  # only leftovers to publish; the stored state and outbox are as they were
                if isinstance(p.state, Alarm):
                    p.state = self._store.put_alarm(p.state, outbox)
                else:
                    p.state = self._store.put_device(p.state, outbox)
                out.writes += 1
                return True
            except VersionConflictError:
                logger.info("alarm state conflict; re-reading", key=p.key, attempt=attempt)
                try:
                    self._reapply(p, steps, observes)
                except TransientError as exc:
                    return self._write_failed(p, out, exc)
            except TransientError as exc:
                return self._write_failed(p, out, exc)
        return self._write_failed(
            p, out, TransientError(f"{p.key}: version conflicts after {self._retries} retries")
        )

    def _reapply(
        self, p: _Pending, steps: dict[str, list[_Step]], observes: dict[str, list[_Observe]]
    ) -> None:
        if isinstance(p.state, Alarm):
            alarms, _ = self._store.load([p.key], [])
            stored = alarms.get(p.key)
            base = stored.alarm if stored else _new_alarm(p.key)
            p.state, p.events = _replay_alarm(base, steps.get(p.key, []))
            p.leftovers = list(stored.outbox) if stored else []
            p.dirty = bool(p.events) or not p.state.same_state(base)
        else:
            device_id = p.state.device_id
            _, devices = self._store.load([], [device_id])
            stored_dev = devices.get(device_id)
            base_dev = stored_dev.state if stored_dev else DeviceState(device_id)
            p.state, p.events = _replay_device(base_dev, observes.get(device_id, []))
            p.leftovers = list(stored_dev.outbox) if stored_dev else []
            p.dirty = p.state != base_dev

    @staticmethod
    def _write_failed(p: _Pending, out: AlarmOutcome, exc: Exception) -> bool:
        logger.warning("alarm state write failed; failing from its first reading", key=p.key, error=str(exc))
        out.fail_from(p.first_index)
        return False

    # --- publish, then clear the outboxes ------------------------------------------------------------------

    def _publish(self, written: list[_Pending], out: AlarmOutcome, remaining_ms: RemainingTime) -> None:
        ordered: list[tuple[int, TransitionLike, _Pending]] = []
        for p in written:
            ordered += [(p.first_index, ev, p) for ev in p.leftovers]
        ordered.sort(key=lambda x: x[0])
        fresh = sorted(((i, ev, p) for p in written for i, ev in p.events), key=lambda x: x[0])
        ordered += fresh
        if not ordered:
            return
        owed = publish_all([ev for _, ev, _ in ordered], self._publishers, remaining_ms)
        failed = set(owed)
        for index, ev, _ in ordered:
            (out.undelivered if ev.event_id in failed else out.events).append(Emitted(index, ev))
        if failed:
            first_bad = min(i for i, ev, _ in ordered if ev.event_id in failed)
            logger.warning("alarm transitions undelivered; kept in the outbox", undelivered=len(failed))
            out.fail_from(first_bad)
        for p in {id(p): p for _, _, p in ordered}.values():
            keep = still_owed([*p.leftovers, *(ev for _, ev in p.events)], owed)
            try:
                if isinstance(p.state, Alarm):
                    p.state = self._store.clear_outbox(p.state, keep)
                else:
                    p.state = self._store.clear_device_outbox(p.state, keep)
                out.writes += 1
            except TransientError as exc:
                # Harmless: the next load republishes them with the same event ids; consumers dedupe.
                logger.warning("outbox not cleared", key=p.key, error=str(exc))


def _new_alarm(key: str) -> Alarm:
    device_id, sensor_type, rule_id = key.split("#", 2)
    return Alarm.new(device_id, sensor_type, rule_id)


def _replay_alarm(alarm: Alarm, steps: list[_Step]) -> tuple[Alarm, list[tuple[int, TransitionEvent]]]:
    events: list[tuple[int, TransitionEvent]] = []
    for s in steps:
        alarm, evs = step(alarm, s.rule, s.sample, s.device)
        events += [(s.index, ev) for ev in evs]
    return alarm, events


def _replay_device(
    state: DeviceState, observes: list[_Observe]
) -> tuple[DeviceState, list[tuple[int, TransitionEvent]]]:
    events: list[tuple[int, TransitionEvent]] = []
    for o in observes:
        state, evs = state.observe(o.sample, o.stale_after_s, o.device)
        events += [(o.index, ev) for ev in evs]
    return state, events


def _step_readings(
    plans: list[tuple[EnrichedReading, list[AlarmRule]]],
    stored_devices: dict[str, StoredDevice],
    device_first: dict[str, int],
    out: AlarmOutcome,
) -> tuple[dict[str, list[_Step]], dict[str, list[_Observe]]]:
    """Step 2: the readings in order, skipping those the device high-water mark has passed; what each
    alarm and each device item will be stepped on."""
    devices = {d: (stored_devices[d].state if d in stored_devices else DeviceState(d)) for d in device_first}
    steps: dict[str, list[_Step]] = {}
    observes: dict[str, list[_Observe]] = {}
    for i, (e, rules) in enumerate(plans):
        r = e.reading
        dev = devices[r.device_id]
        if r.seq <= dev.last_seq:
            out.skipped += 1
            continue
        sample = Sample.of(e, dev.previous(r.sensor_type))
        stale_after = min((x.stale_after_seconds for x in rules if x.stale_after_seconds), default=None)
        observes.setdefault(r.device_id, []).append(_Observe(i, sample, stale_after, e.device))
        devices[r.device_id], _ = dev.observe(sample, stale_after, e.device)
        for rule in rules:
            key = Alarm.new(r.device_id, r.sensor_type, rule.rule_id).alarm_id
            steps.setdefault(key, []).append(_Step(i, sample, rule, e.device))
    return steps, observes


def _pending_alarms(
    alarm_keys: dict[str, int], stored_alarms: dict[str, StoredAlarm], steps: dict[str, list[_Step]]
) -> list[_Pending]:
    """The alarms to write (new state or events) or only to republish (leftovers in their outbox)."""
    pending: list[_Pending] = []
    for key, first in alarm_keys.items():
        stored = stored_alarms.get(key)
        base = stored.alarm if stored else _new_alarm(key)
        new, events = _replay_alarm(base, steps.get(key, []))
        leftovers = list(stored.outbox) if stored else []
        if not new.same_state(base) or events:
            pending.append(_Pending(key, new, events, first, leftovers))
        elif leftovers:
            pending.append(_Pending(key, base, [], first, leftovers, dirty=False))
    return pending


def _pending_devices(
    device_first: dict[str, int], stored_devices: dict[str, StoredDevice], observes: dict[str, list[_Observe]]
) -> list[_Pending]:
    pending: list[_Pending] = []
    for device_id, first in device_first.items():
        stored_dev = stored_devices.get(device_id)
        base_dev = stored_dev.state if stored_dev else DeviceState(device_id)
        new_dev, events = _replay_device(base_dev, observes.get(device_id, []))
        leftovers = list(stored_dev.outbox) if stored_dev else []
        if new_dev != base_dev or leftovers:
            pending.append(_Pending(base_dev.item_id, new_dev, events, first, leftovers, new_dev != base_dev))
    return pending
