"""Units per sensor type, their canonical unit, and conversion to it."""

from __future__ import annotations

from collections.abc import Callable

from sensorflow.core.errors import InvalidRecordError

# sensor_type -> (canonical unit, {accepted unit: converter to canonical})
_UNITS: dict[str, tuple[str, dict[str, Callable[[float], float]]]] = {
    "temperature": (
        "C",
        {"C": lambda v: v, "F": lambda v: (v - 32.0) * 5.0 / 9.0, "K": lambda v: v - 273.15},
    ),
    "humidity": ("%RH", {"%RH": lambda v: v, "%": lambda v: v}),
    "pressure": (
        "hPa",
        {
            "hPa": lambda v: v,
            "kPa": lambda v: v * 10.0,
            "Pa": lambda v: v / 100.0,
            "bar": lambda v: v * 1000.0,
            "psi": lambda v: v * 68.947572932,
        },
    ),
    "vibration": ("mm/s", {"mm/s": lambda v: v, "in/s": lambda v: v * 25.4}),
    "co2": ("ppm", {"ppm": lambda v: v}),
}


def canonical_unit(sensor_type: str) -> str:
    return _UNITS[sensor_type][0]


def accepted_units(sensor_type: str) -> tuple[str, ...]:
    return tuple(_UNITS[sensor_type][1]) if sensor_type in _UNITS else ()


def normalise(sensor_type: str, value: float, unit: str) -> tuple[float, str]:
    """Convert ``value`` in ``unit`` to the sensor type's canonical unit."""
    try:
        canonical, converters = _UNITS[sensor_type]
    except KeyError:
        raise InvalidRecordError(
            "unknown_sensor_type", f"no units known for sensor type {sensor_type!r}"
        ) from None
    try:
        convert = converters[unit]
    except KeyError:
        raise InvalidRecordError(
            "bad_unit", f"unit {unit!r} is not valid for {sensor_type}; expected one of {sorted(converters)}"
        ) from None
    return convert(value), canonical
