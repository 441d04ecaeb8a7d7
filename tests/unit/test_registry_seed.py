"""Seeding the device registry validates every device's overrides before writing any (issue 10, bug 5)."""

from __future__ import annotations

from typing import Any

import pytest

from sensorflow.localcloud.deploy import DeployError, seed_registry


class FakeDynamo:
    """The one call ``seed_registry`` makes, recorded."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        for requests in RequestItems.values():
            self.written += [r["PutRequest"]["Item"] for r in requests]
        return {}


class FakeEndpoint:
    def __init__(self) -> None:
        self.dynamodb = FakeDynamo()

    def client(self, service: str) -> FakeDynamo:
        assert service == "dynamodb"
        return self.dynamodb


def item(device_id: str, **thresholds: Any) -> dict[str, Any]:
    return {
        "device_id": device_id,
        "site": "plant-a",
        "location": "hall-1",
        "model": "TH-1",
        "owner_team": "ops",
        "sensor_types": ["humidity"],
        "thresholds": thresholds,
    }


def test_a_valid_override_is_written():
    # GIVEN the bug-5 humidity override, valid on its own terms
    endpoint = FakeEndpoint()
    items = [item("dev-00001", **{"humidity-range": {"warning": {"max": 70}}}), item("dev-00002")]
    # WHEN the registry is seeded
    count = seed_registry(endpoint, "devices", items)  # type: ignore[arg-type]
    # THEN both devices are written, the override as given
    assert count == 2
    assert [w["device_id"]["S"] for w in endpoint.dynamodb.written] == ["dev-00001", "dev-00002"]
    assert endpoint.dynamodb.written[0]["thresholds"]["M"]["humidity-range"]["M"]["warning"] == {
        "M": {"max": {"N": "70"}}
    }


def test_a_bad_override_is_refused_and_nothing_is_written():
    # GIVEN a fleet whose second device overrides a rule's sensor type
    endpoint = FakeEndpoint()
    items = [item("dev-00001"), item("dev-00002", **{"humidity-range": {"sensor_type": "co2"}})]
    # WHEN the registry is seeded THEN it is refused, naming the device, the rule and the field
    with pytest.raises(DeployError) as err:
        seed_registry(endpoint, "devices", items)  # type: ignore[arg-type]
    assert str(err.value) == (
        "device registry not seeded: device 'dev-00002': device override of rule 'humidity-range': "
        "field 'sensor_type' cannot be overridden per device"
    )
    # AND no device was written
    assert endpoint.dynamodb.written == []
