"""What a simulation run is and makes: its configuration, its records, and the state its devices share.

It exists so the lowest layer of the simulator has no simulation in it: ``SimConfig`` (with the
validation behind ``resolved()``), ``SimRecord`` and ``Shared`` are what scenario planning
(``planning``), the per-device simulation (``device_sim``) and the run (``generator``) all build on,
and what the CLI, the run configuration and the manifest need without pulling in the simulation.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sensorflow.core import schemas
from sensorflow.simulate import scenarios as sc
from sensorflow.simulate import wire
from sensorflow.simulate.errors import SimulationError
from sensorflow.simulate.fleet import DeviceSpec, load_fleet
from sensorflow.simulate.payloads import ReadingEncoder
from sensorflow.simulate.signals import SiteProcess
from sensorflow.simulate.truth import load_sensor_rules

MINUTE_MS = 60_000
# Readings older than 7 days are rejected by ingest (and outlive Kinesis retention); keep an hour to publish.
MAX_DURATION_S = 7 * 86_400 - 3_600
MIN_INTERVAL_S = 1.0
DEFAULT_DURATION_S = 600.0
DEFAULT_MALFORMED_RATE = 0.01
DEFAULT_SCENARIO_RATE = 0.005


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
    # The sensor types the first forced excursions take, in order (each on a device that has the type):
    # a run that must show one rule's behaviour, e.g. a latched vibration alarm.
    excursion_types: tuple[str, ...] = ()
    # Forced excursions that raise and escalate early and hold critical to the end (an alarm still active
    # when the run ends, e.g. for reminders): one per sensor type listed, each on a device of its own.
    held_excursion_types: tuple[str, ...] = ()
    # What the devices' firmware sends (``sensorflow.simulate.wire``): formats and schema versions are
    # spread over the fleet, one per device, in order. () = the current version only. Raw and KPL devices
    # write ``raw_schema_version`` (None: the current one), what the stage's ingest reads raw bytes as.
    formats: tuple[str, ...] = (wire.RAW,)
    schema_versions: tuple[int, ...] = ()
    raw_schema_version: int | None = None
    # Glue schema version ids by version, as the stage's registry assigned them; None: placeholders.
    glue_version_ids: Mapping[int, uuid.UUID] | None = None

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
    held = len(cfg.held_excursion_types)
    if cfg.min_excursions + cfg.trailing_dropouts + held > devices:
        also = f" + {held} held excursions" if held else ""
        raise SimulationError(
            f"min_excursions + trailing_dropouts ({cfg.min_excursions} + {cfg.trailing_dropouts}){also} must "
            f"not exceed the {devices} devices: each forced scenario needs a device of its own"
        )
    _check_excursion_types(cfg)
    _check_wire(cfg)
    _check_mix("scenario mix", cfg.scenario_mix, sc.SCENARIOS)
    _check_mix("malformed mix", cfg.malformed_mix, sc.MALFORMED_KINDS)


def _check_excursion_types(cfg: SimConfig) -> None:
    if len(cfg.excursion_types) > cfg.min_excursions:
        raise SimulationError(
            f"excursion_types names {len(cfg.excursion_types)} sensor types for {cfg.min_excursions} "
            "forced excursions (min_excursions); name at most one per forced excursion"
        )
    known = sorted({st for st, _ in sc.EXCURSION_TARGETS})
    for st in (*cfg.excursion_types, *cfg.held_excursion_types):
        if st not in known:
            raise SimulationError(
                f"excursion sensor type {st!r} has no excursion shape; choose from {', '.join(known)}"
            )


def _check_wire(cfg: SimConfig) -> None:
    if not cfg.formats or any(f not in wire.FORMATS for f in cfg.formats):
        raise SimulationError(
            f"formats (--format) must be a non-empty list from {', '.join(wire.FORMATS)}; got {cfg.formats!r}"
        )
    known = wire.history_versions()
    versions = (*cfg.schema_versions, *(() if cfg.raw_schema_version is None else (cfg.raw_schema_version,)))
    bad = [v for v in versions if v not in known]
    if bad:
        raise SimulationError(
            f"schema versions (--schema-versions, --raw-schema-version) must be kept versions "
            f"{', '.join(map(str, known))} of {schemas.READING}; got {', '.join(map(str, bad))}"
        )
    ids = cfg.glue_version_ids
    missing = [v for v in cfg.schema_versions or known[-1:] if ids is not None and v not in ids]
    if missing and any(f in (wire.GLUE, wire.GLUE_ZLIB) for f in cfg.formats):
        raise SimulationError(f"the registry has no Glue schema version id for version(s) {missing}")


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


class Shared:
    """State shared by every device of one run: the encoder, site processes, rules and ghost numbering."""

    def __init__(self, cfg: SimConfig) -> None:
        assert cfg.start_ms is not None
        self.cfg = cfg
        self.end_ms = cfg.end_ms
        current = wire.current_version()
        self.raw_version = cfg.raw_schema_version or current
        self.encoder = ReadingEncoder(
            None if self.raw_version == current else schemas.version(self.raw_version)
        )
        self._glue_ids = (
            cfg.glue_version_ids if cfg.glue_version_ids is not None else wire.placeholder_glue_ids()
        )
        self._confluent_ids = wire.confluent_ids()
        self._versions = cfg.schema_versions or (current,)
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

    def firmware(self, index: int) -> wire.Firmware:
        """The firmware of the fleet's ``index``-th device (``sensorflow.simulate.wire``)."""
        formats = self.cfg.formats
        fmt = formats[index % len(formats)]
        if fmt in wire.SELF_DESCRIBING:
            version = self._versions[(index // len(formats)) % len(self._versions)]
        else:
            version = self.raw_version
        return wire.firmware(fmt, version, self._glue_ids, self._confluent_ids)

    def site_process(self, site: str, process: str) -> SiteProcess:
        key = (site, process)
        if key not in self._sites:
            self._sites[key] = SiteProcess(random.Random(f"{self.cfg.seed}:site:{site}:{process}"))
        return self._sites[key]

    def next_ghost_id(self) -> str:
        self._ghosts += 1
        return f"ghost-{self._ghosts:05d}"
