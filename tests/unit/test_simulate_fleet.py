"""The committed default fleet and fleet-file validation."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from sensorflow.core.checks import DEVICE_ID_PATTERN
from sensorflow.core.units import accepted_units
from sensorflow.simulate.fleet import (
    DEFAULT_FLEET_PATH,
    FleetError,
    build_default_fleet,
    fleet_json,
    load_fleet,
    registry_items,
)


def test_default_fleet_has_200_well_formed_devices_in_order():
    fleet = load_fleet()

    assert len(fleet) == 200
    assert [d.device_id for d in fleet] == [f"dev-{n:05d}" for n in range(200)]
    for d in fleet:
        assert DEVICE_ID_PATTERN.fullmatch(d.device_id)
        assert set(d.units) == set(d.sensor_types)
        assert all(d.units[s] in accepted_units(s) for s in d.sensor_types)
        assert d.interval_s in (10, 15, 30, 60)


def test_default_fleet_spans_sites_and_exercises_unit_normalisation():
    fleet = load_fleet()
    sites = Counter(d.site for d in fleet)
    units = Counter((s, u) for d in fleet for s, u in d.units.items())

    assert 4 <= len(sites) <= 6
    assert min(sites.values()) >= 30
    assert units[("temperature", "F")] >= 10
    assert units[("pressure", "kPa")] >= 10
    assert {s for d in fleet for s in d.sensor_types} == {
        "temperature",
        "humidity",
        "pressure",
        "vibration",
        "co2",
    }


def test_committed_file_is_what_build_default_fleet_writes():
    assert DEFAULT_FLEET_PATH.read_text(encoding="utf-8") == fleet_json(build_default_fleet())


def test_registry_items_are_plain_items_keyed_by_device_id():
    fleet = load_fleet()
    items = registry_items(fleet[:2])

    raw = json.loads(DEFAULT_FLEET_PATH.read_text(encoding="utf-8"))[0]
    assert items[0] == {
        "device_id": raw["device_id"],
        "site": raw["site"],
        "location": raw["location"],
        "model": raw["model"],
        "owner_team": raw["owner_team"],
        "sensor_types": raw["sensor_types"],
    }
    assert type(items[0]["sensor_types"]) is list
    assert [i["device_id"] for i in items] == ["dev-00000", "dev-00001"]


def _device(**overrides):
    base = {
        "device_id": "dev-001",
        "site": "s",
        "location": "l",
        "model": "m",
        "owner_team": "t",
        "sensor_types": ["temperature"],
        "interval_s": 10,
        "units": {"temperature": "C"},
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_device(units={"temperature": "furlongs"}), "unit 'furlongs' is not valid for temperature"),
        (_device(device_id="x"), "device_id 'x' must match"),
        (_device(sensor_types=["sound"], units={"sound": "dB"}), "sensor_types must be"),
        (_device(interval_s=0), "interval_s must be"),
        (_device(units={}), "units must map exactly the sensor_types"),
        (_device(colour="red"), "unknown key(s) colour"),
        ({"device_id": "dev-001"}, "missing site"),
    ],
)
def test_bad_fleet_entries_are_rejected_naming_the_field(tmp_path: Path, entry, message):
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps([entry]))

    with pytest.raises(FleetError) as err:
        load_fleet(path)

    assert message in str(err.value)
    assert f"{path}[0]" in str(err.value)


def test_duplicate_ids_and_unreadable_files_are_rejected(tmp_path: Path):
    dup = tmp_path / "dup.json"
    dup.write_text(json.dumps([_device(), _device()]))
    bad = tmp_path / "bad.json"
    bad.write_text("[{")

    with pytest.raises(FleetError, match="appears more than once"):
        load_fleet(dup)
    with pytest.raises(FleetError, match="not valid JSON"):
        load_fleet(bad)
    with pytest.raises(FleetError, match="does not exist"):
        load_fleet(tmp_path / "missing.json")
