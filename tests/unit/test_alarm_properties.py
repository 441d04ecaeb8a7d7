"""Property-based tests of the alarm evaluator under every delivery schedule Lambda can produce.

A *stream* is one shard's records: a few devices, temperature and humidity readings whose values cross the
warning, critical and clear lines of ``sensorflow/rules.json`` often, device time monotonic per device with
random gaps, Kinesis sequence numbers strictly increasing in stream order, and producer duplicates (the same
payload again, a new sequence number) later in the stream.

A *schedule* is what Lambda does with it: contiguous batches of random sizes from its checkpoint; on a
reported failure (``failed_from = k``) a redelivery from record ``k`` (possibly in another batch size); on a
function error (a crash or timeout, injected mid-batch) a retry of the whole batch or, with
``BisectBatchOnFunctionError``, of its halves; rewinds to any earlier record; whole-batch retries of a batch
that already succeeded. Transient faults go into the fakes: publisher refusals (chosen events, whole calls,
a transition type), store write failures (a device's put or outbox clear), a failed batch read.

Properties:

- every publisher ends up with exactly the transitions of one clean in-order pass (same event ids, same
  documents, same order per alarm), and the stored devices (state and alarms) equal the clean pass's;
- a publisher receives an event twice only if an outbox still owed it that event after the publisher had
  taken it, i.e. the outbox clear failed (or the function died) between publish and clear; with no such
  fault, never;
- operator actions (ack, snooze, disable, enable) and heartbeat writes, run by another writer between the
  evaluator's read and its write of the device, are never lost: the final state and every publisher's
  transitions equal the clean pass with the same action applied at the same point of the device's readings,
  and the action's own events reach each publisher exactly once.

Found by these properties: a second ``Device Stale`` on the same deadline reused the first one's event id
(``test_a_second_stale_episode_on_the_same_deadline_gets_its_own_event_id``; fixed by the stale episode
counter in the id).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sensorflow.config import load_rule_book
from sensorflow.core import alarms as am
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import AlarmOutcome, RemainingTime, StoredDevice, StoredTransition, TransitionLike
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.services.alarm_actions import AlarmActions
from sensorflow.services.alarm_evaluator import AlarmEvaluator
from sensorflow.services.heartbeat import HeartbeatService
from tests.factories import NOW_MS, SHARD, device, seq_number
from tests.fakes import FakeAlarmStore, FakeHeartbeatCheckpoint, FakePublisher, Interleave

RULES = load_rule_book()  # temperature: 60 s hold, deadband, rate of change; humidity: 3-of-5; staleness
T0 = NOW_MS - 6 * 3_600_000
DEVICES = ("dev-00001", "dev-00002", "dev-00003", "dev-00004")
RULE_OF = {"temperature": "temperature-range", "humidity": "humidity-range"}
UNIT_OF = {"temperature": "C", "humidity": "%"}
# Values either side of every line: warning 35 / critical 45 / clear 34 (and 0 / -10 below), and for
# humidity warning 80 / critical 90 / clear 75.
TEMPERATURES = (20.0, 30.0, 33.5, 34.5, 36.0, 40.0, 44.0, 46.0, 50.0, -1.0, -5.0, -12.0)
HUMIDITIES = (50.0, 74.0, 76.0, 79.0, 82.0, 88.0, 92.0)
# Device-time gaps around the 60 s hold, the rate-of-change window and the 300 s staleness.
GAPS_MS = (1_000, 10_000, 20_000, 30_000, 59_000, 61_000, 120_000, 400_000)
ARRIVAL_LAG_MS = 300
MAX_BATCH = 16
PUBLISHERS = ("sns", "eventbridge")


def plenty() -> int:
    return 60_000


# --- the stream -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    reading: EnrichedReading
    duplicate: bool  # a producer retry of an earlier record: same payload, new sequence number

    @property
    def device_id(self) -> str:
        return self.reading.reading.device_id

    @property
    def sequence(self) -> int:
        return int(self.reading.sequence_number)


def _value(sensor: str) -> st.SearchStrategy[float]:
    pivots, low, high = (TEMPERATURES, -15.0, 55.0) if sensor == "temperature" else (HUMIDITIES, 40.0, 100.0)
    return st.one_of(st.sampled_from(pivots), st.sampled_from(pivots), st.floats(low, high, allow_nan=False))


# A run: one device's sensor at one value for a few readings, a gap apart (so holds and M-of-N fill up).
runs = st.tuples(
    st.integers(0, 3),
    st.sampled_from(("temperature", "temperature", "humidity")),
    st.sampled_from(GAPS_MS),
    st.integers(1, 4),
)


@st.composite
def streams(draw: st.DrawFn, max_readings: int = 32) -> list[Record]:
    n_devices = draw(st.integers(2, 4))
    steps = draw(st.lists(runs, min_size=3, max_size=14))
    clock = {i: T0 + i * 7 for i in range(n_devices)}  # device time, per device
    counter = dict.fromkeys(range(n_devices), 0)  # the device's own seq
    originals: list[tuple[Reading, int]] = []
    for dev_index, sensor, gap, repeat in steps:
        dev, value = dev_index % n_devices, draw(_value(sensor))
        for _ in range(repeat):
            if len(originals) == max_readings:
                break
            clock[dev] += gap
            counter[dev] += 1
            r = Reading(DEVICES[dev], sensor, value, UNIT_OF[sensor], clock[dev], counter[dev])
            originals.append((r, clock[dev] + ARRIVAL_LAG_MS))
    # Producer retries: a record's payload again, some records later in the stream.
    dups = draw(st.lists(st.tuples(st.integers(0, len(originals) - 1), st.integers(1, 6)), max_size=4))
    order: list[tuple[Reading, int, bool]] = [(r, arrival, False) for r, arrival in originals]
    for i, delay in dups:
        r, arrival = originals[i]
        at = next(k for k, (x, _, dup) in enumerate(order) if x is r and not dup)
        order.insert(min(len(order), at + 1 + delay), (r, arrival + delay * 1_000, True))
    return [
        Record(EnrichedReading(r, device(r.device_id), r.value, r.unit, arrival, SHARD, seq_number(k)), dup)
        for k, (r, arrival, dup) in enumerate(order, start=1)
    ]


# --- the world: store, publishers, evaluator, with faults ---------------------------------------------------


class FunctionError(Exception):
    """The invocation died (an exception or a timeout): Lambda retries the whole batch, or bisects it."""


class Store(FakeAlarmStore):
    """``FakeAlarmStore`` that can also die around a put, and reports every outbox clear that did not
    happen (with the outbox as it was just before the attempt)."""

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self.crash_before_put: set[str] = set()
        self.crash_after_put: set[str] = set()

    def put_device(
        self, state: am.DeviceState, alarms: Mapping[str, am.Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> am.DeviceState:
        d = state.device_id
        if d in self.crash_before_put and not self.world.operating:
            self.crash_before_put.discard(d)
            raise FunctionError(f"died before writing {d}")
        written = super().put_device(state, alarms, outbox)
        if d in self.crash_after_put and not self.world.operating:
            self.crash_after_put.discard(d)
            raise FunctionError(f"timed out after writing {d}")
        return written

    def clear_device_outbox(
        self, state: am.DeviceState, keep: Sequence[TransitionLike] = ()
    ) -> am.DeviceState:
        before = self.devices.get(state.device_id)
        try:
            return super().clear_device_outbox(state, keep)
        except TransientError:
            self.world.unconfirmed(before.outbox if before else ())
            raise

    def _run_interleaved(self, fn: Interleave) -> None:
        # Another writer's own calls see no injected faults: what is under test is the evaluator's side.
        faults, self.fail_writes = self.fail_writes, {}
        try:
            super()._run_interleaved(fn)
        finally:
            self.fail_writes = faults


class Publisher(FakePublisher):
    """``FakePublisher`` that can also die at its n-th call (after the earlier calls delivered)."""

    def __init__(self, name: str, world: World) -> None:
        super().__init__(name)
        self.world = world
        self.crash_at_call: int | None = None

    def publish(self, transitions: Sequence[TransitionLike], remaining_ms: RemainingTime) -> set[str]:
        if self.world.operating:  # the other writer's publishes go through untouched
            saved = (self.fail_ids, self.fail_calls, self.fail_transitions)
            self.fail_ids, self.fail_calls, self.fail_transitions = set(), 0, set()
            try:
                return super().publish(transitions, remaining_ms)
            finally:
                self.fail_ids, self.fail_calls, self.fail_transitions = saved
        if self.crash_at_call is not None:
            if self.crash_at_call == 0:
                self.crash_at_call = None
                raise FunctionError(f"timed out publishing to {self.name}")
            self.crash_at_call -= 1
        return super().publish(transitions, remaining_ms)


class World:
    def __init__(self, write_concurrency: int = 1) -> None:
        self.operating = False  # another writer (operator, heartbeat) is running inside an interleave
        self.store = Store(self)
        self.sns, self.bus = Publisher("sns", self), Publisher("eventbridge", self)
        self.publishers = (self.sns, self.bus)
        self.evaluator = AlarmEvaluator(
            self.store, RULES, list(self.publishers), write_concurrency=write_concurrency
        )
        self.actions = AlarmActions(self.store, RULES, list(self.publishers))
        # Per publisher, the events it may legitimately receive twice: an outbox still owed them to it after
        # it had taken them, because the clear did not happen.
        self.may_repeat: dict[str, set[str]] = {p: set() for p in PUBLISHERS}
        self.clear_failures = 0

    def unconfirmed(self, outbox: Sequence[TransitionLike]) -> None:
        self.clear_failures += 1
        for p in self.publishers:
            taken = set(p.event_ids)
            for t in outbox:
                pending = getattr(t, "pending", None)
                if (pending is None or p.name in pending) and t.event_id in taken:
                    self.may_repeat[p.name].add(t.event_id)

    def died(self) -> None:
        """The function died: nothing after this point ran, so no outbox was cleared."""
        for stored in list(self.store.devices.values()):
            self.unconfirmed(stored.outbox)
        self.clear_faults()

    def clear_faults(self) -> None:
        self.store.fail_loads = 0
        self.store.fail_writes = {}
        self.store.crash_before_put.clear()
        self.store.crash_after_put.clear()
        for p in self.publishers:
            p.fail_ids, p.fail_calls, p.fail_transitions, p.crash_at_call = set(), 0, set(), None


# --- the other writers: operator actions and the heartbeat -------------------------------------------------


@dataclass(frozen=True)
class Act:
    """One action of another writer on a device, and where it landed among the device's readings."""

    device_id: str
    after_sequence: int  # the newest applied Kinesis sequence number of the device when it ran (-1: none)
    kind: str  # ack, snooze, disable, enable, heartbeat, or none (a heartbeat with nothing to do)
    alarm_key: str | None = None
    now_ms: int = 0
    until_ms: int | None = None


