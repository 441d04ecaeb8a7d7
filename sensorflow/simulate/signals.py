"""Plausible sensor signals: a daily cycle, site-wide weather, slow drift, AR(1) noise, battery decay.

Every signal is computed in the sensor type's canonical unit (C, %RH, hPa, mm/s, ppm) and converted
to the device's unit when the reading is encoded. Normal values sit well inside the warning band of
the default rules, so threshold crossings come from injected scenarios, not from noise.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sensorflow.core.checks import PLAUSIBLE_RANGE

DAY_MS = 86_400_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Profile:
    """How one sensor type behaves when nothing is wrong (canonical unit)."""

    base: tuple[float, float]  # per-device baseline, drawn uniformly from this range
    daily_amplitude: float  # half the peak-to-trough swing of the daily cycle
    daily_peak_hour: float  # local hour of the daily maximum
    site_scale: float  # amplitude of the site-wide component shared by every device on a site
    site_process: str  # which site-wide process drives it; humidity mirrors temperature
    noise_sd: float  # stationary standard deviation of the AR(1) noise
    drift_per_day: float  # maximum absolute drift of the device's calibration per day
    limits: tuple[float, float]  # values are clamped into this range
    normal: tuple[float, float]  # the band normal readings stay in "most of the time"
    decimals: int  # resolution the device reports at, in the canonical unit


PROFILES: dict[str, Profile] = {
    "temperature": Profile(
        (21.5, 24.0), 1.0, 15.0, 0.6, "thermal", 0.12, 0.2, (-40.0, 120.0), (20.0, 26.0), 2
    ),
    "humidity": Profile((42.0, 52.0), 3.0, 5.0, -2.5, "thermal", 0.6, 0.5, (0.0, 100.0), (35.0, 60.0), 1),
    "pressure": Profile(
        (1009.0, 1016.0), 0.8, 10.0, 5.0, "pressure", 0.15, 0.3, (850.0, 1150.0), (1000.0, 1025.0), 2
    ),
    "vibration": Profile((1.8, 2.6), 0.5, 14.0, 0.15, "activity", 0.15, 0.05, (0.05, 60.0), (1.0, 4.0), 3),
    "co2": Profile(
        (500.0, 560.0), 90.0, 14.0, 30.0, "activity", 12.0, 5.0, (410.0, 10_000.0), (400.0, 800.0), 0
    ),
}
assert set(PROFILES) == set(PLAUSIBLE_RANGE), "one profile per supported sensor type"

# Sites span time zones so the daily cycles of different sites peak at different UTC times.
SITE_UTC_OFFSET_H: dict[str, float] = {
    "site-a": 1.0,
    "site-b": 1.0,
    "site-c": -6.0,
    "site-d": 9.0,
    "site-e": -3.0,
}


class SiteProcess:
    """A smooth site-wide signal in [-1, 1]: a few slow sinusoids with random periods and phases.

    It is a pure function of time, so every device of a site sees the same value at the same instant
    (the correlation), whatever order devices are simulated in.
    """

    def __init__(self, rng: random.Random) -> None:
        self._terms = [
            (rng.uniform(0.4, 1.0), rng.uniform(3.0, 30.0) * HOUR_MS, rng.uniform(0.0, 2 * math.pi))
            for _ in range(3)
        ]
        self._norm = sum(a for a, _, _ in self._terms)

    def __call__(self, t_ms: int) -> float:
        return sum(a * math.sin(2 * math.pi * t_ms / p + phase) for a, p, phase in self._terms) / self._norm


class SignalModel:
    """One sensor of one device. ``natural(t_ms)`` advances the noise by one reading."""

    def __init__(
        self,
        sensor_type: str,
        rng: random.Random,
        site_process: SiteProcess,
        utc_offset_h: float,
        start_ms: int,
    ) -> None:
        p = PROFILES[sensor_type]
        self.sensor_type = sensor_type
        self.profile = p
        self._rng = rng
        self._site = site_process
        self._offset_h = utc_offset_h
        self._start_ms = start_ms
        self._base = rng.uniform(*p.base)
        self._drift = rng.uniform(-p.drift_per_day, p.drift_per_day)
        self._phi = 0.8
        self._noise = rng.gauss(0.0, p.noise_sd)

    def natural(self, t_ms: int) -> float:
        p = self.profile
        local_h = (t_ms / HOUR_MS + self._offset_h) % 24.0
        daily = p.daily_amplitude * math.cos(2 * math.pi * (local_h - p.daily_peak_hour) / 24.0)
        site = p.site_scale * self._site(t_ms)
        drift = self._drift * (t_ms - self._start_ms) / DAY_MS
        self._noise = self._phi * self._noise + math.sqrt(1 - self._phi**2) * self._rng.gauss(0.0, p.noise_sd)
        value = self._base + daily + site + drift + self._noise
        return round(min(max(value, p.limits[0]), p.limits[1]), p.decimals)


class Battery:
    """Battery charge that decays a few percent a day (mains-powered models report none)."""

    def __init__(self, rng: random.Random, start_ms: int) -> None:
        self._start_pct = rng.uniform(45.0, 100.0)
        self._decay_per_day = rng.uniform(0.5, 4.0)
        self._start_ms = start_ms

    def at(self, t_ms: int) -> float:
        pct = self._start_pct - self._decay_per_day * (t_ms - self._start_ms) / DAY_MS
        return round(max(pct, 1.0), 1)
