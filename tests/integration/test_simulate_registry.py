"""The simulator reads the Glue schema version ids ``sensorflow schemas publish`` registered, under moto,
and frames its Glue records with them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sensorflow.cli import schemas_publish_command as publish_command
from sensorflow.simulate import SimConfig, SimulationError, generate, wire

REGISTRY = "sensorflow-test"


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        client.create_registry(RegistryName=REGISTRY)
        yield client


def test_the_ids_are_the_ones_publish_registered(glue: Any):
    # GIVEN the kept versions published to the stage's registry
    published = publish_command.publish(glue, REGISTRY, publish_command.checked_history())
    # WHEN the simulator looks them up by definition
    ids = wire.registry_glue_ids(glue, REGISTRY)
    # THEN they are the registry's, and a Glue device's records carry its version's id
    assert ids == {p.version: uuid.UUID(p.version_id) for p in published}
    cfg = SimConfig(devices=2, duration_s=60, seed=1, formats=("glue",), glue_version_ids=ids)
    first = next(r for r in generate(cfg) if r.truth["kind"] == "valid")
    assert first.data[:2] == b"\x03\x00" and uuid.UUID(bytes=first.data[2:18]) == ids[2]


def test_an_unpublished_registry_is_a_clear_error(glue: Any):
    with pytest.raises(SimulationError, match=r"v1 is not registered \(EntityNotFoundException\)"):
        wire.registry_glue_ids(glue, REGISTRY)
