"""What the simulator injects, what each injection should cause, and the vocabulary of the ground truth.

Ground-truth ``kind`` and the outcome the ingest pipeline should reach for it:

==================  ===============  ================================================================
kind                outcome          meaning
==================  ===============  ================================================================
``valid``           ``stored``       a normal reading, or one shaped by a scenario (excursion, ...)
``late``            ``stored``       a valid reading sent after newer ones of the same device
``duplicate``       ``duplicate``    the exact bytes of an earlier record again (a producer retry)
``malformed``       ``quarantined``  bytes that are not a SensorReading; ``expected_reason`` says why
``unknown_device``  ``quarantined``  a well-formed reading from a ``ghost-*`` device not in the fleet
``clock_skew``      ``quarantined``  a reading stamped > 5 min ahead of arrival (timestamp_out_of_range)
==================  ===============  ================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

# --- scenarios ----------------------------------------------------------------------------------------
# Alarm scenarios (see planning.excursion_phases / spike_is_debounced and sensorflow.simulate.truth):
EXCURSION = "excursion"  # a warning plateau, usually a critical one, then back inside the clear band
SPIKE = "spike"  # one critical reading, then back to normal: debounced, no alarm
STUCK = "stuck"  # one sensor repeats the exact same value for a while
DROPOUT = "dropout"  # the device goes silent for a while
CLOCK_SKEW = "clock_skew"  # the device clock is off for a while: small skews pass, large ones do not
LATE = "late"  # readings buffered and sent after newer ones (out of order)
DUPLICATE = "duplicate"  # the same payload sent twice
UNKNOWN_DEVICE = "unknown_device"  # a device that is not in the registry publishes
MALFORMED = "malformed"  # bytes that do not decode (driven by malformed_rate, not the scenario mix)

SCENARIOS: tuple[str, ...] = (EXCURSION, SPIKE, STUCK, DROPOUT, CLOCK_SKEW, LATE, DUPLICATE, UNKNOWN_DEVICE)

# Relative weights: the probability of scenario X at a device tick is scenario_rate * w[X] / sum(w).
DEFAULT_SCENARIO_MIX: Mapping[str, float] = {
    EXCURSION: 3.0,
    SPIKE: 2.0,
    STUCK: 1.0,
    DROPOUT: 1.0,
    CLOCK_SKEW: 1.0,
    LATE: 2.0,
    DUPLICATE: 2.0,
    UNKNOWN_DEVICE: 1.0,
}

# --- malformed payloads -------------------------------------------------------------------------------
TRUNCATED = "truncated"
RANDOM_BYTES = "random_bytes"
WRONG_SCHEMA = "wrong_schema"
TRAILING_BYTES = "trailing_bytes"
MALFORMED_KINDS: tuple[str, ...] = (TRUNCATED, RANDOM_BYTES, WRONG_SCHEMA, TRAILING_BYTES)
DEFAULT_MALFORMED_MIX: Mapping[str, float] = dict.fromkeys(MALFORMED_KINDS, 1.0)

# The reason ``ReadingDecoder`` gives each kind. Payloads are crafted so this holds for every one of them
# (see ``payloads``), and a unit test decodes them all to prove it.
MALFORMED_REASON: Mapping[str, str] = {
    TRUNCATED: "decode_error",
    RANDOM_BYTES: "decode_error",
    WRONG_SCHEMA: "decode_error",
    TRAILING_BYTES: "trailing_bytes",
}

# --- ground truth -------------------------------------------------------------------------------------
KIND_VALID = "valid"
KIND_LATE = "late"
KIND_DUPLICATE = "duplicate"
KIND_MALFORMED = "malformed"
KIND_UNKNOWN_DEVICE = "unknown_device"
KIND_CLOCK_SKEW = "clock_skew"
KINDS: tuple[str, ...] = (
    KIND_VALID,
    KIND_LATE,
    KIND_DUPLICATE,
    KIND_MALFORMED,
    KIND_UNKNOWN_DEVICE,
    KIND_CLOCK_SKEW,
)

OUTCOME_STORED = "stored"
OUTCOME_QUARANTINED = "quarantined"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME: Mapping[str, str] = {
    KIND_VALID: OUTCOME_STORED,
    KIND_LATE: OUTCOME_STORED,
    KIND_DUPLICATE: OUTCOME_DUPLICATE,
    KIND_MALFORMED: OUTCOME_QUARANTINED,
    KIND_UNKNOWN_DEVICE: OUTCOME_QUARANTINED,
    KIND_CLOCK_SKEW: OUTCOME_QUARANTINED,
}

# --- thresholds ---------------------------------------------------------------------------------------
# The default rules (sensorflow/rules.json, per the project brief), canonical units. Used to label each
# reading's expected level and to aim excursions and spikes past the critical bound.
# sensor_type -> (critical_low, warning_low, warning_high, critical_high); None = no bound on that side.
THRESHOLDS: Mapping[str, tuple[float | None, float | None, float | None, float | None]] = {
    "temperature": (-10.0, 0.0, 35.0, 45.0),
    "humidity": (None, None, 80.0, 90.0),
    "pressure": (900.0, 950.0, 1050.0, 1100.0),
    "vibration": (None, None, 7.1, 11.2),
    "co2": (None, None, 1000.0, 2000.0),
}

LEVEL_NORMAL = "normal"
LEVEL_WARNING = "warning"
LEVEL_CRITICAL = "critical"

# Canonical values an excursion holds at (critical) and passes through on the way (warning), per
# direction. Each range is well clear of the bounds so unit conversion and rounding cannot matter.
EXCURSION_TARGETS: Mapping[tuple[str, str], tuple[tuple[float, float], tuple[float, float]]] = {
    # (sensor_type, direction): (warning range, critical range)
    ("temperature", "high"): ((38.0, 42.0), (48.0, 58.0)),
    ("humidity", "high"): ((83.0, 87.0), (92.0, 98.0)),
    ("pressure", "high"): ((1060.0, 1090.0), (1110.0, 1130.0)),
    ("pressure", "low"): ((910.0, 940.0), (870.0, 890.0)),
    ("vibration", "high"): ((8.0, 10.0), (13.0, 20.0)),
    ("co2", "high"): ((1200.0, 1800.0), (2300.0, 3500.0)),
}
SPIKE_TARGETS: Mapping[str, tuple[float, float]] = {
    "temperature": (60.0, 90.0),
    "humidity": (95.0, 99.5),
    "pressure": (1150.0, 1250.0),
    "vibration": (20.0, 45.0),
    "co2": (3000.0, 6000.0),
}


def level(sensor_type: str, canonical_value: float) -> str:
    """The alert level the default rules give a canonical value (bounds are strict: > and <)."""
    crit_low, warn_low, warn_high, crit_high = THRESHOLDS[sensor_type]
    if (crit_high is not None and canonical_value > crit_high) or (
        crit_low is not None and canonical_value < crit_low
    ):
        return LEVEL_CRITICAL
    if (warn_high is not None and canonical_value > warn_high) or (
        warn_low is not None and canonical_value < warn_low
    ):
        return LEVEL_WARNING
    return LEVEL_NORMAL
