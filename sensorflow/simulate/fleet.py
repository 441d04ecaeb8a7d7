"""The simulated fleet: device specs, the committed default fleet and its registry items.

``fleet.json`` next to this module is the default fleet (200 devices on five sites). The local cloud
seeds the DynamoDB device registry from it, so a simulated reading from ``dev-00042`` enriches,
while a ``ghost-*`` device does not. ``build_default_fleet()`` regenerates the file
(``python -m sensorflow.simulate.fleet``); a unit test keeps the two identical.
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorflow.core.checks import DEVICE_ID_PATTERN, PLAUSIBLE_RANGE
from sensorflow.core.units import accepted_units
from sensorflow.jsonfile import read_json
from sensorflow.simulate.errors import SimulationError

DEFAULT_FLEET_PATH = Path(__file__).with_name("fleet.json")
DEFAULT_FLEET_SIZE = 200
SENSOR_TYPES: tuple[str, ...] = tuple(PLAUSIBLE_RANGE)  # temperature, humidity, pressure, vibration, co2
FLEET_KEYS = ("device_id", "site", "location", "model", "owner_team", "sensor_types", "interval_s", "units")
MAX_INTERVAL_S = 86_400


class FleetError(SimulationError):
    """A fleet file or fleet entry that cannot be used; the message names the entry and the field."""


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device of the fleet: registry attributes plus what it measures, in which units, how often."""

    device_id: str
    site: str
    location: str
    model: str
    owner_team: str
    sensor_types: tuple[str, ...]
    interval_s: float
    units: Mapping[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The ``fleet.json`` object for this device."""
        return {
            "device_id": self.device_id,
            "site": self.site,
            "location": self.location,
            "model": self.model,
            "owner_team": self.owner_team,
            "sensor_types": list(self.sensor_types),
            "interval_s": self.interval_s,
            "units": dict(self.units),
        }


def load_fleet(path: str | Path | None = None) -> list[DeviceSpec]:
    """Load and validate a fleet file (default: the committed ``fleet.json``)."""
    fleet_path = Path(path) if path is not None else DEFAULT_FLEET_PATH
    raw = read_json(fleet_path, f"fleet file {fleet_path}", FleetError)
    return parse_fleet(raw, source=str(fleet_path))


def parse_fleet(raw: Any, source: str = "fleet") -> list[DeviceSpec]:
    """Validate a JSON fleet (a list of device objects) and return its specs, in file order."""
    if not isinstance(raw, list) or not raw:
        raise FleetError(f"{source}: expected a non-empty JSON list of device objects")
    fleet: list[DeviceSpec] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        spec = _parse_device(item, f"{source}[{index}]")
        if spec.device_id in seen:
            raise FleetError(f"{source}[{index}]: device_id {spec.device_id!r} appears more than once")
        seen.add(spec.device_id)
        fleet.append(spec)
    return fleet


def registry_items(fleet: Sequence[DeviceSpec]) -> list[dict[str, Any]]:
    """The DynamoDB device-registry items for ``fleet`` (plain Python types, keyed by ``device_id``)."""
    return [
        {
            "device_id": d.device_id,
            "site": d.site,
            "location": d.location,
            "model": d.model,
            "owner_team": d.owner_team,
            "sensor_types": list(d.sensor_types),
        }
        for d in fleet
    ]


def _parse_device(item: Any, where: str) -> DeviceSpec:
    if not isinstance(item, dict):
        raise FleetError(f"{where}: expected an object with keys {', '.join(FLEET_KEYS)}")
    missing = [k for k in FLEET_KEYS if k not in item]
    if missing:
        raise FleetError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(item) - set(FLEET_KEYS))
    if unknown:
        raise FleetError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(FLEET_KEYS)}")
    device_id = item["device_id"]
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise FleetError(f"{where}: device_id {device_id!r} must match {DEVICE_ID_PATTERN.pattern}")
    for key in ("site", "location", "model", "owner_team"):
        if not isinstance(item[key], str) or not item[key]:
            raise FleetError(f"{where} ({device_id}): {key} must be a non-empty string")
    sensor_types = item["sensor_types"]
    if (
        not isinstance(sensor_types, list)
        or not sensor_types
        or len(set(sensor_types)) != len(sensor_types)
        or any(s not in SENSOR_TYPES for s in sensor_types)
    ):
        raise FleetError(
            f"{where} ({device_id}): sensor_types must be a non-empty list of distinct values from "
            f"{', '.join(SENSOR_TYPES)}; got {sensor_types!r}"
        )
    interval = item["interval_s"]
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not 1 <= interval <= MAX_INTERVAL_S
    ):
        raise FleetError(
            f"{where} ({device_id}): interval_s must be a number of seconds in 1..{MAX_INTERVAL_S}"
        )
    units = item["units"]
    if not isinstance(units, dict) or set(units) != set(sensor_types):
        raise FleetError(f"{where} ({device_id}): units must map exactly the sensor_types to a unit each")
    for sensor_type, unit in units.items():
        if unit not in accepted_units(sensor_type):
            raise FleetError(
                f"{where} ({device_id}): unit {unit!r} is not valid for {sensor_type}; "
                f"use one of {', '.join(accepted_units(sensor_type))}"
            )
    return DeviceSpec(
        device_id=device_id,
        site=item["site"],
        location=item["location"],
        model=item["model"],
        owner_team=item["owner_team"],
        sensor_types=tuple(sensor_types),
        interval_s=interval,
        units=dict(units),
    )


# --- the default fleet -------------------------------------------------------------------------------

# model -> (sensor types, owner team, reporting intervals to pick from, location templates)
_MODELS: dict[str, tuple[tuple[str, ...], str, tuple[int, ...], tuple[str, ...]]] = {
    "TH-200": (
        ("temperature", "humidity"),
        "facilities",
        (30, 60),
        ("office/floor-{a}", "warehouse/aisle-{b}", "lab/bench-{b}"),
    ),
    "PX-50": (("pressure", "temperature"), "plant-ops", (10, 15), ("line-{a}/press-{b}", "compressor-{a}")),
    "VB-10": (
        ("vibration", "temperature"),
        "maintenance",
        (10,),
        ("line-{a}/motor-{b}", "line-{a}/pump-{b}"),
    ),
    "AQ-7": (("co2", "temperature", "humidity"), "facilities", (60,), ("office/floor-{a}/room-{b}",)),
    "ENV-3": (("temperature", "humidity", "pressure"), "quality", (30,), ("line-{a}/cabinet-{b}",)),
}
_MODEL_WEIGHTS = {"TH-200": 5, "PX-50": 3, "VB-10": 3, "AQ-7": 2, "ENV-3": 2}
_SITES = ("site-a", "site-b", "site-c", "site-d", "site-e")
# site-c is a US plant: its instruments read Fahrenheit and in/s.
_IMPERIAL_SITES = frozenset({"site-c"})
_DEFAULT_FLEET_SEED = 20_240_601


def build_default_fleet(count: int = DEFAULT_FLEET_SIZE, seed: int = _DEFAULT_FLEET_SEED) -> list[DeviceSpec]:
    """Deterministically build the default fleet that ``fleet.json`` holds."""
    rng = random.Random(seed)
    models = list(_MODEL_WEIGHTS)
    weights = list(_MODEL_WEIGHTS.values())
    fleet = []
    for n in range(count):
        site = _SITES[n % len(_SITES)]
        model = rng.choices(models, weights)[0]
        sensor_types, team, intervals, locations = _MODELS[model]
        location = rng.choice(locations).format(a=rng.randint(1, 4), b=rng.randint(1, 12))
        units = {}
        for sensor_type in sensor_types:
            unit = {
                "temperature": "C",
                "humidity": "%RH",
                "pressure": "hPa",
                "vibration": "mm/s",
                "co2": "ppm",
            }[sensor_type]
            if site in _IMPERIAL_SITES and sensor_type == "temperature":
                unit = "F"
            elif site in _IMPERIAL_SITES and sensor_type == "vibration":
                unit = "in/s"
            elif sensor_type == "pressure" and rng.random() < 0.4:
                unit = "kPa"
            elif sensor_type == "temperature" and rng.random() < 0.05:
                unit = "F"
            units[sensor_type] = unit
        fleet.append(
            DeviceSpec(
                device_id=f"dev-{n:05d}",
                site=site,
                location=location,
                model=model,
                owner_team=team,
                sensor_types=sensor_types,
                interval_s=rng.choice(intervals),
                units=units,
            )
        )
    return fleet


def fleet_json(fleet: Sequence[DeviceSpec]) -> str:
    """The canonical text of a fleet file: one device per line, stable key order."""
    lines = ",\n".join("  " + json.dumps(d.to_dict(), separators=(", ", ": ")) for d in fleet)
    return "[\n" + lines + "\n]\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_FLEET_PATH
    target.write_text(fleet_json(build_default_fleet()), encoding="utf-8")
    sys.stdout.write(f"wrote {DEFAULT_FLEET_SIZE} devices to {target}\n")
