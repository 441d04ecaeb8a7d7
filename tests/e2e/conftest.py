"""End-to-end tier: a real local cloud (moto server + ``npx sls deploy`` + the local Lambda runtime)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorflow.localcloud.cloud import LocalCloud

REPO = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _needs_node() -> None:
    if shutil.which("npx") is None:
        pytest.fail("npx not found: the e2e tier needs Node.js (run `make setup`)")


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """One local cloud (moto + ``sls deploy --stage local`` + runtime) for the tier's tests that only
    need a running stack: deploying costs most of a minute. A test that changes it (a fault armed at the
    proxy) puts it back before it returns."""
    local = LocalCloud(port=0, root=REPO, state_dir=tmp_path_factory.mktemp("localcloud"))
    try:
        local.up()
        yield local
    finally:
        local.down()
