"""Scenario planning: which scenario a device runs when, and what shape it takes.

It exists to keep the story of a scenario apart from the mechanics of producing readings
(``device_sim``): a ``ScenarioPlanner`` decides on each quiet tick of its device whether a scenario
starts (a cooldown, a forced one that is due, else a random one at ``scenario_rate``) and builds its
``Event``; ``force`` places the forced scenarios of a run up front.

Alarm scenarios are shaped for the rules (``sensorflow/rules.json``): an excursion jumps to a warning
plateau that outlasts the rule's debounce (for_seconds or M-of-N, plus two readings), usually a critical
plateau as long, then back to the natural value held level inside the clear band until it has cleared;
a spike is one critical reading on a sensor whose rule debounces it. Each such reading carries
``expected_transitions`` (see ``sensorflow.simulate.truth``) from the event's ``Prediction`` (module
``prediction``). After any scenario a device stays quiet for a few ticks so the next one starts on a
quiet alarm.

Every draw comes from the device's own ``random.Random`` (the planner shares it with its
``DeviceSim``), except ``force``'s, which come from ``f"{seed}:forced"``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from sensorflow.simulate import scenarios as sc
from sensorflow.simulate.errors import SimulationError
from sensorflow.simulate.fleet import DeviceSpec
from sensorflow.simulate.prediction import Prediction
from sensorflow.simulate.sim_types import MINUTE_MS, Shared, SimConfig
from sensorflow.simulate.truth import SensorRule

# Truth assumes the records arrive shortly after the end of device time (``end_ms``, which is "now" by
# default). A large clock skew lands this far past end_ms: comfortably beyond the +5 min ingest window
# even if publishing takes a few minutes. Small skews stay within SMALL_SKEW_MS of true time.
LARGE_SKEW_MS = (10 * MINUTE_MS, 3 * 60 * MINUTE_MS)
SMALL_SKEW_MS = (-10 * MINUTE_MS, 4 * MINUTE_MS)


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
class Event:
    """An injected scenario in progress on one device: one phase per tick."""

    name: str
    event_id: str
    phases: list[str]
    sensor_type: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    index: int = 0
    prediction: Prediction | None = None  # excursions and spikes: what the alarm will announce

    @property
    def phase(self) -> str:
        return self.phases[self.index]


class ScenarioPlanner:
    """When one device starts a scenario, and which: its forced plan, its cooldown, its event numbering."""

    def __init__(
        self, spec: DeviceSpec, shared: Shared, rng: random.Random, interval_ms: int, first_tick_ms: int
    ) -> None:
        self.spec = spec
        self.shared = shared
        self.rng = rng  # the device's own: planning draws interleave with the readings'
        self.interval_ms = interval_ms
        self.first_tick_ms = first_tick_ms
        self.events_started = 0
        self.cooldown = 0
        self.forced = False  # a forced scenario owns this device: no random ones
        # (tick, sensor type, readings of a held excursion or None for one that completes)
        self.forced_excursion: tuple[int, str, int | None] | None = None
        self.silent_from_ms: int | None = None  # trailing dropout: no reading at or after this tick

    # --- forced scenarios (see force) -------------------------------------------------------------------

    def _tick_count(self) -> int:
        return max(0, math.ceil((self.shared.end_ms - self.first_tick_ms) / self.interval_ms))

    def force_excursion(
        self, rng: random.Random, sensor_type: str | None = None, held: bool = False
    ) -> float | None:
        """Plan an excursion that completes inside the run (on ``sensor_type`` if given); else return the
        duration (s) it would need. ``held``: it starts on the second tick, raises, escalates and holds
        critical to the end of the run instead (an alarm still active when the run ends)."""
        ticks = self._tick_count()
        fits, shortest = [], math.inf
        for candidate, _direction in self._excursion_candidates():
            if sensor_type is not None and candidate != sensor_type:
                continue
            rule = self.shared.rules[candidate]
            length = (
                2 * hold_ticks(rule, self.interval_ms)
                if held
                else len(excursion_phases(rule, self.interval_ms))
            )
            shortest = min(shortest, length)
            if length + 1 <= ticks:
                fits.append((candidate, length))
        if not fits:
            return (shortest + 2) * self.interval_ms / 1000 if shortest < math.inf else math.inf
        chosen, length = rng.choice(fits)
        start_index = 1 if held else rng.randint(1, ticks - length)
        self.forced = True
        self.forced_excursion = (
            self.first_tick_ms + start_index * self.interval_ms,
            chosen,
            ticks - start_index if held else None,
        )
        return None

    def force_trailing_dropout(self, rng: random.Random) -> float | None:
        """Plan a final silence of at least stale_after + 60 s; else return the duration it would need."""
        stale = [self.shared.rules[st].stale_after_s for st in self.spec.sensor_types]
        if not stale or any(s is None for s in stale):
            return math.inf  # a sensor without a staleness rule: never stale
        silence_ms = max(s or 0 for s in stale) * 1000 + 60_000 + rng.randint(0, 120_000) + 40
        silent_from = self.shared.end_ms - silence_ms
        if silent_from <= self.first_tick_ms + self.interval_ms:
            return (silence_ms + 3 * self.interval_ms) / 1000
        self.forced = True
        self.silent_from_ms = silent_from
        return None

    # --- starting a scenario ------------------------------------------------------------------------

    def next_event(self, t: int, held: bool, last_reading: Mapping[str, tuple[int, float]]) -> Event | None:
        """With no scenario under way: sit out a cooldown, else start a forced scenario that is due,
        else (unforced, nothing ``held`` back) a random one at ``scenario_rate``.

        ``last_reading`` is the device's sensor -> (timestamp, canonical value) of its latest reading.
        """
        event = None
        if self.cooldown:
            self.cooldown -= 1
        elif self.forced:
            if self.forced_excursion is not None and t >= self.forced_excursion[0]:
                _, sensor_type, held_ticks = self.forced_excursion
                event = self._excursion(sensor_type, sc.LEVEL_CRITICAL, last_reading, held_ticks=held_ticks)
                self.forced_excursion = None
            elif self.silent_from_ms is not None and t + self.interval_ms >= self.silent_from_ms:
                self.events_started += 1
                event_id = f"{self.spec.device_id}:{sc.DROPOUT}:{self.events_started}"
                event = Event(sc.DROPOUT, event_id, ["start"], values={"trailing": 1})
        elif not held and self.rng.random() < self.shared.cfg.scenario_rate:
            event = self._random_event(t, last_reading)
        return event

    def finished(self) -> None:
        """The scenario under way has ended: sit out the cooldown before the next one."""
        self.cooldown = self.shared.cooldown_ticks

    def _excursion_candidates(self) -> list[tuple[str, str]]:
        return [
            (st, d)
            for st in self.spec.sensor_types
            for d in ("high", "low")
            if (st, d) in sc.EXCURSION_TARGETS and st in self.shared.rules
        ]

    def _prediction(self, sensor_type: str, last_reading: Mapping[str, tuple[int, float]]) -> Prediction:
        rule = self.shared.rules[sensor_type]
        return Prediction(rule, rule.alarm_id(self.spec.device_id), last_reading.get(sensor_type))

    def _excursion(
        self,
        sensor_type: str,
        peak: str,
        last_reading: Mapping[str, tuple[int, float]],
        direction: str | None = None,
        held_ticks: int | None = None,
    ) -> Event:
        rng = self.rng
        if direction is None:
            direction = rng.choice([d for st, d in self._excursion_candidates() if st == sensor_type])
        warning, critical = sc.EXCURSION_TARGETS[(sensor_type, direction)]
        rule = self.shared.rules[sensor_type]
        self.events_started += 1
        phases = excursion_phases(rule, self.interval_ms, peak)
        if held_ticks is not None:  # warning plateau, then critical to the end: no recovery
            k = hold_ticks(rule, self.interval_ms)
            phases = ["warning"] * k + ["critical"] * (held_ticks - k)
        return Event(
            sc.EXCURSION,
            f"{self.spec.device_id}:{sc.EXCURSION}:{self.events_started}",
            phases,
            sensor_type,
            {
                "warning_low": warning[0],
                "warning_high": warning[1],
                "low": critical[0],
                "high": critical[1],
            },
            prediction=self._prediction(sensor_type, last_reading),
        )

    def _random_event(self, t: int, last_reading: Mapping[str, tuple[int, float]]) -> Event | None:
        shared, rng = self.shared, self.rng
        name = rng.choices(shared.scenario_names, shared.scenario_weights)[0]
        if name == sc.EXCURSION:
            candidates = self._excursion_candidates()
            if not candidates:
                return None
            sensor_type, direction = rng.choice(candidates)
            peak = sc.LEVEL_CRITICAL if rng.random() < 0.75 else sc.LEVEL_WARNING
            return self._excursion(sensor_type, peak, last_reading, direction)
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
            return Event(
                name,
                event_id,
                ["peak", "recovery", "recovery"],
                sensor_type,
                {"low": low, "high": high},
                prediction=self._prediction(sensor_type, last_reading),
            )
        if name == sc.STUCK:
            sensor_type = rng.choice(self.spec.sensor_types)
            return Event(name, event_id, ["start", *["hold"] * rng.randint(5, 20), "recovery"], sensor_type)
        if name == sc.DROPOUT:
            return Event(name, event_id, ["start", *["silent"] * rng.randint(5, 30), "recovery"])
        if name == sc.CLOCK_SKEW:
            if rng.random() < 0.5:
                skew = rng.randint(*SMALL_SKEW_MS)
                skew = skew if abs(skew) >= 10_000 else 10_000
            else:
                skew = (shared.end_ms - t) + rng.randint(*LARGE_SKEW_MS)
            return Event(
                name, event_id, ["start", *["hold"] * rng.randint(2, 9), "recovery"], values={"skew": skew}
            )
        # late, duplicate and unknown_device act on a single tick
        return Event(name, event_id, ["once"])


def force(planners: list[ScenarioPlanner], cfg: SimConfig) -> None:
    """Give ``min_excursions`` devices an excursion that completes (the first ones of the sensor types
    ``excursion_types`` names), one device per ``held_excursion_types`` entry an excursion held to the
    end, and ``trailing_dropouts`` a final silence.

    ``planners`` are the run's devices' planners in fleet order, before the first tick. Devices are taken
    in a seeded random order (the typed excursions first); a device whose interval leaves no room in the
    duration, or that lacks the sensor type, is passed over, and too few that fit is an error that says
    how long the run must be.
    """
    if not cfg.min_excursions and not cfg.trailing_dropouts and not cfg.held_excursion_types:
        return
    rng = random.Random(f"{cfg.seed}:forced")
    order = list(range(len(planners)))
    rng.shuffle(order)
    typed = [(st, False) for st in cfg.excursion_types] + [(st, True) for st in cfg.held_excursion_types]
    for sensor_type, held in typed:
        planner = next(
            (
                planners[i]
                for i in order
                if not planners[i].forced and planners[i].force_excursion(rng, sensor_type, held) is None
            ),
            None,
        )
        if planner is None:
            kind = "held excursion" if held else "excursion"
            raise SimulationError(
                f"no device of the first {len(planners)} has room for a forced {kind} on {sensor_type} in "
                f"{cfg.duration_s:g} s of device time; use more devices or a longer --duration"
            )
    excursions, dropouts = len(cfg.excursion_types), 0
    needed_s = 0.0
    for index in order:
        planner = planners[index]
        if planner.forced:
            continue
        # each returns None when the scenario was forced on the device, else the duration it would need
        if excursions < cfg.min_excursions:
            need = planner.force_excursion(rng)
            if need is None:
                excursions += 1
                continue
            needed_s = max(needed_s, need)
        if dropouts < cfg.trailing_dropouts:
            need = planner.force_trailing_dropout(rng)
            if need is None:
                dropouts += 1
                continue
            needed_s = max(needed_s, need)
    if excursions < cfg.min_excursions or dropouts < cfg.trailing_dropouts:
        raise SimulationError(
            f"only {excursions} of min_excursions {cfg.min_excursions} and {dropouts} of trailing_dropouts "
            f"{cfg.trailing_dropouts} fit in {cfg.duration_s:g} s of device time on {len(planners)} devices; "
            f"use --duration {math.ceil(needed_s)} or more (or more devices, or fewer forced scenarios)"
        )
