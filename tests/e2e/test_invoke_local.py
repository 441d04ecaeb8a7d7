"""``npx sls invoke local`` against a running local cloud: the stack's Refs resolve against it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorflow.localcloud.cloud import CloudInfo, LocalCloud

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudInfo]:
    local = LocalCloud(port=0, root=REPO, state_dir=tmp_path_factory.mktemp("localcloud"))
    try:
        yield local.up()
    finally:
        local.down()


def invoke_local(info: CloudInfo, event_file: str) -> dict[str, object]:
    env = {**os.environ, **info.exports(), "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    env.pop("AWS_PROFILE", None)
    proc = subprocess.run(
        [
            "npx",
            "--no-install",
            "sls",
            "invoke",
            "local",
            "-f",
            "ingest",
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
