"""Test-run wiring shared by every tier.

``make test`` runs pytest on both cores (pytest-xdist, ``--dist loadgroup``). Whatever runs
``npx sls package`` / ``sls deploy`` in the checkout (the e2e tier's local clouds, the packaged-template
tests) writes the same ``.serverless/`` directory, so those tests are kept in one group, on one worker,
one after another; everything else is spread over both.
"""

from __future__ import annotations

import pytest

# Modules outside tests/e2e whose fixtures package the template in the checkout.
_SERVERLESS_MODULES = {
    "test_packaging.py",
    "test_template_security.py",
    "test_security_doc.py",
    "test_operator_policy.py",
    "test_monitoring.py",
}


def _uses_serverless(item: pytest.Item) -> bool:
    path = item.path
    return (
        "e2e" in path.parts
        or path.name in _SERVERLESS_MODULES
        or item.get_closest_marker("packaging") is not None
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _uses_serverless(item):
            item.add_marker(pytest.mark.xdist_group("serverless"))
