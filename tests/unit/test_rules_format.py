"""The rules file format: comparison operators, the lifecycle fields and device overrides (issue 10)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.config import load_rule_book
from sensorflow.core.errors import ConfigError
from sensorflow.core.rules import CLEAR, CRITICAL, HOLD, WARNING, RuleBook, parse_rule_book
from sensorflow.core.rules import validate_device_overrides as validate
from sensorflow.core.thresholds import OPERATORS, Levels
from tests.factories import device

TYPES = {"temperature", "humidity", "pressure", "vibration", "co2"}


def rule(**fields):
    raw = {"id": "t", "sensor_type": "temperature", "warning": {"max": 35.0}, "critical": {"max": 45.0}}
    raw.update(fields)
    raw = {k: v for k, v in raw.items() if v is not None}  # None: leave the field out
    return parse_rule_book({"version": 2, "rules": [raw]}, TYPES).get("t")


def one_level(op: str, threshold: float = 10.0, **fields):
    return rule(warning={"op": op, "threshold": threshold}, critical=None, **fields)


def rank(r, value: float) -> int:
    return r.assess(value).rank


# --- comparison operators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "below", "at", "above"),
    [
        (">", CLEAR, CLEAR, WARNING),
        (">=", CLEAR, WARNING, WARNING),
        ("<", WARNING, CLEAR, CLEAR),
        ("<=", WARNING, WARNING, CLEAR),
        ("==", CLEAR, WARNING, CLEAR),
        ("!=", WARNING, CLEAR, WARNING),
    ],
)
def test_each_operator_crosses_on_its_side_of_the_threshold(op, below, at, above):
    # GIVEN a warning level `value OP 10`
    r = one_level(op)
    # THEN 9.999, 10 and 10.001 assess exactly as the operator says (strict vs inclusive at 10)
    assert (rank(r, 9.999), rank(r, 10.0), rank(r, 10.001)) == (below, at, above)


@pytest.mark.parametrize(
    ("op", "value", "bound", "clear_threshold"),
    [
        (">", 11.0, "max", 10.0),
        (">=", 10.0, "max", 10.0),
        ("<", 9.0, "min", 10.0),
        ("<=", 10.0, "min", 10.0),
        ("==", 10.0, "eq", 10.0),
        ("!=", 3.0, "ne", 10.0),
    ],
)
def test_a_crossing_names_its_bound_and_threshold(op, value, bound, clear_threshold):
    a = one_level(op).assess(value)
    assert (a.rank, a.bound, a.threshold, a.clear_threshold, a.severity) == (
        WARNING,
        bound,
        10.0,
        clear_threshold,
        "warning",
    )


def test_greater_and_less_are_the_band_form():
    assert one_level(">").levels["warning"] == rule(warning={"max": 10.0}, critical=None).levels["warning"]
    assert one_level("<").levels["warning"] == rule(warning={"min": 10.0}, critical=None).levels["warning"]


def test_the_deadband_holds_an_inclusive_alarm_until_it_is_that_far_inside():
    # GIVEN ">= 10" with a deadband of 2: the clear line is 8
    r = one_level(">=", deadband=2)
    # THEN 10 crosses, 9 holds (inside the hysteresis band), 8 clears
    assert (rank(r, 10.0), rank(r, 9.0), rank(r, 8.0)) == (WARNING, HOLD, CLEAR)
    assert r.clear == Levels(max=8.0)


def test_an_equality_alarm_has_no_hysteresis():
    r = one_level("==")
    assert (r.clear, rank(r, 10.0), rank(r, 10.0 + 1e-9)) == (Levels(), WARNING, CLEAR)


@pytest.mark.parametrize("op", ["==", "!="])
@pytest.mark.parametrize(("field", "value"), [("deadband", 1.0), ("clear", {"max": 5.0})])
def test_deadband_or_clear_on_an_equality_level_is_refused(op, field, value):
    with pytest.raises(ConfigError) as err:
        one_level(op, **{field: value})
    assert str(err.value) == (
        f"rule 't': field {field!r} does not apply to the {op!r} level 'warning': "
        "an equality alarm clears as soon as its condition no longer holds"
    )


def test_critical_is_checked_before_warning_with_comparisons():
    r = rule(warning={"op": ">", "threshold": 80}, critical={"op": ">=", "threshold": 90})
    assert (rank(r, 80.0), rank(r, 80.5), rank(r, 90.0)) == (CLEAR, WARNING, CRITICAL)


def test_a_critical_value_inside_a_warning_band_escalates_past_it():
    r = rule(warning={"op": "!=", "threshold": 0}, critical={"op": "==", "threshold": 5})
    assert (rank(r, 0.0), rank(r, 1.0), rank(r, 5.0)) == (CLEAR, WARNING, CRITICAL)


@pytest.mark.parametrize(
    ("warning", "critical", "message"),
    [
        (
            {"op": ">", "threshold": 80},
            {"op": ">", "threshold": 70},
            "field 'critical.max' (70) must not be below 'warning.max' (80)",
        ),
        (
            {"op": "<", "threshold": 10},
            {"op": "<=", "threshold": 20},
            "field 'critical.min' (20) must not be above 'warning.min' (10)",
        ),
        (
            {"op": ">", "threshold": 80},
            {"op": ">=", "threshold": 80},
            "field 'critical' (>= 80) must lie outside 'warning' (> 80)",
        ),
        (
            {"op": "==", "threshold": 1},
            {"op": ">", "threshold": 5},
            "field 'critical' (> 5) must lie outside 'warning' (== 1)",
        ),
        (
            {"op": "!=", "threshold": 0},
            {"op": "<", "threshold": 5},
            "field 'critical' (< 5) must lie outside 'warning' (!= 0)",
        ),
        (
            {"op": ">", "threshold": 5},
            {"op": "==", "threshold": 3},
            "field 'critical' (== 3) must lie outside 'warning' (> 5)",
        ),
        (
            {"op": "!=", "threshold": 1},
            {"op": "!=", "threshold": 2},
            "field 'critical' (!= 2) must lie outside 'warning' (!= 1)",
        ),
    ],
)
def test_critical_must_lie_outside_warning_with_comparisons(warning, critical, message):
    with pytest.raises(ConfigError) as err:
        rule(warning=warning, critical=critical)
    assert str(err.value).startswith(f"rule 't': {message}")


@given(
    op=st.sampled_from(OPERATORS),
    threshold=st.floats(-1e6, 1e6, allow_nan=False),
    value=st.floats(-1e6, 1e6, allow_nan=False),
)
def test_assess_agrees_with_the_operator(op, threshold, value):
    expected = {
        ">": value > threshold,
        ">=": value >= threshold,
        "<": value < threshold,
        "<=": value <= threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]
    r = one_level(op, threshold)
    assert (r.assess(value).rank == WARNING) is expected is r.levels["warning"].crosses(value)


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ({"op": "gt", "threshold": 1}, "field 'warning.op' must be one of >, >=, <, <=, ==, !=; got 'gt'"),
        ({"op": ">"}, "field 'warning.threshold' is required"),
        ({"threshold": 1}, "field 'warning.op' is required"),
        ({"op": ">", "threshold": "1"}, "field 'warning.threshold' must be a finite number, got '1'"),
        ({"op": ">", "threshold": True}, "field 'warning.threshold' must be a finite number, got True"),
        ({"op": ">", "threshold": 1, "max": 2}, "field 'warning.max' cannot be combined with 'op'"),
        ({"top": 1}, "field 'warning.top' is not known; use 'min' or 'max', or 'op' and 'threshold'"),
    ],
)
def test_a_bad_comparison_level_names_its_field(level, message):
    with pytest.raises(ConfigError) as err:
        rule(warning=level, critical=None)
    assert str(err.value).startswith(f"rule 't': {message}")


# --- latch, repeat_every, disabled_on_initialization -----------------------------------------------------


def test_the_lifecycle_fields_default_off():
    r = rule()
    assert (r.latch, r.repeat_every, r.disabled_on_initialization) == (False, None, False)


def test_the_lifecycle_fields_are_read():
    r = rule(latch=True, repeat_every=900, disabled_on_initialization=True)
    assert (r.latch, r.repeat_every, r.disabled_on_initialization) == (True, 900, True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"latch": "yes"}, "rule 't': field 'latch' must be true or false, got 'yes'"),
        ({"latch": 1}, "rule 't': field 'latch' must be true or false, got 1"),
        (
            {"disabled_on_initialization": "false"},
            "rule 't': field 'disabled_on_initialization' must be true or false, got 'false'",
        ),
        (
            {"repeat_every": 59},
            "rule 't': field 'repeat_every' must be a whole number from 60 to 604800, got 59",
        ),
        (
            {"repeat_every": 604801},
            "rule 't': field 'repeat_every' must be a whole number from 60 to 604800, got 604801",
        ),
        ({"repeat_every": 90.5}, "rule 't': field 'repeat_every' must be a whole number from 60 to 604800"),
        ({"repeat_every": "1h"}, "rule 't': field 'repeat_every' must be a whole number from 60 to 604800"),
    ],
)
def test_bad_lifecycle_fields_name_the_field(fields, message):
    with pytest.raises(ConfigError) as err:
        rule(**fields)
    assert str(err.value).startswith(message)


def test_the_repeat_interval_bounds_are_inclusive():
    assert (rule(repeat_every=60).repeat_every, rule(repeat_every=604800).repeat_every) == (60, 604800)


# --- device overrides (bug 5) ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> RuleBook:
    return load_rule_book()


def test_a_humidity_override_below_the_rules_clear_band_keeps_its_margin(shipped: RuleBook):
    # GIVEN the shipped humidity rule (warning above 80, clears at 75) and a device warning above 70
    dev = device("dev-00007", thresholds={"humidity-range": {"warning": {"max": 70}}})
    # WHEN it is resolved (this raised ConfigError: clear.max 75 above the raise max 70)
    resolved = shipped.resolve(shipped.get("humidity-range"), dev)
    # THEN it warns above 70 and clears at 65: the rule's 5 %RH margin moved with the bound
    assert (resolved.levels["warning"], resolved.levels["critical"], resolved.clear) == (
        Levels(max=70.0),
        Levels(max=90.0),
        Levels(max=65.0),
    )
    assert [resolved.assess(v).rank for v in (70.5, 68.0, 65.0)] == [WARNING, HOLD, CLEAR]
    validate(shipped, dev)  # and it may be written to the registry


def test_an_override_that_raises_the_bound_moves_the_clear_band_up(shipped: RuleBook):
    dev = device(
        "dev-00007", thresholds={"humidity-range": {"warning": {"max": 85}, "critical": {"max": 95}}}
    )
    assert shipped.resolve(shipped.get("humidity-range"), dev).clear == Levels(max=80.0)


def test_an_override_with_its_own_clear_or_deadband_is_taken_as_written(shipped: RuleBook):
    humidity = shipped.get("humidity-range")
    own_clear = {"humidity-range": {"warning": {"max": 70}, "clear": {"max": 69}}}
    own_deadband = {"humidity-range": {"warning": {"max": 70}, "deadband": 2}}
    assert shipped.resolve(humidity, device(thresholds=own_clear)).clear == Levels(max=69.0)
    assert shipped.resolve(humidity, device(thresholds=own_deadband)).clear == Levels(max=68.0)


def test_an_override_in_the_other_form_replaces_the_level(shipped: RuleBook):
    dev = device(thresholds={"temperature-range": {"warning": {"op": ">=", "threshold": 30}}})
    resolved = shipped.resolve(shipped.get("temperature-range"), dev)
    assert (resolved.levels["warning"], resolved.clear) == (
        Levels(max=30.0, inclusive=True),
        Levels(min=-9.0, max=29.0),  # the rule's deadband of 1 from the new lowest bounds
    )


@pytest.mark.parametrize("field", ["id", "sensor_type"])
def test_an_override_may_not_change_the_rule_identity(shipped: RuleBook, field: str):
    dev = device("dev-00007", thresholds={"humidity-range": {field: "co2"}})
    with pytest.raises(ConfigError) as err:
        validate(shipped, dev)
    assert str(err.value) == (
        f"device 'dev-00007': device override of rule 'humidity-range': field {field!r} "
        "cannot be overridden per device"
    )


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        (
            {"humidity-range": {"warning": {"max": 95}}},
            "device 'dev-00007': device override of rule 'humidity-range': "
            "field 'critical.max' (90) must not be below 'warning.max' (95)",
        ),
        (
            {"temperature-range": {"repeat_every": 5}},
            "device 'dev-00007': device override of rule 'temperature-range': "
            "field 'repeat_every' must be a whole number from 60 to 604800, got 5",
        ),
        (
            {"temperature-range": {"warning": {"op": "==", "threshold": 30}}},
            "device 'dev-00007': device override of rule 'temperature-range': "
            "field 'critical' (< -10 or > 45) must lie outside 'warning' (== 30)",
        ),
        (
            {"humidty-range": {"warning": {"max": 70}}},
            "device 'dev-00007': field 'thresholds.humidty-range' names no rule; rules: "
            "['co2-level', 'humidity-range', 'pressure-range', 'temperature-range', 'vibration-level']",
        ),
        (
            {"humidity-range": ["warning"]},
            "device 'dev-00007': device override of rule 'humidity-range': must be an object",
        ),
    ],
)
def test_a_bad_override_names_the_device_rule_and_field(shipped: RuleBook, thresholds, message):
    with pytest.raises(ConfigError) as err:
        validate(shipped, device("dev-00007", thresholds=thresholds))
    assert str(err.value).startswith(message)


def test_a_device_without_overrides_is_valid(shipped: RuleBook):
    validate(shipped, device("dev-00007"))
