"""In-memory fakes for the pipeline's ports (no mocks: they behave like the real thing, in a dict)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sensorflow.core import silences as sl
from sensorflow.core import staleness
from sensorflow.core.alarms import Alarm, DeviceState
from sensorflow.core.contract import TransitionView
from sensorflow.core.errors import DeliveryError, TransientError
from sensorflow.core.incident_state import Decision, Incident, Tracker, tracker_key
from sensorflow.core.ports import (
    AlarmOutcome,
    Claim,
    QuarantineEntry,
    RemainingTime,
    StoredAlarm,
    StoredDevice,
    StoredTransition,
    TransitionLike,
    VersionConflictError,
)
from sensorflow.core.records import Device, EnrichedReading
from sensorflow.core.silences import Silence


class FakeRegistry:
    """Stands in for ``sensorflow.adapters.dynamodb_registry.DynamoDeviceRegistry``; ``failing`` ids raise
    ``TransientError`` as a throttled GetItem does."""

    def __init__(self, devices: Sequence[Device] = (), failing: set[str] | None = None) -> None:
        self.devices = {d.device_id: d for d in devices}
        self.failing = failing or set()
        self.lookups: list[str] = []

    def get(self, device_id: str) -> Device | None:
        self.lookups.append(device_id)
        if device_id in self.failing:
            raise TransientError(
                f"dynamodb:GetItem failed: ProvisionedThroughputExceededException ({device_id})"
            )
        return self.devices.get(device_id)


class FakeReadingSink:
    """Stands in for ``sensorflow.adapters.s3_readings.S3ReadingSink``: a put replaces the object."""

    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, list[EnrichedReading]] = {}
        self.fail = fail

    def write(self, key: str, readings: Sequence[EnrichedReading]) -> None:
        if self.fail:
            raise TransientError("s3:PutObject readings failed: SlowDown")
        self.objects[key] = list(readings)


class FakeQuarantineSink:
    """Stands in for ``sensorflow.adapters.s3_quarantine.S3QuarantineSink``."""

    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, list[QuarantineEntry]] = {}
        self.fail = fail

    def write(self, key: str, entries: Sequence[QuarantineEntry]) -> None:
        if self.fail:
            raise TransientError("s3:PutObject quarantine failed: InternalError")
        self.objects[key] = list(entries)


class FakeAlarms:
    """Stands in for ``AlarmEvaluator``: records what it was given and fails from the chosen readings."""

    def __init__(self, failing_seqs: set[int] | None = None) -> None:
        self.seen: list[EnrichedReading] = []
        self.failing_seqs = failing_seqs or set()

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome:
        self.seen += readings
        out = AlarmOutcome()
        for i, r in enumerate(readings):
            if r.reading.seq in self.failing_seqs:
                out.fail_from(i)
                break
        return out


# --- alarm state (the evaluator and the heartbeat) ------------------------------------------------------

Interleave = Callable[[], object]  # another writer; its result is ignored


def stored_outbox(outbox: Sequence[TransitionLike]) -> tuple[StoredTransition, ...]:
    """An outbox as the real store reads it back: JSON documents, with the publishers still owed them."""
    return tuple(
        StoredTransition(t.event_id, json.loads(json.dumps(t.to_message())), getattr(t, "pending", None))
        for t in outbox
    )


class FakeAlarmStore:
    """Stands in for ``sensorflow.adapters.dynamodb_alarms.DynamoAlarmStore`` (``AlarmStore`` and
    ``StaleDeviceStore``): one item per device, holding its state, its alarms and their outbox.

    Same contract as the real one: ``put_device`` succeeds if the item is absent or still at the given
    version and stores state, alarms and outbox at ``version + 1`` (a put replaces the whole item, so an
    empty outbox removes it); ``clear_device_outbox`` is an update, conditional on the version only (an
    absent item fails it) and touches nothing but the outbox and the version; a lost race raises
    ``VersionConflictError``. ``due_devices`` is the ``stale-due`` index Query: each put files the item
    under ``DeviceState.stale_bucket_at(clock_ms())`` (no ``clock_ms``: floored at the arrival only), and
    ``defer_outbox`` counts the failed attempt and may move it to a retry bucket. Thread-safe, as the
    evaluator writes from a pool.

    Faults: ``fail_loads`` / ``fail_writes[device_id]`` make the next N calls raise ``TransientError``;
    ``interleave(device_id, fn)`` runs ``fn`` (another writer, through this store) just before the next
    conditional write of that device, so the service's write then conflicts for real.
    """

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        self.devices: dict[str, StoredDevice] = {}  # by device id (the item is "<device_id>#__device__")
        self.buckets: dict[str, str | None] = {}  # the item's stale_bucket, as written
        self.clock_ms = clock_ms  # the write time (the real store's wall clock); None: unknown
        self.fail_loads = 0
        self.fail_writes: dict[str, int] = {}
        self.writes: list[tuple[str, str, int]] = []  # (operation, device id, version written)
        self.loads: list[tuple[str, ...]] = []
        self._interleaved: dict[str, list[Interleave]] = {}
        self._interleaving = False
        self._lock = threading.RLock()

    # --- test set-up and read-back ----------------------------------------------------------------------

    def interleave(self, device_id: str, fn: Interleave, times: int = 1) -> None:
        self._interleaved.setdefault(device_id, []).extend([fn] * times)

    def _run_interleaved(self, fn: Interleave) -> None:
        # The other writer's own writes go straight through: one interleaving per write of the service.
        self._interleaving = True
        try:
            fn()
        finally:
            self._interleaving = False

    def seed_alarm(self, alarm: Alarm, outbox: Sequence[TransitionLike] = ()) -> DeviceState:
        """Put ``alarm`` (and ``outbox``) into its device's item, as an earlier writer would have."""
        stored = self.devices.get(alarm.device_id) or StoredDevice(DeviceState(alarm.device_id))
        alarms = {**stored.alarms, alarm.alarm_id: alarm}
        return self.put_device(stored.state, alarms, [*stored.outbox, *outbox])

    def seed_device(
        self, state: DeviceState, outbox: Sequence[TransitionLike] = (), written_ms: int | None = None
    ) -> DeviceState:
        """Put ``state`` as a writer at ``written_ms`` would have (default: now, on ``clock_ms``)."""
        stored = self.devices.get(state.device_id)
        clock, self.clock_ms = self.clock_ms, (self.clock_ms if written_ms is None else lambda: written_ms)
        try:
            return self.put_device(state, stored.alarms if stored else {}, outbox)
        finally:
            self.clock_ms = clock

    def get_alarm(self, alarm_key: str) -> StoredAlarm | None:
        """One alarm with its own outbox entries, as ``DynamoAlarmStore.get_alarm`` reads it."""
        stored = self.devices.get(alarm_key.split("#", 1)[0])
        if stored is None or alarm_key not in stored.alarms:
            return None
        own = tuple(e for e in stored.outbox if e.to_message()["alarm"]["alarm_id"] == alarm_key)
        return StoredAlarm(stored.alarms[alarm_key], own)

    # --- the port ---------------------------------------------------------------------------------------

    def load(self, device_ids: Sequence[str]) -> dict[str, StoredDevice]:
        with self._lock:
            self.loads.append(tuple(device_ids))
            if self.fail_loads:
                self.fail_loads -= 1
                raise TransientError("dynamodb:BatchGetItem failed: ProvisionedThroughputExceededException")
            return {d: copy.deepcopy(self.devices[d]) for d in device_ids if d in self.devices}

    def due_devices(self, bucket: str, now_ms: int) -> list[StoredDevice]:
        with self._lock:
            due = [
                copy.deepcopy(s)
                for d, s in self.devices.items()
                if self.buckets.get(d) == bucket and staleness.bucket_start_ms(bucket) <= now_ms
            ]
        # Candidates of a due bucket, in deadline order as DynamoAlarmStore returns them.
        return sorted(due, key=lambda s: (s.state.due_ms or 0, s.state.device_id))

    def put_device(
        self, state: DeviceState, alarms: Mapping[str, Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> DeviceState:
        stored = self._before_write(state.device_id)
        with self._lock:
            stored = self.devices.get(state.device_id)
            current = None if stored is None else stored.state.version
            self._check(state.device_id, current, state.version, put=True)
            new = replace(state, version=state.version + 1)
            self.devices[state.device_id] = StoredDevice(
                copy.deepcopy(new), stored_outbox(outbox), copy.deepcopy(dict(alarms))
            )
            self.buckets[state.device_id] = new.stale_bucket_at(self.clock_ms() if self.clock_ms else None)
            self.writes.append(("put_device", state.device_id, new.version))
        return new

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState:
        self._before_write(state.device_id)
        with self._lock:
            stored = self.devices.get(state.device_id)
            self._check(state.device_id, None if stored is None else stored.state.version, state.version)
            assert stored is not None
            version = state.version + 1
            self.devices[state.device_id] = StoredDevice(
                replace(stored.state, version=version),
                stored_outbox(keep),
                stored.alarms,
                stored.outbox_attempts if keep else 0,
            )
            self.writes.append(("clear_device_outbox", state.device_id, version))
        return replace(state, version=version)

    def defer_outbox(
        self, state: DeviceState, keep: Sequence[TransitionLike], attempts: int, retry_at_ms: int | None
    ) -> DeviceState:
        self._before_write(state.device_id)
        with self._lock:
            stored = self.devices.get(state.device_id)
            self._check(state.device_id, None if stored is None else stored.state.version, state.version)
            assert stored is not None
            version = state.version + 1
            self.devices[state.device_id] = StoredDevice(
                replace(stored.state, version=version), stored_outbox(keep), stored.alarms, attempts
            )
            if retry_at_ms is not None and stored.state.due_ms is not None:
                self.buckets[state.device_id] = staleness.stale_bucket(state.device_id, retry_at_ms)
            self.writes.append(("defer_outbox", state.device_id, version))
        return replace(state, version=version)

    def _before_write(self, device_id: str) -> StoredDevice | None:
        with self._lock:
            waiting = self._interleaved.get(device_id)
            fn = waiting.pop(0) if waiting and not self._interleaving else None
            if fn is not None:
                self._run_interleaved(fn)
            if self.fail_writes.get(device_id):
                self.fail_writes[device_id] -= 1
                raise TransientError(
                    f"dynamodb:PutItem failed: ProvisionedThroughputExceededException ({device_id})"
                )
            return self.devices.get(device_id)

    @staticmethod
    def _check(key: str, stored_version: int | None, expected: int, put: bool = False) -> None:
        # PutItem: "attribute_not_exists(alarm_id) OR version = :expected"; UpdateItem: "version = :expected".
        if stored_version is None and put:
            return
        if stored_version != expected:
            raise VersionConflictError(f"{key} changed since version {expected}")


class FakeHeartbeatCheckpoint:
    """Stands in for ``sensorflow.adapters.dynamodb_heartbeat.DynamoHeartbeatCheckpoint``: the
    ``through_minute`` of the ``__heartbeat__`` item, monotonic (a move backwards is silently refused)."""

    def __init__(self, through_minute: int | None = None) -> None:
        self.through_minute = through_minute
        self.advances: list[int] = []  # every call, refused ones included

    def get(self) -> int | None:
        return self.through_minute

    def advance(self, minute: int) -> None:
        self.advances.append(minute)
        if self.through_minute is None or self.through_minute < minute:
            self.through_minute = minute


class FakePublisher:
    """Stands in for ``SnsTransitionPublisher`` (``name="sns"``) or ``EventBridgeTransitionPublisher``
    (``name="eventbridge"``): records, in order, the documents it delivered.

    Faults: ``fail_ids`` are refused on every call until removed; ``fail_calls`` makes the next N calls
    refuse everything; ``fail_transitions`` refuses events by transition name. Refused events are not
    delivered and come back in the returned set, as the real publishers report throttled entries.
    """

    def __init__(
        self,
        name: str,
        fail_ids: set[str] | None = None,
        fail_calls: int = 0,
        fail_transitions: set[str] | None = None,
    ) -> None:
        self.name = name
        self.fail_ids = set(fail_ids or ())
        self.fail_calls = fail_calls
        self.fail_transitions = set(fail_transitions or ())
        self.delivered: list[dict[str, Any]] = []
        self.calls: list[list[str]] = []  # event ids asked for, per call

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        self.calls.append([t.event_id for t in transitions])
        if self.fail_calls:
            self.fail_calls -= 1
            return {t.event_id for t in transitions}
        failed: set[str] = set()
        for t in transitions:
            doc = json.loads(json.dumps(t.to_message()))  # what a subscriber receives: the JSON document
            if t.event_id in self.fail_ids or doc["transition"] in self.fail_transitions:
                failed.add(t.event_id)
            else:
                self.delivered.append(doc)
        return failed

    @property
    def event_ids(self) -> list[str]:
        return [d["event_id"] for d in self.delivered]

    @property
    def transitions(self) -> list[str]:
        return [d["transition"] for d in self.delivered]


# --- notify --------------------------------------------------------------------------------------------


class FakeNotificationLedger:
    """Stands in for ``sensorflow.adapters.dynamodb_notifications.DynamoNotificationLedger``.

    ``claim`` takes the event if it is new, its last attempt failed, or the earlier claim's lease ended
    before ``now``; otherwise it reports ``sent`` or ``busy``. ``mark_sent`` / ``mark_failed`` apply only
    while the caller's token still holds the claim (a lost claim is ignored, as the real one logs it).
    ``fail_mark_sent`` makes the next N ``mark_sent`` calls raise ``TransientError``.
    """

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.fail_mark_sent = 0

    def claim(self, event: TransitionView, token: str, now_ms: int, lease_until_ms: int) -> Claim:
        item = self.items.get(event.event_id)
        takeable = (
            item is None
            or item["status"] == "failed"
            or (item["status"] == "sending" and item.get("lease_until_ms", now_ms) < now_ms)
        )
        if not takeable:
            assert item is not None
            return Claim("sent" if item["status"] == "sent" else "busy", token)
        item = item or {"attempts": 0}
        item.update(
            status="sending",
            claim_token=token,
            lease_until_ms=lease_until_ms,
            claimed_at_ms=now_ms,
            transition=event.transition,
            alarm_id=event.alarm.alarm_id,
            attempts=item["attempts"] + 1,
        )
        self.items[event.event_id] = item
        return Claim("claimed", token)

    def mark_sent(self, event_id: str, token: str, now_ms: int) -> None:
        if self.fail_mark_sent:
            self.fail_mark_sent -= 1
            raise TransientError("dynamodb:UpdateItem notification failed: InternalServerError")
        self._finish(event_id, token, status="sent", sent_at_ms=now_ms)

    def mark_failed(self, event_id: str, token: str, error: str) -> None:
        self._finish(event_id, token, status="failed", last_error=error[:500])

    def _finish(self, event_id: str, token: str, **values: Any) -> None:
        item = self.items.get(event_id)
        if item is None or item.get("claim_token") != token:
            return  # our lease ran out and another invocation claimed the event: its outcome counts
        item.update(values)
        item.pop("lease_until_ms", None)


class FakeSender:
    """Stands in for ``sensorflow.adapters.webhook_sender.WebhookSender``: keeps the messages it
    delivered; ``fail_next`` raises ``DeliveryError`` (retries exhausted) on the next N sends."""

    def __init__(self, fail_next: int = 0) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attempts = 0
        self.fail_next = fail_next

    def send(self, message: dict[str, Any], remaining_ms: RemainingTime) -> None:
        self.attempts += 1
        if self.fail_next:
            self.fail_next -= 1
            raise DeliveryError("webhook delivery failed after 5 attempt(s): HTTP 502")
        self.messages.append(copy.deepcopy(message))


# --- incidents -----------------------------------------------------------------------------------------


class FakeIncidentStore:
    """Stands in for ``sensorflow.adapters.dynamodb_incidents.DynamoIncidentStore``: trackers and
    incidents in one dict keyed by ``incident_id`` (a tracker's is ``alarm#<alarm_id>``).

    ``save`` is one transaction: the tracker put is conditional on ``before.version`` (absent if 0), the
    incident put on its own version (absent if 0); if either check fails nothing is written and
    ``VersionConflictError`` is raised. Both are written at ``version + 1``.
    ``interleave(fn)`` runs ``fn`` (another invocation, through this store) just before the next save.
    """

    def __init__(self) -> None:
        self.items: dict[str, Tracker | Incident] = {}
        self.saves = 0  # committed transactions
        self.conflicts = 0
        self._interleaved: list[Interleave] = []
        self._interleaving = False

    def interleave(self, fn: Interleave, times: int = 1) -> None:
        self._interleaved.extend([fn] * times)

    def get_incident(self, incident_id: str) -> Incident | None:
        item = self.items.get(incident_id)
        return item if isinstance(item, Incident) else None

    def tracker(self, alarm_id: str) -> Tracker | None:
        item = self.items.get(tracker_key(alarm_id))
        return item if isinstance(item, Tracker) else None

    def load(self, alarm_id: str, incident_id: str | None = None) -> tuple[Tracker, Incident | None]:
        tracker = self.tracker(alarm_id) or Tracker(alarm_id)
        named = incident_id or tracker.open_incident_id
        return tracker, self.get_incident(named) if named else None

    def save(self, before: Tracker, decision: Decision) -> None:
        if self._interleaved and not self._interleaving:
            # The other invocation's own save goes straight through: one interleaving per save of ours.
            self._interleaving = True
            try:
                self._interleaved.pop(0)()
            finally:
                self._interleaving = False
        puts: list[tuple[str, Tracker | Incident, int]] = [
            (
                tracker_key(before.alarm_id),
                replace(decision.tracker, version=before.version + 1),
                before.version,
            )
        ]
        if decision.incident is not None:
            inc = decision.incident
            puts.append((inc.incident_id, replace(inc, version=inc.version + 1), inc.version))
        for key, _, expected in puts:
            stored = self.items.get(key)
            if (stored is not None) if expected == 0 else (stored is None or stored.version != expected):
                self.conflicts += 1
                raise VersionConflictError(f"incidents for {before.alarm_id} changed concurrently")
        for key, item, _ in puts:
            self.items[key] = item
        self.saves += 1


# --- silences ------------------------------------------------------------------------------------------


class FakeSilenceStore:
    """Stands in for ``sensorflow.adapters.dynamodb_silences.DynamoSilenceStore`` (``SilenceStore``): the
    stored list, changed with the same pure operations (``with_added`` / ``with_expired``: prune, cap,
    validation), at a version that moves on every write.

    Faults: ``fail_reads`` makes the next N reads raise ``TransientError``. ``reads`` counts reads (the
    reader cache's tests count them).
    """

    def __init__(self, silences: Sequence[Silence] = ()) -> None:
        self.silences: list[Silence] = list(silences)
        self.version = 0
        self.reads = 0
        self.fail_reads = 0

    def _read(self) -> list[Silence]:
        self.reads += 1
        if self.fail_reads:
            self.fail_reads -= 1
            raise TransientError("dynamodb:GetItem silences failed: ProvisionedThroughputExceededException")
        return list(self.silences)

    def active(self, now_ms: int) -> list[Silence]:
        return [s for s in sl.order(self._read()) if s.active_at(now_ms)]

    def list_all(self, now_ms: int) -> list[Silence]:
        return sl.pruned(self._read(), now_ms)

    def add(self, silence: Silence) -> None:
        self.silences = sl.with_added(self.silences, silence, silence.created_at_ms)
        self.version += 1

    def expire(self, silence_id: str, now_ms: int, who: str, caller_arn: str | None = None) -> Silence:
        self.silences, ended = sl.with_expired(self.silences, silence_id, now_ms, who, caller_arn)
        self.version += 1
        return ended


class FakeWriterSchemas:
    """Stands in for the Glue / Confluent ``WriterSchemas`` adapters: schemas by id in dicts; ids in
    ``failing`` raise ``TransientError`` as a throttled ``GetSchemaVersion`` does. ``lookups`` records
    every call, as ``("glue", UUID)`` or ``("confluent", int)``."""

    def __init__(
        self,
        glue: Mapping[Any, Any] | None = None,
        confluent: Mapping[int, Any] | None = None,
        failing: set[Any] | None = None,
    ) -> None:
        import fastavro

        self._parse = fastavro.parse_schema
        self.glue_schemas = {k: self._parse(v) for k, v in (glue or {}).items()}
        self.confluent_schemas = {k: self._parse(v) for k, v in (confluent or {}).items()}
        self.failing = failing or set()
        self.lookups: list[tuple[str, Any]] = []

    def glue(self, version_id: Any) -> Any:
        return self._get("glue", version_id, self.glue_schemas)

    def confluent(self, schema_id: int) -> Any:
        return self._get("confluent", schema_id, self.confluent_schemas)

    def _get(self, kind: str, key: Any, schemas: Mapping[Any, Any]) -> Any:
        from sensorflow.core.errors import UnknownSchemaError

        self.lookups.append((kind, key))
        if key in self.failing:
            raise TransientError(f"{kind} schema lookup failed: ThrottlingException ({key})")
        if key not in schemas:
            raise UnknownSchemaError(f"{kind} schema {key} is not registered")
        return schemas[key]
