"""Domain checks run after decoding.

About 7% of random byte strings decode as a ``SensorReading`` without error, so decoding alone is
not validation: these checks catch the garbage that happens to be well-formed Avro.
"""

from __future__ import annotations

import math
import re

from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.records import Reading
from sensorflow.core.units import normalise

DEVICE_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{2,63}")

# Physically plausible range per sensor type, in the canonical unit. Outside it the sensor is broken
# or the payload is garbage; inside it, thresholds decide whether a human should care.
PLAUSIBLE_RANGE: dict[str, tuple[float, float]] = {
    "temperature": (-90.0, 500.0),  # C
    "humidity": (0.0, 100.0),  # %RH
    "pressure": (0.0, 100_000.0),  # hPa (100 bar)
    "vibration": (0.0, 1_000.0),  # mm/s RMS
    "co2": (0.0, 100_000.0),  # ppm
}

# Devices buffer readings while offline, but not for longer than Kinesis keeps data (7 days max);
# clocks drift, but not by more than a few minutes into the future.
MAX_FUTURE_MS = 5 * 60 * 1000
# Battery voltage (SensorReading v2): sensor packs are a few volts, industrial supplies up to 48 V DC.
BATTERY_MV_RANGE = (0, 60_000)
MAX_PAST_MS = 7 * 24 * 3600 * 1000


def check_reading(
    reading: Reading, now_ms: int, max_future_ms: int = MAX_FUTURE_MS, max_past_ms: int = MAX_PAST_MS
) -> tuple[float, str]:
    """Raise ``InvalidRecordError`` for a reading that cannot be real; return the canonical (value, unit)."""
    if not DEVICE_ID_PATTERN.fullmatch(reading.device_id):
        raise InvalidRecordError("bad_device_id", f"device_id {reading.device_id[:80]!r} is not well formed")
    if not math.isfinite(reading.value):
        raise InvalidRecordError("non_finite", f"value is {reading.value}")
    if reading.battery_pct is not None and not (0.0 <= reading.battery_pct <= 100.0):
        raise InvalidRecordError("implausible_value", f"battery_pct {reading.battery_pct} is outside 0..100")
    if reading.battery_mv is not None and not (
        BATTERY_MV_RANGE[0] <= reading.battery_mv <= BATTERY_MV_RANGE[1]
    ):
        raise InvalidRecordError(
            "implausible_value",
            f"battery_mv {reading.battery_mv} is outside {BATTERY_MV_RANGE[0]}..{BATTERY_MV_RANGE[1]}",
        )
    if reading.firmware_generation < 1:
        raise InvalidRecordError(
            "implausible_value", f"firmware_generation {reading.firmware_generation} is below 1"
        )
    if reading.seq < 0:
        raise InvalidRecordError("bad_seq", f"seq {reading.seq} is negative")
    if reading.sensor_type not in PLAUSIBLE_RANGE:
        raise InvalidRecordError(
            "unknown_sensor_type", f"sensor type {reading.sensor_type!r} is not supported"
        )
    value, unit = normalise(reading.sensor_type, reading.value, reading.unit)
    low, high = PLAUSIBLE_RANGE[reading.sensor_type]
    if not (low <= value <= high):
        raise InvalidRecordError(
            "implausible_value", f"{reading.sensor_type} {value:g} {unit} is outside {low:g}..{high:g} {unit}"
        )
    skew = reading.timestamp_ms - now_ms
    if skew > max_future_ms or -skew > max_past_ms:
        raise InvalidRecordError(
            "timestamp_out_of_range",
            f"timestamp {reading.timestamp_ms} is {skew / 1000:+.0f}s from arrival; "
            f"allowed -{max_past_ms // 1000}s..+{max_future_ms // 1000}s",
        )
    return value, unit
