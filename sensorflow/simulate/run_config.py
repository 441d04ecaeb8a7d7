"""The simulator's configuration: ``--config`` file and flags merged (flags win) into one ``SimConfig``.

It lives with the simulator, not its CLI, so what a config file may say is next to what the simulation
does with it. Every problem is a ``SimulationError`` naming the flag or file key; ``sensorflow simulate``
prints it as a usage error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensorflow.jsonfile import read_json
from sensorflow.simulate import scenarios, wire
from sensorflow.simulate.errors import SimulationError
from sensorflow.simulate.fleet import DEFAULT_FLEET_PATH, DeviceSpec, load_fleet, parse_fleet
from sensorflow.simulate.generator import generate
from sensorflow.simulate.sim_types import SimConfig

CONFIG_KEYS = (
    "devices",
    "duration_s",
    "interval_s",
    "seed",
    "start",
    "rate",
    "malformed_rate",
    "scenario_rate",
    "min_excursions",
    "trailing_dropouts",
    "fleet",
    "scenarios",
    "malformed",
)
# Config-file keys and flags, by the type they hold.
_FILE_INTS = ("devices", "seed", "min_excursions", "trailing_dropouts")
_FILE_NUMBERS = ("duration_s", "interval_s", "rate", "malformed_rate", "scenario_rate")
_FLAG_INTS = (("devices", 1), ("seed", 0), ("min_excursions", 0), ("trailing_dropouts", 0))
_FLAG_NUMBERS = (
    ("duration", "duration_s"),
    ("interval", "interval_s"),
    ("rate", "rate"),
    ("malformed_rate", "malformed_rate"),
    ("scenario_rate", "scenario_rate"),
)


@dataclass(slots=True)
class _Draft:
    """What the file and the flags said so far, before ``SimConfig`` validates it."""

    values: dict[str, Any] = field(default_factory=dict)
    fleet: tuple[DeviceSpec, ...] | None = None
    fleet_source: str = DEFAULT_FLEET_PATH.name
    scenario_mix: dict[str, float] = field(default_factory=lambda: dict(scenarios.DEFAULT_SCENARIO_MIX))
    malformed_mix: dict[str, float] = field(default_factory=lambda: dict(scenarios.DEFAULT_MALFORMED_MIX))


def build_config(flags: Mapping[str, Any]) -> SimConfig:
    """Merge ``--config`` and flags (flags win) into a resolved, validated ``SimConfig``.

    ``flags`` holds the ``sensorflow simulate`` options by their argparse names (``vars(args)``); a flag
    that is ``None`` was not given.
    """
    draft = _Draft()
    if flags.get("config"):
        _apply_file(draft, str(flags["config"]))
    _apply_flags(draft, flags)
    fleet = _fleet(draft)
    cfg = SimConfig(
        fleet=fleet, scenario_mix=draft.scenario_mix, malformed_mix=draft.malformed_mix, **draft.values
    ).resolved()
    generate(cfg)  # plans the forced scenarios now: one that does not fit is a configuration error
    return cfg


def _apply_file(draft: _Draft, path: str) -> None:
    raw = _read_config(Path(path))
    for key in _FILE_INTS:
        if key in raw:
            draft.values[key] = _int(raw[key], f"{path}: {key}", minimum=1 if key == "devices" else 0)
    for key in _FILE_NUMBERS:
        if key in raw:
            draft.values[key] = _number(raw[key], f"{path}: {key}")
    if "start" in raw:
        draft.values["start_ms"] = parse_start(raw["start"], f"{path}: start")
    if "fleet" in raw:
        draft.fleet = _config_fleet(raw["fleet"], Path(path))
        draft.fleet_source = f"the fleet of {path}"
    if "scenarios" in raw:
        draft.scenario_mix = _mix(raw["scenarios"], f"{path}: scenarios", scenarios.SCENARIOS)
    if "malformed" in raw:
        draft.malformed_mix = _mix(raw["malformed"], f"{path}: malformed", scenarios.MALFORMED_KINDS)


def _apply_flags(draft: _Draft, flags: Mapping[str, Any]) -> None:
    if flags.get("fleet"):
        draft.fleet = tuple(_load_fleet(flags["fleet"]))
        draft.fleet_source = flags["fleet"]
    for flag, minimum in _FLAG_INTS:
        if flags.get(flag) is not None:
            draft.values[flag] = _int(flags[flag], _flag_name(flag), minimum=minimum)
    for flag, key in _FLAG_NUMBERS:
        if flags.get(flag) is not None:
            draft.values[key] = _number(flags[flag], _flag_name(flag))
    if flags.get("start") is not None:
        draft.values["start_ms"] = parse_start(flags["start"], "--start")
    if flags.get("format"):
        draft.values["formats"] = wire.parse_formats(str(flags["format"]))
    if flags.get("schema_versions"):
        draft.values["schema_versions"] = wire.parse_versions(str(flags["schema_versions"]))
    if flags.get("raw_schema_version"):
        (draft.values["raw_schema_version"],) = wire.parse_versions(
            str(flags["raw_schema_version"]), "--raw-schema-version", most=1
        )


def _flag_name(flag: str) -> str:
    return "--" + flag.replace("_", "-")


def _fleet(draft: _Draft) -> tuple[DeviceSpec, ...]:
    fleet = draft.fleet if draft.fleet is not None else tuple(_load_fleet(None))
    devices = draft.values.get("devices", 0)
    if devices > len(fleet):
        raise SimulationError(
            f"--devices {devices} exceeds the {len(fleet)} devices in {draft.fleet_source}; "
            f"use --devices {len(fleet)} or fewer, or --fleet FILE with more devices"
        )
    return fleet


def parse_start(value: Any, what: str) -> int:
    """Epoch milliseconds from an integer (ms) or an ISO-8601 string (UTC when it has no offset)."""
    if isinstance(value, int) and not isinstance(value, bool):
        ms = value
    elif isinstance(value, str) and re.fullmatch(r"\d+", value.strip()):
        ms = int(value)
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise SimulationError(
                f"{what} {value!r} is neither epoch milliseconds nor ISO-8601; e.g. 2025-01-01T00:00:00Z "
                "or 1735689600000"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        ms = round(parsed.timestamp() * 1000)
    else:
        raise SimulationError(f"{what} must be ISO-8601 text or epoch milliseconds; got {value!r}")
    if ms < 0:
        raise SimulationError(f"{what} must be at or after 1970-01-01T00:00:00Z")
    return ms


def _read_config(path: Path) -> dict[str, Any]:
    raw = read_json(path, f"--config {path}", SimulationError)
    if not isinstance(raw, dict):
        raise SimulationError(
            f"--config {path} must hold a JSON object with keys from: {', '.join(CONFIG_KEYS)}"
        )
    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise SimulationError(
            f"--config {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(CONFIG_KEYS)}"
        )
    return raw


def _config_fleet(value: Any, config_path: Path) -> tuple[DeviceSpec, ...]:
    if isinstance(value, str):
        return tuple(_load_fleet(str((config_path.parent / value).resolve())))
    return tuple(parse_fleet(value, source=f"{config_path}: fleet"))


def _load_fleet(path: str | None) -> list[DeviceSpec]:
    try:
        return load_fleet(path)
    except SimulationError as exc:
        raise SimulationError(
            f"{exc} (pass --fleet FILE with a JSON list of devices like {DEFAULT_FLEET_PATH.name})"
        ) from None


def _mix(value: Any, what: str, allowed: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(value, dict):
        raise SimulationError(f"{what} must be an object of name -> weight, names from: {', '.join(allowed)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise SimulationError(
            f"{what}: unknown name(s) {', '.join(unknown)}; choose from {', '.join(allowed)}"
        )
    mix = dict.fromkeys(allowed, 0.0)
    for name, weight in value.items():
        number = _number(weight, f"{what}: {name}")
        if number < 0:
            raise SimulationError(f"{what}: weight of {name} must be >= 0; got {weight!r}")
        mix[name] = number
    return mix


def _int(value: Any, what: str, minimum: int) -> int:
    try:
        number = int(value) if not isinstance(value, bool | float) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum:
        raise SimulationError(f"{what} must be a whole number >= {minimum}; got {value!r}")
    return number


def _number(value: Any, what: str) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise SimulationError(f"{what} must be a number; got {value!r}")
    return number
