"""The local cloud's step after its deploy: ``sensorflow schemas publish`` (``localcloud.deploy.
publish_schemas``) against a moto server, whose CloudFormation reports ``AWS::Glue::Registry`` created
without creating it (and warns that it does not support the type)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from sensorflow.core import schemas
from sensorflow.localcloud.deploy import DeployError, publish_schemas
from sensorflow.localcloud.emulator.endpoint import Endpoint

STAGE = "local"
REGISTRY = f"sensorflow-{STAGE}"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        yield Endpoint(url)
    finally:
        # In-process moto servers share one backend: leave none of this test's resources to the next.
        urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10)
        server.stop()


def deploy_stack(endpoint: Endpoint, with_registry: bool = True) -> dict[str, str]:
    """The template's registry and its output, as `sls deploy` leaves them on moto."""
    registry = {
        "Type": "AWS::Glue::Registry",
        "Properties": {"Name": REGISTRY, "Description": "sensorflow local reading schemas"},
    }
    other = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "placeholder"}}
    template = {
        "Resources": {"SchemaRegistry": registry} if with_registry else {"Placeholder": other},
        "Outputs": {"SchemaRegistryName": {"Value": REGISTRY}},
    }
    cloudformation = endpoint.client("cloudformation")
    cloudformation.create_stack(StackName=f"sensorflow-{STAGE}", TemplateBody=json.dumps(template))
    outputs = cloudformation.describe_stacks(StackName=f"sensorflow-{STAGE}")["Stacks"][0]["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


@pytest.mark.filterwarnings("ignore:Tried to parse AWS")  # moto: "AWS::Glue::Registry ... not supported"
def test_the_local_cloud_creates_the_templates_registry_and_publishes_the_history(endpoint: Endpoint):
    outputs = deploy_stack(endpoint)
    glue = endpoint.client("glue")
    assert glue.list_registries()["Registries"] == []  # moto's CloudFormation did not create it
    # WHEN the local cloud publishes after its deploy, twice (a second `local up` on the same server)
    first = publish_schemas(endpoint, STAGE, outputs)
    second = publish_schemas(endpoint, STAGE, outputs)
    # THEN the registry exists as declared, with every kept version, registered once
    [registry] = glue.list_registries()["Registries"]
    assert (registry["RegistryName"], registry["Description"]) == (
        REGISTRY,
        "sensorflow local reading schemas",
    )
    assert [(p.version, p.registry_version, p.new) for p in first] == [(1, 1, True), (2, 2, True)]
    assert [(p.version, p.new) for p in second] == [(1, False), (2, False)]
    assert [p.version_id for p in first] == [p.version_id for p in second]
    assert len(first) == len(schemas.history())


def test_a_stack_without_a_registry_publishes_nothing(endpoint: Endpoint):
    assert publish_schemas(endpoint, STAGE, {"SensorStreamName": "s"}) == []


def test_a_refused_publish_fails_the_deploy_with_the_reason(endpoint: Endpoint):
    # GIVEN a stack that names a registry it does not declare
    outputs = deploy_stack(endpoint, with_registry=False)
    with pytest.raises(
        DeployError,
        match=f"sensorflow schemas publish --stage local: Glue registry {REGISTRY} does not exist",
    ):
        publish_schemas(endpoint, STAGE, outputs)
