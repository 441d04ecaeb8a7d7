from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorflow.core.errors import ConfigError
from sensorflow.core.thresholds import Levels, parse_rules

RULES = {
    r.rule_id: r
    for r in parse_rules(
        json.loads(Path("sensorflow/rules.json").read_text()),
        {"temperature", "humidity", "pressure", "vibration", "co2"},
    )
}
TEMPERATURE = RULES["temperature-range"]


def test_device_override_replaces_only_the_named_bound():
    # GIVEN a device whose critical max is raised to 60 C
    rule = TEMPERATURE.with_overrides({"critical": {"max": 60.0}})
    # THEN only that bound moves; the warning levels and the critical min still come from the file
    assert (rule.levels["critical"], rule.levels["warning"]) == (
        Levels(min=-10.0, max=60.0),
        Levels(0.0, 35.0),
    )


def test_an_invalid_override_is_refused_with_its_origin():
    with pytest.raises(ConfigError, match="device override of temperature-range"):
        TEMPERATURE.with_overrides({"warning": {"min": 40.0, "max": 30.0}})


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


@pytest.mark.parametrize(
    ("level", "expected", "text"),
    [
        ({"op": ">", "threshold": 5}, Levels(max=5.0), "> 5"),
        ({"op": ">=", "threshold": 5}, Levels(max=5.0, inclusive=True), ">= 5"),
        ({"op": "<", "threshold": 5}, Levels(min=5.0), "< 5"),
        ({"op": "<=", "threshold": 5}, Levels(min=5.0, inclusive=True), "<= 5"),
        ({"op": "==", "threshold": 5}, Levels(exact=5.0), "== 5"),
        ({"op": "!=", "threshold": 5}, Levels(exact=5.0, equal=False), "!= 5"),
        ({"min": 1, "max": 5}, Levels(1.0, 5.0), "< 1 or > 5"),
    ],
)
def test_the_comparison_form_parses_to_levels(level, expected, text):
    (rule,) = parse_rules({"rules": [{"id": "t", "sensor_type": "co2", "warning": level}]})
    assert (rule.levels["warning"], rule.levels["warning"].describe()) == (expected, text)
    assert rule.levels["warning"].op == (level.get("op") if "op" in level else None)


def test_a_comparison_override_replaces_a_band_level():
    rule = TEMPERATURE.with_overrides({"warning": {"op": ">=", "threshold": 30.0}})
    assert rule.levels["warning"] == Levels(max=30.0, inclusive=True)
