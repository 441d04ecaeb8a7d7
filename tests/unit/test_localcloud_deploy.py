"""The local cloud's deploy step fails with the fix when the project's osls is not installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from sensorflow.localcloud.deploy import DeployError, deploy
from sensorflow.localcloud.emulator.endpoint import Endpoint


def test_deploy_without_node_modules_says_run_make_setup(tmp_path: Path) -> None:
    # GIVEN a checkout where `make setup` never ran npm ci
    (tmp_path / "serverless.yml").write_text("service: x\n")
    # WHEN the local cloud deploys THEN it stops before npx with the fix, and never ran sls
    with pytest.raises(DeployError) as caught:
        deploy(Endpoint("http://127.0.0.1:9"), tmp_path, "local", tmp_path / "logs" / "deploy.log")
    assert str(caught.value) == "osls is not installed (node_modules/.bin/sls is missing): run `make setup`"
    assert not (tmp_path / "logs" / "deploy.log").exists()
