"""The simulation: a fleet's readings over device time, with injected scenarios and exact ground truth.

Device time runs from ``start_ms`` for ``duration_s``; each device reports every ``interval_s`` (one
reading per sensor type, each with its own ``seq``) from a random phase inside its first interval.
Records come out in device-time order across the fleet, so a publisher sends them the way a real
fleet would, just faster.

Reproducibility: every device draws from its own ``random.Random(f"{seed}:{device_id}")`` and the
merge order is fixed, so the same ``SimConfig`` (seed *and* ``start_ms``) gives the same bytes and
truth on every run and machine.

Alarm scenarios are shaped for the rules (``sensorflow/rules.json``): an excursion jumps to a warning
plateau that outlasts the rule's debounce (for_seconds or M-of-N, plus two readings), usually a critical
plateau as long, then back to the natural value held level inside the clear band until it has cleared;
a spike is one critical reading on a sensor whose rule debounces it. Each such reading carries
``expected_transitions`` (see ``sensorflow.simulate.truth``). After any scenario a device stays quiet
for a few ticks so the next one starts on a quiet alarm.

Truth assumes the records arrive shortly after the end of device time (``end_ms``, which is "now"
by default): a large clock skew puts timestamps >= 10 minutes past ``end_ms`` so the ingest window
(+5 min) rejects them, while small skews stay under +4 minutes and pass.
"""

from __future__ import annotations

import heapq
import math
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sensorflow.core.units import canonical_unit, normalise
from sensorflow.simulate import scenarios as sc
from sensorflow.simulate.errors import SimulationError
from sensorflow.simulate.fleet import DeviceSpec, load_fleet
from sensorflow.simulate.payloads import ReadingEncoder, malformed_payload
from sensorflow.simulate.signals import PROFILES, SITE_UTC_OFFSET_H, Battery, SignalModel, SiteProcess
from sensorflow.simulate.truth import CLEARED as _CLEARED
from sensorflow.simulate.truth import ESCALATED as _ESCALATED
from sensorflow.simulate.truth import RAISED as _RAISED
from sensorflow.simulate.truth import SensorRule, load_sensor_rules

MINUTE_MS = 60_000
# Readings older than 7 days are rejected by ingest (and outlive Kinesis retention); keep an hour to publish.
MAX_DURATION_S = 7 * 86_400 - 3_600
MIN_INTERVAL_S = 1.0
DEFAULT_DURATION_S = 600.0
DEFAULT_MALFORMED_RATE = 0.01
DEFAULT_SCENARIO_RATE = 0.005

# A large skew lands this far past end_ms: comfortably beyond the +5 min ingest window even if
# publishing takes a few minutes. Small skews stay within SMALL_SKEW_MS of true time.
LARGE_SKEW_MS = (10 * MINUTE_MS, 3 * 60 * MINUTE_MS)
SMALL_SKEW_MS = (-10 * MINUTE_MS, 4 * MINUTE_MS)

BATTERY_MODELS = frozenset({"TH-200", "AQ-7"})
FIRMWARE = ("2.4.1", "2.5.0", "3.0.2")

# Inverse of sensorflow.core.units: canonical value -> the unit a device reports in, and its resolution.
_FROM_CANONICAL: dict[str, tuple[Any, int]] = {
    "C": (lambda v: v, 2),
    "F": (lambda v: v * 9.0 / 5.0 + 32.0, 2),
    "K": (lambda v: v + 273.15, 2),
    "%RH": (lambda v: v, 1),
    "%": (lambda v: v, 1),
    "hPa": (lambda v: v, 2),
    "kPa": (lambda v: v / 10.0, 3),
    "Pa": (lambda v: v * 100.0, 0),
    "bar": (lambda v: v / 1000.0, 5),
    "psi": (lambda v: v / 68.947572932, 4),
    "mm/s": (lambda v: v, 3),
    "in/s": (lambda v: v / 25.4, 4),
    "ppm": (lambda v: v, 0),
}