@dataclass(frozen=True)
class Choice:
    """What the other writer will do when it runs: decided then, on the item it finds."""

    heartbeat: bool
    sensor: str
    variant: bool
    offset_ms: int
    snooze_ms: int


choices = st.builds(
    Choice,
    heartbeat=st.booleans(),
    sensor=st.sampled_from(("temperature", "temperature", "humidity")),
    variant=st.booleans(),
    offset_ms=st.integers(1_000, 300_000),
    snooze_ms=st.sampled_from((30_000, 90_000, 600_000)),
)


def decide(
    choice: Choice, stored: StoredDevice | None, device_id: str, unique: int, raised: Collection[int] = ()
) -> Act:
    """The act, decided on the item as the other writer finds it. ``raised``: the stale deadlines of the
    device a heartbeat already raised; one is never raised again (a known bug reuses its event id, see
    ``test_a_second_stale_episode_on_the_same_deadline_gets_its_own_event_id``)."""
    after = stored.state.last_sequence if stored else -1
    if choice.heartbeat:
        deadline = stored.state.stale_deadline_ms if stored else None
        if stored is None or deadline is None or deadline in raised:
            return Act(device_id, after, "none")
        now = max(deadline, stored.state.last_seen_ms or 0) + choice.offset_ms
        return Act(device_id, after, "heartbeat", now_ms=now)
    key = am.alarm_id(device_id, choice.sensor, RULE_OF[choice.sensor])
    current = stored.alarms.get(key) if stored else None
    state = current.state if current else am.NORMAL
    if state == am.ACTIVE:
        kind = "ack" if choice.variant else "snooze"
    elif state == am.DISABLED:
        kind = "enable"
    else:
        kind = "snooze" if choice.variant else "disable"
    # Action times are unique per action, so two actions never share an event id.
    now = ((stored.state.last_seen_ms if stored else None) or T0) + choice.offset_ms + unique
    return Act(device_id, after, kind, key, now, now + choice.snooze_ms if kind == "snooze" else None)


