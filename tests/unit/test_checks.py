from __future__ import annotations

import dataclasses

import pytest

from sensorflow.core.checks import MAX_FUTURE_MS, MAX_PAST_MS, check_reading
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.records import Reading
from tests.factories import NOW_MS

OK = Reading("dev-00001", "temperature", 21.5, "C", NOW_MS - 1000, 1)


def reason(r: Reading) -> str:
    with pytest.raises(InvalidRecordError) as err:
        check_reading(r, NOW_MS)
    return err.value.reason


def test_valid_reading_returns_canonical_value():
    assert check_reading(OK, NOW_MS) == (21.5, "C")
    assert check_reading(dataclasses.replace(OK, value=212.0, unit="F"), NOW_MS) == (100.0, "C")
    assert check_reading(
        dataclasses.replace(OK, sensor_type="pressure", value=101.3, unit="kPa"), NOW_MS
    ) == (
        pytest.approx(1013.0),
        "hPa",
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values(value):
    assert reason(dataclasses.replace(OK, value=value)) == "non_finite"


@pytest.mark.parametrize(
    ("sensor_type", "value", "unit"),
    [
        ("temperature", 900.0, "C"),
        ("temperature", -300.0, "K"),
        ("humidity", 120.0, "%RH"),
        ("co2", -1.0, "ppm"),
    ],
)
def test_physically_implausible_values(sensor_type, value, unit):
    assert (
        reason(dataclasses.replace(OK, sensor_type=sensor_type, value=value, unit=unit))
        == "implausible_value"
    )


def test_unit_that_does_not_fit_the_sensor_type():
    assert reason(dataclasses.replace(OK, unit="hPa")) == "bad_unit"


def test_unknown_sensor_type_symbol():
    assert reason(dataclasses.replace(OK, sensor_type="unknown")) == "unknown_sensor_type"


@pytest.mark.parametrize("device_id", ["", "a", "dev 001", "dév-1", "x" * 65, "-leading-dash"])
def test_malformed_device_ids(device_id):
    assert reason(dataclasses.replace(OK, device_id=device_id)) == "bad_device_id"


def test_timestamp_window_edges():
    assert check_reading(dataclasses.replace(OK, timestamp_ms=NOW_MS + MAX_FUTURE_MS), NOW_MS)
    assert check_reading(dataclasses.replace(OK, timestamp_ms=NOW_MS - MAX_PAST_MS), NOW_MS)
    assert (
        reason(dataclasses.replace(OK, timestamp_ms=NOW_MS + MAX_FUTURE_MS + 1)) == "timestamp_out_of_range"
    )
    assert reason(dataclasses.replace(OK, timestamp_ms=NOW_MS - MAX_PAST_MS - 1)) == "timestamp_out_of_range"


def test_battery_and_seq_bounds():
    assert reason(dataclasses.replace(OK, battery_pct=101.0)) == "implausible_value"
    assert reason(dataclasses.replace(OK, seq=-1)) == "bad_seq"


def test_battery_voltage_and_firmware_generation_are_checked():
    base = dict(device_id="dev-00001", sensor_type="temperature", value=21.0, unit="C", timestamp_ms=0, seq=1)
    check_reading(Reading(**base, battery_mv=3300), now_ms=0)
    for bad in ({"battery_mv": -1}, {"battery_mv": 60_001}, {"firmware_generation": 0}):
        with pytest.raises(InvalidRecordError) as err:
            check_reading(Reading(**base, **bad), now_ms=0)
        assert err.value.reason == "implausible_value"
