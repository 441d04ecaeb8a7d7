"""Every AWS call a local Lambda worker makes goes through the fault proxy, for every service a fault plan
names: the worker's only endpoint setting is ``AWS_ENDPOINT_URL`` (the proxy), which botocore applies to
every service unless a service-specific ``AWS_ENDPOINT_URL_<SERVICE>`` or a config file overrides it."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import pytest

from sensorflow.localcloud.emulator.discovery import FunctionConfig
from sensorflow.localcloud.emulator.worker_pool import lambda_environment
from sensorflow.localcloud.faults import SERVICES

REPO = Path(__file__).resolve().parents[2]
PROXY_URL = "http://127.0.0.1:47001"


def worker_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # GIVEN a parent shell that points S3 and SNS somewhere else (service-specific endpoint variables)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", "https://sns.us-east-1.amazonaws.com")
    function = FunctionConfig(
        name="sensorflow-local-ingest",
        arn="arn:aws:lambda:us-east-1:123456789012:function:sensorflow-local-ingest",
        handler="handlers/ingest.handler",
        role="arn:aws:iam::123456789012:role/r",
        timeout_s=60,
        memory_mb=1024,
        environment={"READINGS_BUCKET_NAME": "b"},
    )
    return lambda_environment(function, PROXY_URL, "us-east-1", REPO)


@pytest.mark.parametrize("service", SERVICES)
def test_a_workers_client_for_each_faultable_service_talks_to_the_proxy(
    service: str, monkeypatch: pytest.MonkeyPatch
):
    env = worker_env(monkeypatch)
    # THEN the worker's environment carries no service-specific endpoint, only the proxy
    assert not [k for k in env if k.startswith("AWS_ENDPOINT_URL_")]
    assert env["AWS_ENDPOINT_URL"] == PROXY_URL
    # ... and a client built in it, as the adapters build theirs, resolves to the proxy
    for key in [k for k in list(os.environ) if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    client = boto3.session.Session().client(service)
    assert client.meta.endpoint_url == PROXY_URL


def test_no_function_in_serverless_yml_sets_its_own_endpoint():
    # A deployed Environment is applied before AWS_ENDPOINT_URL; a per-service endpoint in it would
    # survive and bypass the proxy (and the fault plan) for that service.
    assert "AWS_ENDPOINT_URL" not in (REPO / "serverless.yml").read_text()