class OneDevice:
    """The staleness index narrowed to one device: a heartbeat run that concerns only that device."""

    def __init__(self, store: FakeAlarmStore, device_id: str) -> None:
        self._store, self._device_id = store, device_id

    def load(self, device_ids: Sequence[str]) -> dict[str, StoredDevice]:
        return self._store.load(device_ids)

    def put_device(
        self, state: am.DeviceState, alarms: Mapping[str, am.Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> am.DeviceState:
        return self._store.put_device(state, alarms, outbox)

    def clear_device_outbox(
        self, state: am.DeviceState, keep: Sequence[TransitionLike] = ()
    ) -> am.DeviceState:
        return self._store.clear_device_outbox(state, keep)

    def defer_outbox(
        self,
        state: am.DeviceState,
        keep: Sequence[TransitionLike],
        attempts: int,
        retry_at_ms: int | None,
    ) -> am.DeviceState:
        return self._store.defer_outbox(state, keep, attempts, retry_at_ms)

    def due_devices(self, bucket: str, now_ms: int) -> list[StoredDevice]:
        return [s for s in self._store.due_devices(bucket, now_ms) if s.state.device_id == self._device_id]


def perform(world: World, act: Act) -> tuple[str, ...]:
    """Run ``act`` through the real service; its outcome (refused, or the event ids it emitted)."""
    world.operating = True
    try:
        if act.kind == "none":
            return ("none",)
        if act.kind == "heartbeat":
            out = HeartbeatService(
                store=OneDevice(world.store, act.device_id),
                checkpoint=FakeHeartbeatCheckpoint(),
                publishers=list(world.publishers),
                initial_lookback_minutes=10,
                clock_ms=lambda: act.now_ms,
            ).run(plenty)
            return ("heartbeat", *out.raised)
        assert act.alarm_key is not None
        try:
            done = world.actions.apply(act.kind, act.alarm_key, "ana", None, act.now_ms, act.until_ms)
        except am.ActionNotAllowedError:
            return ("refused",)
        assert done.undelivered == 0
        return (act.kind, *(e.event_id for e in done.events))
    finally:
        world.operating = False


class Operators:
    """Other writers, each run between the evaluator's read and its next write of a device."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.log: list[tuple[Act, tuple[str, ...]]] = []
        self.stale_raised: dict[str, set[int]] = {}

    def schedule(self, device_id: str, choice: Choice) -> None:
        def run() -> None:
            stored = self.world.store.devices.get(device_id)
            raised = self.stale_raised.setdefault(device_id, set())
            act = decide(choice, stored, device_id, len(self.log), raised)
            outcome = perform(self.world, act)
            self.log.append((act, outcome))
            if outcome[0] == "heartbeat" and len(outcome) > 1 and stored is not None:
                raised.add(stored.state.stale_deadline_ms or 0)

        self.world.store.interleave(device_id, run)

    @property
    def own_events(self) -> set[str]:
        return {eid for _, outcome in self.log for eid in outcome[1:]}


# --- the clean pass -----------------------------------------------------------------------------------------


def clean_pass(
    stream: Sequence[Record], acts: Sequence[Act] = (), one_batch: bool = False
) -> tuple[World, list[tuple[str, ...]]]:
    """One in-order pass, no faults; each act applied right after the reading it followed in the run.
    Returns the world and each act's outcome (in the order of ``acts``)."""
    world = World()
    outcomes: dict[int, tuple[str, ...]] = {}
    if one_batch:
        assert not acts
        assert world.evaluator.evaluate([r.reading for r in stream], plenty).failed_from is None
        return world, []
    waiting = list(enumerate(acts))
    for rec in stream:
        if not rec.duplicate:
            while (due := _next_act(waiting, rec.device_id)) and due[1].after_sequence < rec.sequence:
                waiting.remove(due)
                outcomes[due[0]] = perform(world, due[1])
        assert world.evaluator.evaluate([rec.reading], plenty).failed_from is None
    for i, act in waiting:
        outcomes[i] = perform(world, act)
    return world, [outcomes[i] for i in range(len(acts))]


def _next_act(waiting: list[tuple[int, Act]], device_id: str) -> tuple[int, Act] | None:
    return next((a for a in waiting if a[1].device_id == device_id), None)


# --- the schedule: Lambda's deliveries, with faults ---------------------------------------------------------

TRANSIENT_FAULTS = (
    "load",
    "write",
    "write",
    "refuse_ids",
    "refuse_calls",
    "refuse_calls",
    "refuse_transition",
    "refuse_transition",
)
FAULTS = (*TRANSIENT_FAULTS, "crash_publish", "crash_before_put", "crash_after_put")
TRANSITIONS = ("Alarm Raised", "Alarm Escalated", "Alarm Cleared", "Device Stale")


def inject(data: st.DataObject, world: World, batch: Sequence[Record], ids: Sequence[str], kinds) -> None:
    devices = sorted({r.device_id for r in batch})
    for kind in data.draw(st.lists(st.sampled_from(kinds), max_size=3), label="faults"):
        publisher = data.draw(st.sampled_from(world.publishers), label="publisher")
        if kind == "load":
            world.store.fail_loads = 1
        elif kind == "write":
            world.store.fail_writes[data.draw(st.sampled_from(devices))] = data.draw(st.integers(1, 2))
        elif kind == "refuse_ids" and ids:
            publisher.fail_ids |= data.draw(st.sets(st.sampled_from(ids), min_size=1, max_size=3))
        elif kind == "refuse_calls":
            publisher.fail_calls = data.draw(st.integers(1, 2))
        elif kind == "refuse_transition":
            publisher.fail_transitions.add(data.draw(st.sampled_from(TRANSITIONS)))
        elif kind == "crash_publish":
            publisher.crash_at_call = data.draw(st.integers(0, 2))
        elif kind == "crash_before_put":
            world.store.crash_before_put.add(data.draw(st.sampled_from(devices)))
        elif kind == "crash_after_put":
            world.store.crash_after_put.add(data.draw(st.sampled_from(devices)))


@dataclass
class Lambda:
    """The event source mapping's view of the shard: the checkpoint and the batches it will send."""

    stream: Sequence[Record]
    world: World
    checkpoint: int = 0  # every record before it is committed
    queue: list[tuple[int, int]] = field(default_factory=list)  # bisected halves, or the batch to retry
    last_ok: tuple[int, int] | None = None
    deliveries: int = 0

    def deliver(self, start: int, end: int) -> AlarmOutcome | None:
        assert 0 <= start <= self.checkpoint and start < end <= len(self.stream)
        self.deliveries += 1
        batch = [r.reading for r in self.stream[start:end]]
        try:
            out = self.world.evaluator.evaluate(batch, plenty)
        except FunctionError:
            self.world.died()
            self.checkpoint = start
            return None
        finally:
            self.world.clear_faults()
        if out.failed_from is None:
            self.checkpoint = max(self.checkpoint, end)
            self.last_ok = (start, end)
        else:
            assert 0 <= out.failed_from < end - start
            self.checkpoint = start + out.failed_from  # Lambda rewinds to the lowest failed record
            self.queue = []
        return out

    def step(self, data: st.DataObject, ids: Sequence[str], kinds: Sequence[str]) -> bool:
        """One delivery Lambda can make now; False when the stream is done and no replay was drawn."""
        n = len(self.stream)
        move = data.draw(st.sampled_from(("next", "next", "next", "rewind", "retry_done")), label="move")
        if self.queue and self.queue[0][0] <= self.checkpoint:
            start, end = self.queue.pop(0)
        elif move == "retry_done" and self.last_ok is not None and self.last_ok[0] <= self.checkpoint:
            start, end = self.last_ok
        elif move == "rewind":
            start = data.draw(st.integers(0, min(self.checkpoint, n - 1)), label="rewind to")
            end = start + data.draw(st.integers(1, min(MAX_BATCH, n - start)), label="size")
        elif self.checkpoint >= n:
            return False
        else:
            start = self.checkpoint
            end = start + data.draw(st.integers(1, min(MAX_BATCH, n - start)), label="size")
        inject(data, self.world, self.stream[start:end], ids, kinds)
        if self.deliver(start, end) is None:  # a function error: retry the batch, or bisect it
            if end - start > 1 and data.draw(st.booleans(), label="bisect"):
                mid = (start + end) // 2
                self.queue = [(start, mid), (mid, end)]
            else:
                self.queue = [(start, end)]
        return True

    def drain(self) -> None:
        """No more faults: deliver from the checkpoint until the whole stream is committed."""
        for _ in range(4 * len(self.stream) + 20):
            if self.checkpoint >= len(self.stream):
                return
            self.deliver(self.checkpoint, min(len(self.stream), self.checkpoint + MAX_BATCH // 2))
        pytest.fail(f"the stream never committed: stuck at record {self.checkpoint}")


def run_schedule(
    data: st.DataObject,
    stream: Sequence[Record],
    world: World,
    ids: Sequence[str],
    kinds: Sequence[str] = FAULTS,
    max_steps: int = 14,
    between: Callable[[], None] | None = None,
) -> Lambda:
    lam = Lambda(stream, world)
    for _ in range(max_steps):
        if between is not None:
            between()
        if not lam.step(data, ids, kinds):
            break
    lam.drain()
    return lam


# --- the checks ---------------------------------------------------------------------------------------------


def per_alarm(docs: Sequence[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """(event id, transition) per alarm, in the order the publisher first received each event."""
    seen: set[str] = set()
    out: dict[str, list[tuple[str, str]]] = {}
    for doc in docs:
        if doc["event_id"] not in seen:
            seen.add(doc["event_id"])
            out.setdefault(doc["alarm"]["alarm_id"], []).append((doc["event_id"], doc["transition"]))
    return out


def assert_same_as_clean(world: World, clean: World, once: Collection[str] = ()) -> None:
    for got, want in zip(world.publishers, clean.publishers, strict=True):
        assert len(set(want.event_ids)) == len(want.event_ids), "the clean pass published an id twice"
        # exactly the clean pass's transitions: same ids, same documents, same order per alarm
        assert per_alarm(got.delivered) == per_alarm(want.delivered), got.name
        first: dict[str, dict[str, Any]] = {}
        for doc in got.delivered:
            first.setdefault(doc["event_id"], doc)
        assert first == {doc["event_id"]: doc for doc in want.delivered}, got.name
        # a repeat only where the outbox still owed the publisher an event it had taken (a clear that failed)
        repeated = {eid for eid, count in Counter(got.event_ids).items() if count > 1}
        assert repeated <= world.may_repeat[got.name], (got.name, repeated - world.may_repeat[got.name])
        if world.clear_failures == 0:
            assert not repeated, got.name
        # the other writers' own events: exactly once
        assert not repeated & set(once), (got.name, repeated & set(once))
    # the stored devices: the same state and alarms (versions aside)
    assert set(world.store.devices) == set(clean.store.devices)
    for device_id, stored in world.store.devices.items():
        expected = clean.store.devices[device_id]
        assert replace(stored.state, version=0) == replace(expected.state, version=0), device_id
        assert dict(stored.alarms) == dict(expected.alarms), device_id
        assert expected.outbox == ()
        # what an outbox still holds is only what a failed clear left, and every publisher has it already
        for t in stored.outbox:
            assert isinstance(t, StoredTransition)
            for p in world.publishers:
                if t.pending is None or p.name in t.pending:
                    assert t.event_id in p.event_ids, (device_id, t.event_id, p.name)
                    assert t.event_id in world.may_repeat[p.name], (device_id, t.event_id, p.name)


def clean_ids(clean: World) -> list[str]:
    return sorted(clean.sns.event_ids)


# --- the properties -----------------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(), data=st.data())
def test_any_delivery_schedule_yields_the_transitions_and_state_of_one_clean_pass(stream, data):
    # GIVEN the clean in-order pass (one batch; one reading per batch agrees with it)
    clean, _ = clean_pass(stream, one_batch=True)
    reading_by_reading, _ = clean_pass(stream)
    assert_same_as_clean(reading_by_reading, clean)
    # WHEN Lambda delivers the stream in any order it can, with transient faults and function errors
    world = World()
    run_schedule(data, stream, world, clean_ids(clean))
    # THEN every publisher has exactly the clean pass's transitions, the state is the clean pass's, and a
    # publisher saw an event twice only after an outbox clear failed
    assert_same_as_clean(world, clean)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_readings=22), data=st.data())
def test_operator_actions_and_heartbeat_writes_between_read_and_write_are_never_lost(stream, data):
    # GIVEN a schedule with faults, and other writers (an operator, the heartbeat) that act on a device
    # between the evaluator's read and its write of it
    ids = clean_ids(clean_pass(stream, one_batch=True)[0])
    world = World()
    operators = Operators(world)
    devices = sorted({r.device_id for r in stream})

    def maybe_schedule() -> None:
        for _ in range(data.draw(st.integers(0, 2), label="other writers")):
            operators.schedule(data.draw(st.sampled_from(devices)), data.draw(choices))

    # WHEN Lambda delivers the stream
    run_schedule(data, stream, world, ids, between=maybe_schedule)
    # THEN the result is the clean pass with each action applied at the same point of its device's readings:
    # the action decided the same, its effect is in the stored alarm (unless a later reading legitimately
    # changed it, per the state machine), and its events went to each publisher exactly once
    acts = [act for act, _ in operators.log]
    clean, outcomes = clean_pass(stream, acts)
    assert outcomes == [outcome for _, outcome in operators.log]
    assert_same_as_clean(world, clean, once=operators.own_events)
    for p in world.publishers:
        counts = Counter(p.event_ids)
        assert all(counts[eid] == 1 for eid in operators.own_events), p.name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(max_readings=20), data=st.data())
def test_the_write_pool_changes_nothing(stream, data):
    # GIVEN the evaluator writing devices four at a time (transient faults, no function errors: what a
    # batch that dies mid-pool wrote is a race, by design)
    clean, _ = clean_pass(stream, one_batch=True)
    world = World(write_concurrency=4)
    # WHEN Lambda delivers the stream THEN the outcome is the clean pass's
    run_schedule(data, stream, world, clean_ids(clean), kinds=TRANSIENT_FAULTS)
    assert_same_as_clean(world, clean)


# --- regressions the properties found --------------------------------------------------------------------


def test_a_second_stale_episode_on_the_same_deadline_gets_its_own_event_id():
    # GIVEN a device whose temperature sensor went silent at T (deadline T + 300 s) while its humidity
    # sensor kept reporting, and the heartbeat raised Device Stale at T + 360 s
    t = T0
    state = am.DeviceState(
        "dev-00001",
        last_seen_ms=t + 200_300,
        sensors={
            "temperature": am.SensorSeen(t, 21.0, 300),
            "humidity": am.SensorSeen(t + 200_000, 50.0, 300),
        },
    )
    stale, [first] = am.device_staleness(state, t + 360_000)
    # AND a humidity reading that arrived before the deadline (T + 250 s; Lambda was behind, or the batch
    # was in flight while the heartbeat ran) is applied after it: it clears the stale alarm
    sample = am.Sample("dev-00001", "humidity", 7, t + 250_000, t + 250_300, 55.0, "%", order=1234)
    cleared, [clear] = stale.observe(sample, 300, None)
    assert (clear.transition, cleared.stale_since_ms, cleared.stale_deadline_ms) == (
        "Alarm Cleared",
        None,
        t + 300_000,  # the temperature sensor is still the one past its deadline
    )
    # WHEN the next heartbeat run finds the temperature sensor still silent
    _, [second] = am.device_staleness(cleared, t + 420_000)
    # THEN it is a new Device Stale transition (after a clear), so it needs an event id of its own
    assert second.transition == first.transition == "Device Stale"
    assert second.event_id != first.event_id
