"""One device's readings, tick by tick: its signals, the scenario it is in, and every record it sends.

It exists to hold the mechanics of a device apart from the story of its scenarios (``planning``) and
the run that merges the fleet (``generator``): a ``DeviceSim`` draws from its own
``random.Random(f"{seed}:{device_id}")`` (shared with its ``ScenarioPlanner``), so its records depend on
nothing but the seed, the start and its spec. Each tick it shapes the natural signals by the event under
way, encodes the readings in the unit the device reports in, and adds the records a scenario calls for
(a malformed twin, a duplicate, a ghost device's reading, late readings held back), each with its truth.

Truth assumes the records arrive shortly after the end of device time (``end_ms``): a reading stamped
more than 5 minutes past it is one ingest rejects (``timestamp_out_of_range``).
"""

from __future__ import annotations

import random
from typing import Any

from sensorflow.core.units import canonical_unit, normalise
from sensorflow.simulate import scenarios as sc
from sensorflow.simulate import wire
from sensorflow.simulate.fleet import DeviceSpec
from sensorflow.simulate.payloads import malformed_payload
from sensorflow.simulate.planning import Event, ScenarioPlanner
from sensorflow.simulate.prediction import CLEAR, RANK_OF_PHASE
from sensorflow.simulate.signals import PROFILES, SITE_UTC_OFFSET_H, Battery, SignalModel
from sensorflow.simulate.sim_types import MINUTE_MS, Shared, SimConfig, SimRecord

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


class DeviceSim:
    """One device of the run: ``tick`` gives the records of a reporting tick, ``flush`` those held back."""

    def __init__(
        self, spec: DeviceSpec, cfg: SimConfig, shared: Shared, firmware: wire.Firmware | None = None
    ) -> None:
        assert cfg.start_ms is not None
        self.spec = spec
        self.shared = shared
        self.wire = firmware or shared.firmware(0)
        self._raw: dict[int, bytes] = {}  # seq -> the reading as raw Avro (a malformed twin's source)
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
        self.plan = ScenarioPlanner(spec, shared, self.rng, self.interval_ms, self.next_tick_ms)
        self.event: Event | None = None
        self.last_sent_ms: int | None = None
        self.last_reading: dict[str, tuple[int, float]] = {}  # sensor -> (timestamp, canonical value)
        self.held: list[tuple[int, SimRecord]] = []  # (release tick, record) for late readings

    # --- per tick ---------------------------------------------------------------------------------

    def tick(self, t: int) -> list[SimRecord]:
        self.next_tick_ms = t + self.interval_ms
        cfg = self.shared.cfg
        silent_from_ms = self.plan.silent_from_ms
        if silent_from_ms is not None and t >= silent_from_ms:
            return []
        if self.event is None:
            self.event = self.plan.next_event(t, bool(self.held), self.last_reading)
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
        self._raw.clear()
        return self._aggregated(out, t)

    def flush(self) -> list[SimRecord]:
        """Late readings still buffered when device time ends are sent last."""
        out = [rec for _, rec in self.held]
        self.held = []
        return self._aggregated(out, "end")

    def _aggregated(self, out: list[SimRecord], tick: int | str) -> list[SimRecord]:
        """A KPL device sends a tick's records as the sub-records of one aggregated record."""
        if self.wire.format == wire.KPL:
            for rec in out:
                rec.truth["aggregate"] = f"{self.spec.device_id}@{tick}"
        return out

    def _release(self, t: int) -> list[SimRecord]:
        due = [rec for release, rec in self.held if release <= t]
        self.held = [(release, rec) for release, rec in self.held if release > t]
        return due

    def _advance_event(self) -> None:
        if self.event is not None:
            self.event.index += 1
            if self.event.index >= len(self.event.phases):
                self.event = None
                self.plan.finished()

    def _shape(
        self, t: int, sensor_type: str, natural: float, event: Event | None
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
            assert self.plan.silent_from_ms is not None
            notes.update(trailing=True, silent_from_ms=self.plan.silent_from_ms)
        elif name == sc.CLOCK_SKEW:
            notes["skew_ms"] = event.values["skew"] if phase != "recovery" else 0
        elif name in (sc.DUPLICATE, sc.UNKNOWN_DEVICE):
            return natural, {}  # the extra record carries the scenario; this reading is ordinary
        elif name == sc.LATE:
            notes.pop("phase")
        return value, notes

    # --- records --------------------------------------------------------------------------------------

    def _reading(self, t: int, sensor_type: str, natural: float, event: Event | None) -> SimRecord:
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
        if self.wire.version >= 2:  # fields v2 added: a first-generation device has neither
            pct = reading["battery_pct"]
            reading.update(
                firmware_generation=self.wire.version,
                battery_mv=None if pct is None else round(3_000 + 12 * pct),
            )
        self.seq += 1
        kind = sc.KIND_VALID
        if skew and timestamp > self.shared.end_ms + 5 * MINUTE_MS:
            kind = sc.KIND_CLOCK_SKEW
        truth = _truth(reading, kind, t)
        truth.update(notes, format=self.wire.format, schema_version=self.wire.version)
        if kind == sc.KIND_CLOCK_SKEW:
            truth["expected_reason"] = "timestamp_out_of_range"
        else:
            self.last_reading[sensor_type] = (timestamp, truth["canonical_value"])
        if event is not None and event.prediction is not None and event.sensor_type == sensor_type:
            rank = RANK_OF_PHASE.get(event.phase, CLEAR)
            truth["expected_transitions"] = event.prediction.observe(
                timestamp, truth["canonical_value"], rank
            )
        raw = self.shared.encoder.encode(reading)
        self._raw[reading["seq"]] = raw
        data = raw if self.wire.format in (wire.RAW, wire.KPL) else self.wire.encode(reading)
        return SimRecord(self.spec.device_id, data, truth)

    def _unframed(self) -> str:
        """The format of the records this device sends unframed (malformed twins, ghosts' readings)."""
        return wire.KPL if self.wire.format == wire.KPL else wire.RAW

    def _malformed(self, rec: SimRecord) -> SimRecord:
        shared = self.shared
        kind = self.rng.choices(shared.malformed_names, shared.malformed_weights)[0]
        reading = _reading_of(rec.truth)
        data = malformed_payload(kind, reading, self._raw[rec.truth["seq"]], self.rng)
        truth = _truth(reading, sc.KIND_MALFORMED, rec.truth["tick_ms"])
        truth.update(scenario=sc.MALFORMED, malformed=kind, expected_reason=sc.MALFORMED_REASON[kind])
        truth.update(format=self._unframed(), schema_version=self.shared.raw_version)
        truth.update(canonical_value=None, canonical_unit=None, expected_level=None)
        return SimRecord(rec.partition_key, data, truth)

    def _duplicate(self, original: SimRecord, event: Event) -> SimRecord:
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

    def _ghost(self, t: int, event: Event) -> SimRecord:
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
        if self.shared.raw_version >= 2:
            reading["firmware_generation"] = self.shared.raw_version
        truth = _truth(reading, sc.KIND_UNKNOWN_DEVICE, t)
        truth.update(scenario=sc.UNKNOWN_DEVICE, event_id=event.event_id, expected_reason="unknown_device")
        truth.update(format=self._unframed(), schema_version=self.shared.raw_version)
        return SimRecord(ghost_id, self.shared.encoder.encode(reading), truth)


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