@dataclass(frozen=True, slots=True)
class SimRecord:
    """One record to publish: the Kinesis partition key, the exact payload bytes, and what it is."""

    partition_key: str
    data: bytes
    truth: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SimConfig:
    """What to simulate. ``None`` fields are resolved by ``resolved()`` (fleet file, random seed, now)."""

    devices: int | None = None  # the first N devices of the fleet; None = all of them
    duration_s: float = DEFAULT_DURATION_S  # seconds of device time
    interval_s: float | None = None  # override every device's reporting interval
    seed: int | None = None  # None = a random seed (see resolved().seed)
    start_ms: int | None = None  # device time of the start; None = now - duration
    malformed_rate: float = DEFAULT_MALFORMED_RATE  # probability a reading is followed by a malformed payload
    scenario_rate: float = DEFAULT_SCENARIO_RATE  # probability a device starts a scenario at a tick
    scenario_mix: Mapping[str, float] = field(default_factory=lambda: dict(sc.DEFAULT_SCENARIO_MIX))
    malformed_mix: Mapping[str, float] = field(default_factory=lambda: dict(sc.DEFAULT_MALFORMED_MIX))
    rate: float | None = None  # records/s cap for publishing (used by the producer, not the simulation)
    fleet: tuple[DeviceSpec, ...] | None = None  # None = the committed default fleet
    # Forced scenarios, on top of the random ones (each on its own device, which then runs no random
    # scenario): excursions that raise, escalate and clear inside the run, and devices that go silent
    # for good at least stale_after + 60 s of device time before the end (a heartbeat at the end finds
    # them stale).
    min_excursions: int = 0
    trailing_dropouts: int = 0

    @property
    def end_ms(self) -> int:
        if self.start_ms is None:
            raise SimulationError("end_ms needs start_ms; call resolved() first")
        return self.start_ms + round(self.duration_s * 1000)

    def resolved(self, now_ms: int | None = None) -> SimConfig:
        """A validated copy with the seed, start and fleet fixed (and the fleet cut to ``devices``)."""
        fleet = self.fleet if self.fleet is not None else tuple(load_fleet())
        _validate(self, len(fleet))
        seed = self.seed if self.seed is not None else random.SystemRandom().randrange(2**31)
        start_ms = self.start_ms
        if start_ms is None:
            now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
            start_ms = now_ms - round(self.duration_s * 1000)
        devices = self.devices if self.devices is not None else len(fleet)
        return replace(self, seed=seed, start_ms=start_ms, fleet=tuple(fleet[:devices]), devices=devices)


def _validate(cfg: SimConfig, fleet_size: int) -> None:
    if cfg.devices is not None and not 1 <= cfg.devices <= fleet_size:
        raise SimulationError(
            f"devices (--devices) must be between 1 and {fleet_size}, the fleet size; got {cfg.devices}. "
            "Use a smaller number or a fleet file with more devices"
        )
    if not (math.isfinite(cfg.duration_s) and 0 < cfg.duration_s <= MAX_DURATION_S):
        raise SimulationError(
            f"duration (--duration) must be more than 0 and at most {MAX_DURATION_S} s (7 days less an hour: "
            f"ingest rejects older readings); got {cfg.duration_s}"
        )
    if cfg.interval_s is not None and not (
        math.isfinite(cfg.interval_s) and cfg.interval_s >= MIN_INTERVAL_S
    ):
        raise SimulationError(
            f"interval (--interval) must be at least {MIN_INTERVAL_S:g} s; got {cfg.interval_s}"
        )
    if cfg.start_ms is not None and cfg.start_ms < 0:
        raise SimulationError(
            f"start (--start) must be at or after 1970-01-01T00:00:00Z; got {cfg.start_ms} ms"
        )
    for name in ("malformed_rate", "scenario_rate"):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise SimulationError(
                f"{name} (--{name.replace('_', '-')}) must be a probability in 0..1; got {value}"
            )
    if cfg.rate is not None and not (math.isfinite(cfg.rate) and cfg.rate > 0):
        raise SimulationError(
            f"rate (--rate) must be a positive number of records per second; got {cfg.rate}"
        )
    for name in ("min_excursions", "trailing_dropouts"):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SimulationError(
                f"{name} (--{name.replace('_', '-')}) must be a whole number >= 0; got {value!r}"
            )
    devices = cfg.devices if cfg.devices is not None else fleet_size
    if cfg.min_excursions + cfg.trailing_dropouts > devices:
        raise SimulationError(
            f"min_excursions + trailing_dropouts ({cfg.min_excursions} + {cfg.trailing_dropouts}) must not "
            f"exceed the {devices} devices: each forced scenario needs a device of its own"
        )
    _check_mix("scenario mix", cfg.scenario_mix, sc.SCENARIOS)
    _check_mix("malformed mix", cfg.malformed_mix, sc.MALFORMED_KINDS)


