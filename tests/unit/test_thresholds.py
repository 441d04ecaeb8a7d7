from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorflow.core.errors import ConfigError
from sensorflow.core.records import EnrichedReading, Reading
from sensorflow.core.thresholds import alert_id, parse_rules
from tests.factories import NOW_MS, SHARD, device

RULES = parse_rules(
    json.loads(Path("sensorflow/rules.json").read_text()),
    {"temperature", "humidity", "pressure", "vibration", "co2"},
)


def enriched(
    value: float, sensor_type: str = "temperature", unit: str = "C", **device_fields
) -> EnrichedReading:
    r = Reading("dev-00001", sensor_type, value, unit, NOW_MS, 7)
    return EnrichedReading(r, device(**device_fields), value, unit, NOW_MS, SHARD, "1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (20.0, None),
        (35.0, None),  # on the line is not over it
        (35.1, ("warning", "max", 35.0)),
        (45.1, ("critical", "max", 45.0)),
        (-0.5, ("warning", "min", 0.0)),
        (-10.5, ("critical", "min", -10.0)),
    ],
)
def test_temperature_levels(value, expected):
    alerts = RULES.evaluate(enriched(value))
    got = (alerts[0].severity, alerts[0].bound, alerts[0].threshold) if alerts else None
    assert got == expected


def test_device_override_replaces_only_the_named_bound():
    # GIVEN a device whose critical max is raised to 60 C
    e = enriched(50.0, thresholds={"temperature-range": {"critical": {"max": 60.0}}})
    # THEN 50 C is only a warning for it
    [alert] = RULES.evaluate(e)
    assert (alert.severity, alert.threshold) == ("warning", 35.0)
    # AND its min bounds still come from the file
    [cold] = RULES.evaluate(enriched(-11.0, thresholds={"temperature-range": {"critical": {"max": 60.0}}}))
    assert (cold.severity, cold.threshold) == ("critical", -10.0)


def test_alert_carries_context_and_a_deterministic_id():
    [a] = RULES.evaluate(enriched(95.0, sensor_type="humidity", unit="%RH"))
    assert a.alert_id == alert_id("dev-00001", "humidity-range", 7, NOW_MS)
    assert a.alert_id == RULES.evaluate(enriched(95.0, sensor_type="humidity", unit="%RH"))[0].alert_id
    assert a.alert_id != alert_id("dev-00001", "humidity-range", 8, NOW_MS)
    assert (a.site, a.location, a.owner_team, a.unit) == ("site-a", "line-1/press-3", "plant-ops", "%RH")


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({}, "top level"),
        ({"rules": [{"sensor_type": "temperature", "warning": {"max": 1}}]}, "rule #0: field 'id'"),
        (
            {"rules": [{"id": "t", "sensor_type": "lava", "warning": {"max": 1}}]},
            "rule 't': field 'sensor_type'",
        ),
        ({"rules": [{"id": "t", "sensor_type": "co2"}]}, "rule 't': needs at least one"),
        (
            {"rules": [{"id": "t", "sensor_type": "co2", "warning": {"max": "high"}}]},
            "rule 't': field 'warning.max'",
        ),
        (
            {"rules": [{"id": "t", "sensor_type": "co2", "warning": {"top": 1}}]},
            "rule 't': field 'warning.top'",
        ),
        (
            {"rules": [{"id": "t", "sensor_type": "co2", "warning": {"min": 5, "max": 1}}]},
            "'warning.min' (5)",
        ),
        (
            {"rules": [{"id": "t", "sensor_type": "co2", "warning": {"max": 10}, "critical": {"max": 5}}]},
            "'critical.max' (5) must not be below",
        ),
        (
            {
                "rules": [
                    {"id": "t", "sensor_type": "co2", "warning": {"max": 1}},
                    {"id": "t", "sensor_type": "co2", "warning": {"max": 1}},
                ]
            },
            "rule 't': field 'id' is duplicated",
        ),
    ],
)
def test_bad_rules_name_the_rule_and_field(rules, message):
    with pytest.raises(ConfigError) as err:
        parse_rules(rules, {"temperature", "co2"})
    assert message in str(err.value)
