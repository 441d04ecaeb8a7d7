"""``sensorflow console`` from the command line: a stack found by its outputs, the caller identified, the
page served on 127.0.0.1; bad flags and a missing stack are one line with the fix (moto's mock_aws)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sensorflow.adapters import clients as client_factory
from sensorflow.cli import main as cli
from sensorflow.cli.console.app import ConsoleServer
from tests.integration.conftest import REGION, create_alarms_table

TEMPLATE = {
    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    "Outputs": {
        "AlarmsTableName": {"Value": "sensorflow-cli-alarms"},
        "AlertsTopicArn": {"Value": {"Ref": "Topic"}},
    },
}


@pytest.fixture
def deployed() -> Iterator[None]:
    with mock_aws():
        create_alarms_table(boto3.client("dynamodb", region_name=REGION), "sensorflow-cli-alarms")
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName="sensorflow-cli", TemplateBody=json.dumps(TEMPLATE)
        )
        client_factory.reset()
        yield
        client_factory.reset()


def test_the_console_serves_the_stage_on_loopback_as_the_identified_caller(
    deployed: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    pages: list[tuple[int, str]] = []

    def serve_once(self: ConsoleServer) -> None:
        self.start()
        with urllib.request.urlopen(self.url, timeout=30) as response:
            pages.append((response.status, response.read().decode()))
        raise KeyboardInterrupt  # Ctrl-C

    monkeypatch.setattr(ConsoleServer, "serve_forever", serve_once)
    # WHEN `sensorflow console --stage cli --port 0 --by ana` runs until Ctrl-C
    assert cli.main(["console", "--stage", "cli", "--port", "0", "--by", "ana"]) == 0
    # THEN it said where and as whom, and served the stage's (empty) alarms page
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"sensorflow console for stage cli: http://127\.0\.0\.1:\d+/", out[0])
    arn = boto3.client("sts", region_name=REGION).get_caller_identity()["Arn"]
    assert out[1] == f"acting as ana ({arn}); Ctrl-C to stop"
    assert pages[0][0] == 200 and 'id="no-alarms"' in pages[0][1] and "stage cli" in pages[0][1]


def test_a_stage_without_a_stack_is_one_line_that_says_how_to_deploy_it(
    deployed: None, capsys: pytest.CaptureFixture[str]
):
    assert cli.main(["console", "--stage", "nosuch"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "sensorflow console: error: stack sensorflow-nosuch not found in this region; deploy it "
        "(npx sls deploy --stage nosuch) or check --stage, --region and AWS_ENDPOINT_URL"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "0.0.0.0"], "--host '0.0.0.0': the console serves on 127.0.0.1 only"),
        (["--host", "::"], "--host '::': the console serves on 127.0.0.1 only"),
        (["--port", "70000"], "--port 70000 is not a TCP port (0-65535)"),
        (["--by", " "], "--by is empty"),
    ],
)
def test_bad_flags_are_one_line_before_any_aws_call(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: Any
):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens: any AWS call would fail
    assert cli.main(["console", "--stage", "cli", *argv]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"sensorflow console: error: {message}")


def test_a_port_in_use_is_one_line_that_says_to_pick_another(
    deployed: None, capsys: pytest.CaptureFixture[str]
):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["console", "--stage", "cli", "--port", str(port)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"sensorflow console: error: port {port} on 127.0.0.1 is already in use; pick another with --port N"
    ]
