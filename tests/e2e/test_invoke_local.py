"""``npx sls invoke local`` against a running local cloud: the stack's Refs resolve against it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from sensorflow.localcloud.cloud import CloudInfo, LocalCloud

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> CloudInfo:
    assert local_cloud.info is not None
    return local_cloud.info  # the tier's shared local cloud (tests/e2e/conftest.py)


def invoke_local(info: CloudInfo, event_file: str, function: str = "ingest") -> dict[str, object]:
    # The exports `sensorflow local up` prints and a PATH without the venv: the exports' VIRTUAL_ENV
    # alone must make osls run the project's Python (before, this ended in a ModuleNotFoundError traceback).
    venv_bin = str(REPO / ".venv" / "bin")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if p != venv_bin)
    env = {**os.environ, **info.exports(), "PATH": path}
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run(
        [
            "npx",
            "--no-install",
            "sls",
            "invoke",
            "local",
            "-f",
            function,
            "--stage",
            "local",
            "--path",
            event_file,
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # The handler's return value is the last JSON document osls prints (logs come before it).
    text = proc.stdout
    start = text.rstrip().rfind("\n{")
    response: dict[str, object] = json.loads(text[start + 1 :] if start >= 0 else text)
    return response


def test_sls_invoke_local_returns_the_handlers_response(cloud: CloudInfo) -> None:
    assert invoke_local(cloud, "events/ingest-valid.json") == {"batchItemFailures": []}


def test_sls_invoke_local_writes_to_the_local_stack(cloud: CloudInfo) -> None:
    # WHEN the poison sample (malformed and unknown-device records) is invoked locally
    assert invoke_local(cloud, "events/ingest-poison.json") == {"batchItemFailures": []}
    # THEN its quarantine lines are in the local cloud's quarantine bucket
    from sensorflow.localcloud.emulator.endpoint import Endpoint

    s3 = Endpoint(cloud.endpoint).client("s3")
    listing = s3.list_objects_v2(Bucket=cloud.outputs["QuarantineBucketName"], Prefix="quarantine/")
    assert listing.get("KeyCount", 0) >= 1


def test_sls_invoke_local_runs_the_failures_function_on_its_sample(cloud: CloudInfo) -> None:
    # The sample's ranges are not in the local stream: their metadata is quarantined, nothing is retried.
    response = invoke_local(cloud, "events/failures-retries-exhausted.json", "failures")
    assert response == {"batchItemFailures": []}
