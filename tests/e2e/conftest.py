"""End-to-end tier: a real local cloud (moto server + ``npx sls deploy`` + the local Lambda runtime)."""

from __future__ import annotations

import shutil

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session", autouse=True)
def _needs_node() -> None:
    if shutil.which("npx") is None:
        pytest.fail("npx not found: the e2e tier needs Node.js (run `make setup`)")