def _check_mix(what: str, mix: Mapping[str, float], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(mix) - set(allowed))
    if unknown:
        raise SimulationError(
            f"{what}: unknown name(s) {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    for name, weight in mix.items():
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not (0 <= weight < math.inf):
            raise SimulationError(f"{what}: weight of {name} must be a number >= 0; got {weight!r}")
    if not any(mix.values()):
        raise SimulationError(f"{what}: at least one weight must be above 0 (set the rate to 0 to disable)")


def generate(config: SimConfig, now_ms: int | None = None) -> Iterator[SimRecord]:
    """The simulation's records in publishing order. ``config`` is resolved first.

    Validation and the forced-scenario plan happen on the call (a ``SimulationError`` raises here);
    records are produced lazily as the iterator is consumed.
    """
    cfg = config.resolved(now_ms)
    assert cfg.fleet is not None and cfg.start_ms is not None and cfg.seed is not None
    shared = _Shared(cfg)
    sims = [_DeviceSim(spec, cfg, shared) for spec in cfg.fleet]
    _force(sims, cfg, shared)
    return _run(sims, cfg.end_ms)


def _run(sims: list[_DeviceSim], end_ms: int) -> Iterator[SimRecord]:
    heap = [(sim.next_tick_ms, index) for index, sim in enumerate(sims) if sim.next_tick_ms < end_ms]
    heapq.heapify(heap)
    while heap:
        tick_ms, index = heapq.heappop(heap)
        sim = sims[index]
        yield from sim.tick(tick_ms)
        if sim.next_tick_ms < end_ms:
            heapq.heappush(heap, (sim.next_tick_ms, index))
    for sim in sims:
        yield from sim.flush()


def _force(sims: list[_DeviceSim], cfg: SimConfig, shared: _Shared) -> None:
    """Give ``min_excursions`` devices an excursion that completes, and ``trailing_dropouts`` a final silence.

    Devices are taken in a seeded random order; a device whose interval leaves no room in the duration is
    passed over, and too few that fit is an error that says how long the run must be.
    """
    if not cfg.min_excursions and not cfg.trailing_dropouts:
        return
    rng = random.Random(f"{cfg.seed}:forced")
    order = list(range(len(sims)))
    rng.shuffle(order)
    excursions = dropouts = 0
    needed_s = 0.0
    for index in order:
        sim = sims[index]
        # each returns None when the scenario was forced on the device, else the duration it would need
        if excursions < cfg.min_excursions:
            need = sim.force_excursion(rng)
            if need is None:
                excursions += 1
                continue
            needed_s = max(needed_s, need)
        if dropouts < cfg.trailing_dropouts:
            need = sim.force_trailing_dropout(rng)
            if need is None:
                dropouts += 1
                continue
            needed_s = max(needed_s, need)
    if excursions < cfg.min_excursions or dropouts < cfg.trailing_dropouts:
        raise SimulationError(
            f"only {excursions} of min_excursions {cfg.min_excursions} and {dropouts} of trailing_dropouts "
            f"{cfg.trailing_dropouts} fit in {cfg.duration_s:g} s of device time on {len(sims)} devices; "
            f"use --duration {math.ceil(needed_s)} or more (or more devices, or fewer forced scenarios)"
        )


class _Shared:
    """State shared by every device of one run: the encoder, site processes, rules and ghost numbering."""

    def __init__(self, cfg: SimConfig) -> None:
        assert cfg.start_ms is not None
        self.cfg = cfg
        self.end_ms = cfg.end_ms
        self.encoder = ReadingEncoder()
        self.rules = load_sensor_rules()
        # After any scenario a device stays quiet for this many ticks, so the next one starts from a clean
        # alarm (an M-of-N window still holding a spike would raise an excursion a reading early).
        self.cooldown_ticks = max((r.n or 0 for r in self.rules.values()), default=0) + 1
        self._sites: dict[tuple[str, str], SiteProcess] = {}
        self._ghosts = 0
        self.scenario_names = [n for n in sc.SCENARIOS if cfg.scenario_mix.get(n, 0) > 0]
        self.scenario_weights = [cfg.scenario_mix[n] for n in self.scenario_names]
        self.malformed_names = [n for n in sc.MALFORMED_KINDS if cfg.malformed_mix.get(n, 0) > 0]
        self.malformed_weights = [cfg.malformed_mix[n] for n in self.malformed_names]

    def site_process(self, site: str, process: str) -> SiteProcess:
        key = (site, process)
        if key not in self._sites:
            self._sites[key] = SiteProcess(random.Random(f"{self.cfg.seed}:site:{site}:{process}"))
        return self._sites[key]

    def next_ghost_id(self) -> str:
        self._ghosts += 1
        return f"ghost-{self._ghosts:05d}"


# --- alarm scenarios: shapes and the transitions they cause -----------------------------------------------

CLEAR, HOLD, WARNING, CRITICAL = 0, 1, 2, 3  # how a reading stands against its rule (as in core.rules)


def hold_ticks(rule: SensorRule, interval_ms: int) -> int:
    """Readings a plateau lasts: two more than the rule needs to raise (for_seconds or M-of-N)."""
    if rule.m is not None:
        return rule.m + 2
    return math.ceil(rule.for_ms / interval_ms) + 2


def recovery_ticks(rule: SensorRule) -> int:
    """Readings back inside the clear band after an excursion: enough to clear, plus one."""
    window = (rule.n - rule.m + 1) if rule.m is not None and rule.n is not None else 1
    return window + (1 if rule.rate_max_per_min is not None else 0) + 1


def excursion_phases(rule: SensorRule, interval_ms: int, peak: str = sc.LEVEL_CRITICAL) -> list[str]:
    """warning plateau (raises warning) [, critical plateau (escalates)], recovery (clears)."""
    k = hold_ticks(rule, interval_ms)
    plateaus = ["warning"] * k + (["critical"] * k if peak == sc.LEVEL_CRITICAL else [])
    return [*plateaus, *["recovery"] * recovery_ticks(rule)]


def spike_is_debounced(rule: SensorRule, interval_ms: int) -> bool:
    """Whether one critical reading and a jump back stay below the rule's debounce.

    The jump back may itself be a rate-of-change crossing, so the spike can be two crossing readings
    one interval apart: M-of-N must need more, for_seconds must be longer than the interval.
    """
    crossings = 1 + (1 if rule.rate_max_per_min is not None else 0)
    if rule.m is not None:
        return crossings < rule.m
    return rule.for_ms > 0 and (crossings == 1 or interval_ms + 1_000 < rule.for_ms)


@dataclass(slots=True)
class _Prediction:
    """The announced transitions of one alarm over the readings an alarm scenario shapes.

    A deliberately small model of the documented rule semantics (for_seconds or M-of-N on device time,
    the clear band, rate of change), fed only with the scenario's own readings: the scenarios start on a
    quiet alarm (cooldown) and are shaped so nothing else matters. It does not use
    ``sensorflow.core.alarms``; the alarm-scenario integration test holds the real state machine to it.
    """

    rule: SensorRule
    alarm_id: str
    previous: tuple[int, float] | None  # the sensor's last reading before the scenario (rate of change)
    raised: bool = False
    severity: str | None = None
    pending_ms: int | None = None
    critical_ms: int | None = None
    ranks: list[int] = field(default_factory=list)

    def observe(self, timestamp_ms: int, value: float, rank: int) -> list[dict[str, Any]]:
        rule = self.rule
        if rank == CLEAR and not rule.inside_clear_band(value):
            rank = HOLD
        if rule.rate_max_per_min is not None and self.previous is not None:
            elapsed = timestamp_ms - self.previous[0]
            if elapsed > 0:
                speed = abs(value - self.previous[1]) * 60_000 / elapsed
                if speed > rule.rate_max_per_min and rank < WARNING:
                    rank = WARNING  # the default rules' rate crossings are warnings
                elif rank == CLEAR and speed > (rule.rate_clear_per_min or 0.0):
                    rank = HOLD
        self.previous = (timestamp_ms, value)
        self.ranks.append(rank)
        if rule.m is not None and rule.n is not None:
            window = self.ranks[-rule.n :]
            critical = sum(r >= CRITICAL for r in window) >= rule.m
            holds = sum(r >= (HOLD if self.raised else WARNING) for r in window) >= rule.m
        else:
            self.pending_ms = (self.pending_ms or timestamp_ms) if rank >= WARNING else None
            self.critical_ms = (self.critical_ms or timestamp_ms) if rank >= CRITICAL else None
            critical = self.critical_ms is not None and timestamp_ms - self.critical_ms >= rule.for_ms
            if self.raised:
                holds = rank >= HOLD
            else:
                holds = self.pending_ms is not None and timestamp_ms - self.pending_ms >= rule.for_ms
        if not self.raised and holds:
            self.raised, self.severity = True, sc.LEVEL_CRITICAL if critical else sc.LEVEL_WARNING
            return [self._transition(_RAISED, self.severity)]
        if self.raised and holds and critical and self.severity != sc.LEVEL_CRITICAL:
            self.severity = sc.LEVEL_CRITICAL
            return [self._transition(_ESCALATED, self.severity)]
        if self.raised and not holds:
            severity, self.raised, self.severity = self.severity, False, None
            return [self._transition(_CLEARED, severity or sc.LEVEL_WARNING)]
        return []

    def _transition(self, name: str, severity: str) -> dict[str, Any]:
        return {
            "transition": name,
            "alarm_id": self.alarm_id,
            "rule_id": self.rule.rule_id,
            "severity": severity,
        }


@dataclass(slots=True)
class _Event:
    """An injected scenario in progress on one device: one phase per tick."""

    name: str
    event_id: str
    phases: list[str]
    sensor_type: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    index: int = 0
    prediction: _Prediction | None = None  # excursions and spikes: what the alarm will announce

    @property
    def phase(self) -> str:
        return self.phases[self.index]


class _DeviceSim:
    def __init__(self, spec: DeviceSpec, cfg: SimConfig, shared: _Shared) -> None:
        assert cfg.start_ms is not None
        self.spec = spec
        self.shared = shared
        self.rng = random.Random(f"{cfg.seed}:{spec.device_id}")
        self.interval_ms = round((cfg.interval_s or spec.interval_s) * 1000)
        self.next_tick_ms = cfg.start_ms + self.rng.randrange(self.interval_ms)
        self.seq = self.rng.randrange(100_000)  # devices have been running for a while
        offset_h = SITE_UTC_OFFSET_H.get(spec.site, 0.0)
        self.signals = {
            st: SignalModel(
                st,
                self.rng,
                shared.site_process(spec.site, PROFILES[st].site_process),
                offset_h,
                cfg.start_ms,
            )
            for st in spec.sensor_types
        }
        self.battery = Battery(self.rng, cfg.start_ms) if spec.model in BATTERY_MODELS else None
        self.firmware = self.rng.choice(FIRMWARE)
        self.event: _Event | None = None
        self.events_started = 0
        self.cooldown = 0
        self.last_sent_ms: int | None = None
        self.last_reading: dict[str, tuple[int, float]] = {}  # sensor -> (timestamp, canonical value)
        self.held: list[tuple[int, SimRecord]] = []  # (release tick, record) for late readings
        self.forced = False  # a forced scenario owns this device: no random ones
        self.forced_excursion: tuple[int, str] | None = None  # (tick, sensor type)
        self.silent_from_ms: int | None = None  # trailing dropout: no reading at or after this tick

    # --- forced scenarios (see _force) ------------------------------------------------------------------

    def _tick_count(self) -> int:
        return max(0, math.ceil((self.shared.end_ms - self.next_tick_ms) / self.interval_ms))

    def force_excursion(self, rng: random.Random) -> float | None:
        """Plan an excursion that completes inside the run; else return the duration (s) it would need."""
        ticks = self._tick_count()
        fits, shortest = [], math.inf
        for sensor_type, _direction in self._excursion_candidates():
            length = len(excursion_phases(self.shared.rules[sensor_type], self.interval_ms))
            shortest = min(shortest, length)
            if length + 1 <= ticks:
                fits.append((sensor_type, length))
        if not fits:
            return (shortest + 2) * self.interval_ms / 1000 if shortest < math.inf else math.inf
        sensor_type, length = rng.choice(fits)
        start_index = rng.randint(1, ticks - length)
        self.forced = True
        self.forced_excursion = (self.next_tick_ms + start_index * self.interval_ms, sensor_type)
        return None

    def force_trailing_dropout(self, rng: random.Random) -> float | None:
        """Plan a final silence of at least stale_after + 60 s; else return the duration it would need."""
        stale = [self.shared.rules[st].stale_after_s for st in self.spec.sensor_types]
        if not stale or any(s is None for s in stale):
            return math.inf  # a sensor without a staleness rule: never stale
        silence_ms = max(s or 0 for s in stale) * 1000 + 60_000 + rng.randint(0, 120_000) + 40
        silent_from = self.shared.end_ms - silence_ms
        if silent_from <= self.next_tick_ms + self.interval_ms:
            return (silence_ms + 3 * self.interval_ms) / 1000
        self.forced = True
        self.silent_from_ms = silent_from
        return None

    # --- per tick ---------------------------------------------------------------------------------

    def tick(self, t: int) -> list[SimRecord]:
        self.next_tick_ms = t + self.interval_ms
        cfg = self.shared.cfg
        if self.silent_from_ms is not None and t >= self.silent_from_ms:
            return []
        if self.event is None:
            self._maybe_start_event(t)
        event = self.event
        out: list[SimRecord] = []
        if event is not None and event.name == sc.DROPOUT and event.phase == "silent":
            self._advance_event()
            return out
        fresh: list[SimRecord] = []
        for sensor_type in self.spec.sensor_types:
            natural = self.signals[sensor_type].natural(t)
            fresh.append(self._reading(t, sensor_type, natural, event))
        self._advance_event()
        if event is not None and event.name == sc.LATE:
            delay = self.rng.randint(2, 6) * self.interval_ms
            for rec in fresh:
                rec.truth.update(kind=sc.KIND_LATE, outcome=sc.OUTCOME_STORED, delay_ms=delay)
                self.held.append((t + delay, rec))
            fresh = []
        for rec in fresh:
            out.append(rec)
            # Only plain readings get a corrupted twin, so every scenario reaches ingest intact.
            if rec.truth["scenario"] is None and self.rng.random() < cfg.malformed_rate:
                out.append(self._malformed(rec))
        if event is not None and event.name == sc.DUPLICATE and fresh:
            original = self.rng.choice(fresh)
            out.append(self._duplicate(original, event))
        if event is not None and event.name == sc.UNKNOWN_DEVICE:
            out.append(self._ghost(t, event))
        out.extend(self._release(t))
        if fresh:
            self.last_sent_ms = t
        return out

    def _maybe_start_event(self, t: int) -> None:
        """With no scenario under way: sit out a cooldown, else start a forced scenario that is due,
        else (unforced, nothing held back) a random one at ``scenario_rate``."""
        if self.cooldown:
            self.cooldown -= 1
        elif self.forced:
            if self.forced_excursion is not None and t >= self.forced_excursion[0]:
                self.event = self._excursion(self.forced_excursion[1], sc.LEVEL_CRITICAL)
                self.forced_excursion = None
            elif self.silent_from_ms is not None and t + self.interval_ms >= self.silent_from_ms:
                self.events_started += 1
                event_id = f"{self.spec.device_id}:{sc.DROPOUT}:{self.events_started}"
                self.event = _Event(sc.DROPOUT, event_id, ["start"], values={"trailing": 1})
        elif not self.held and self.rng.random() < self.shared.cfg.scenario_rate:
            self.event = self._start_event(t)

    def flush(self) -> list[SimRecord]:
        """Late readings still buffered when device time ends are sent last."""
        out = [rec for _, rec in self.held]
        self.held = []
        return out

    def _release(self, t: int) -> list[SimRecord]:
        due = [rec for release, rec in self.held if release <= t]
        self.held = [(release, rec) for release, rec in self.held if release > t]
        return due

    # --- scenarios ------------------------------------------------------------------------------------

    def _excursion_candidates(self) -> list[tuple[str, str]]:
        return [
            (st, d)
            for st in self.spec.sensor_types
            for d in ("high", "low")
            if (st, d) in sc.EXCURSION_TARGETS and st in self.shared.rules
        ]

    def _excursion(self, sensor_type: str, peak: str, direction: str | None = None) -> _Event:
        rng = self.rng
        if direction is None:
            direction = rng.choice([d for st, d in self._excursion_candidates() if st == sensor_type])
        warning, critical = sc.EXCURSION_TARGETS[(sensor_type, direction)]
        rule = self.shared.rules[sensor_type]
        self.events_started += 1
        return _Event(
            sc.EXCURSION,
            f"{self.spec.device_id}:{sc.EXCURSION}:{self.events_started}",
            excursion_phases(rule, self.interval_ms, peak),
            sensor_type,
            {
                "warning_low": warning[0],
                "warning_high": warning[1],
                "low": critical[0],
                "high": critical[1],
            },
            prediction=_Prediction(
                rule, rule.alarm_id(self.spec.device_id), self.last_reading.get(sensor_type)
            ),
        )

    def _start_event(self, t: int) -> _Event | None:
        shared, rng = self.shared, self.rng
        name = rng.choices(shared.scenario_names, shared.scenario_weights)[0]
        if name == sc.EXCURSION:
            candidates = self._excursion_candidates()
            if not candidates:
                return None
            sensor_type, direction = rng.choice(candidates)
            peak = sc.LEVEL_CRITICAL if rng.random() < 0.75 else sc.LEVEL_WARNING
            return self._excursion(sensor_type, peak, direction)
        self.events_started += 1
        event_id = f"{self.spec.device_id}:{name}:{self.events_started}"
        if name == sc.SPIKE:
            # Only where the rule debounces it: a spike is the story of an alarm that does *not* fire.
            eligible = [
                st
                for st in self.spec.sensor_types
                if st in shared.rules and spike_is_debounced(shared.rules[st], self.interval_ms)
            ]
            if not eligible:
                return None
            sensor_type = rng.choice(eligible)
            low, high = sc.SPIKE_TARGETS[sensor_type]
            rule = shared.rules[sensor_type]
            return _Event(
                name,
                event_id,
                ["peak", "recovery", "recovery"],
                sensor_type,
                {"low": low, "high": high},
                prediction=_Prediction(
                    rule, rule.alarm_id(self.spec.device_id), self.last_reading.get(sensor_type)
                ),
            )
        if name == sc.STUCK:
            sensor_type = rng.choice(self.spec.sensor_types)
            return _Event(name, event_id, ["start", *["hold"] * rng.randint(5, 20), "recovery"], sensor_type)
        if name == sc.DROPOUT:
            return _Event(name, event_id, ["start", *["silent"] * rng.randint(5, 30), "recovery"])
        if name == sc.CLOCK_SKEW:
            if rng.random() < 0.5:
                skew = rng.randint(*SMALL_SKEW_MS)
                skew = skew if abs(skew) >= 10_000 else 10_000
            else:
                skew = (self.shared.end_ms - t) + rng.randint(*LARGE_SKEW_MS)
            return _Event(
                name, event_id, ["start", *["hold"] * rng.randint(2, 9), "recovery"], values={"skew": skew}
            )
        # late, duplicate and unknown_device act on a single tick
        return _Event(name, event_id, ["once"])

    def _advance_event(self) -> None:
        if self.event is not None:
            self.event.index += 1
            if self.event.index >= len(self.event.phases):
                self.event = None
                self.cooldown = self.shared.cooldown_ticks

    def _shape(
        self, t: int, sensor_type: str, natural: float, event: _Event | None
    ) -> tuple[float, dict[str, Any]]:
        """The canonical value to report and the truth annotations the event adds to this reading."""
        if event is None:
            return natural, {}
        if event.sensor_type is not None and event.sensor_type != sensor_type:
            return natural, {}
        name, phase = event.name, event.phase
        notes: dict[str, Any] = {"scenario": name, "phase": phase, "event_id": event.event_id}
        value = natural
        if name == sc.EXCURSION and phase == "warning":
            value = self.rng.uniform(event.values["warning_low"], event.values["warning_high"])
        elif (name == sc.EXCURSION and phase == "critical") or (name == sc.SPIKE and phase == "peak"):
            value = self.rng.uniform(event.values["low"], event.values["high"])
        elif name in (sc.EXCURSION, sc.SPIKE) and phase == "recovery":
            # Back to the natural signal and held there, so the way back is one step and then level.
            value = event.values.setdefault("recovery", natural)
        elif name == sc.STUCK and phase == "start":
            event.values["stuck"] = natural
        elif name == sc.STUCK and phase == "hold":
            value = event.values["stuck"]
        elif name == sc.DROPOUT and phase == "recovery" and self.last_sent_ms is not None:
            notes["gap_ms"] = t - self.last_sent_ms  # device time since the readings before the silence
        elif name == sc.DROPOUT and event.values.get("trailing"):
            assert self.silent_from_ms is not None
            notes.update(trailing=True, silent_from_ms=self.silent_from_ms)
        elif name == sc.CLOCK_SKEW:
            notes["skew_ms"] = event.values["skew"] if phase != "recovery" else 0
        elif name in (sc.DUPLICATE, sc.UNKNOWN_DEVICE):
            return natural, {}  # the extra record carries the scenario; this reading is ordinary
        elif name == sc.LATE:
            notes.pop("phase")
        return value, notes

    # --- records --------------------------------------------------------------------------------------

    def _reading(self, t: int, sensor_type: str, natural: float, event: _Event | None) -> SimRecord:
        value, notes = self._shape(t, sensor_type, natural, event)
        unit = self.spec.units[sensor_type]
        convert, decimals = _FROM_CANONICAL[unit]
        device_value = round(convert(value), decimals)
        skew = notes.get("skew_ms", 0)
        timestamp = t + self.rng.randrange(40) + skew
        reading = {
            "device_id": self.spec.device_id,
            "sensor_type": sensor_type,
            "value": float(device_value),
            "unit": unit,
            "timestamp": timestamp,
            "seq": self.seq,
            "battery_pct": self.battery.at(t) if self.battery is not None else None,
            "firmware": self.firmware,
        }
        self.seq += 1
        kind = sc.KIND_VALID
        if skew and timestamp > self.shared.end_ms + 5 * MINUTE_MS:
            kind = sc.KIND_CLOCK_SKEW
        truth = _truth(reading, kind, t)
        truth.update(notes)
        if kind == sc.KIND_CLOCK_SKEW:
            truth["expected_reason"] = "timestamp_out_of_range"
        else:
            self.last_reading[sensor_type] = (timestamp, truth["canonical_value"])
        if event is not None and event.prediction is not None and event.sensor_type == sensor_type:
            rank = _RANK_OF_PHASE.get(event.phase, CLEAR)
            truth["expected_transitions"] = event.prediction.observe(
                timestamp, truth["canonical_value"], rank
            )
        return SimRecord(self.spec.device_id, self.shared.encoder.encode(reading), truth)

    def _malformed(self, rec: SimRecord) -> SimRecord:
        shared = self.shared
        kind = self.rng.choices(shared.malformed_names, shared.malformed_weights)[0]
        reading = _reading_of(rec.truth)
        data = malformed_payload(kind, reading, rec.data, self.rng)
        truth = _truth(reading, sc.KIND_MALFORMED, rec.truth["tick_ms"])
        truth.update(scenario=sc.MALFORMED, malformed=kind, expected_reason=sc.MALFORMED_REASON[kind])
        truth.update(canonical_value=None, canonical_unit=None, expected_level=None)
        return SimRecord(rec.partition_key, data, truth)

    def _duplicate(self, original: SimRecord, event: _Event) -> SimRecord:
        truth = dict(original.truth)
        truth.pop("expected_transitions", None)  # the high-water mark skips it: it causes nothing
        truth.update(
            kind=sc.KIND_DUPLICATE,
            outcome=sc.OUTCOME_DUPLICATE,
            scenario=sc.DUPLICATE,
            event_id=event.event_id,
            duplicate_of_seq=original.truth["seq"],
        )
        return SimRecord(original.partition_key, original.data, truth)

    def _ghost(self, t: int, event: _Event) -> SimRecord:
        ghost_id = self.shared.next_ghost_id()
        sensor_type = self.rng.choice(self.spec.sensor_types)
        profile = PROFILES[sensor_type]
        value = round(self.rng.uniform(*profile.normal), profile.decimals)
        reading = {
            "device_id": ghost_id,
            "sensor_type": sensor_type,
            "value": float(value),
            "unit": canonical_unit(sensor_type),
            "timestamp": t + self.rng.randrange(40),
            "seq": self.rng.randrange(1000),
            "battery_pct": None,
            "firmware": "0.9.0",
        }
        truth = _truth(reading, sc.KIND_UNKNOWN_DEVICE, t)
        truth.update(scenario=sc.UNKNOWN_DEVICE, event_id=event.event_id, expected_reason="unknown_device")
        return SimRecord(ghost_id, self.shared.encoder.encode(reading), truth)


_RANK_OF_PHASE = {"warning": WARNING, "critical": CRITICAL, "peak": CRITICAL, "recovery": CLEAR}


def _truth(reading: dict[str, Any], kind: str, tick_ms: int) -> dict[str, Any]:
    canonical_value, canonical_unit = normalise(reading["sensor_type"], reading["value"], reading["unit"])
    return {
        "device_id": reading["device_id"],
        "seq": reading["seq"],
        "kind": kind,
        "scenario": None,
        "outcome": sc.OUTCOME[kind],
        "expected_reason": None,
        "sensor_type": reading["sensor_type"],
        "value": reading["value"],
        "unit": reading["unit"],
        "timestamp_ms": reading["timestamp"],
        "tick_ms": tick_ms,
        "canonical_value": canonical_value,
        "canonical_unit": canonical_unit,
        "expected_level": sc.level(reading["sensor_type"], canonical_value),
    }


def _reading_of(truth: dict[str, Any]) -> dict[str, Any]:
    return {
        "device_id": truth["device_id"],
        "sensor_type": truth["sensor_type"],
        "value": truth["value"],
        "unit": truth["unit"],
        "timestamp": truth["timestamp_ms"],
        "seq": truth["seq"],
    }
