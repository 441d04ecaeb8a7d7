"""Test-run wiring shared by every tier.

``make test`` runs pytest on both cores (pytest-xdist). Whatever runs ``npx sls package`` /
``sls deploy`` in the checkout (the e2e tier's local clouds, the packaged-template tests) writes the same
``.serverless/`` directory, so those tests form one scope that a single worker runs one after another;
every other test is its own scope, spread over both workers. (A scheduler rather than xdist's
``loadgroup``: that one marks groups by rewriting ``item._nodeid``, which pytest 9 no longer reads.)
"""

from __future__ import annotations

from typing import Any

# Modules outside tests/e2e whose fixtures package the template in the checkout.
SERVERLESS_MODULES = (
    "tests/integration/test_packaging.py",
    "tests/integration/test_template_security.py",
    "tests/integration/test_security_doc.py",
    "tests/integration/test_operator_policy.py",
    "tests/integration/test_monitoring.py",
)
SERVERLESS_SCOPE = "serverless"


def scope_of(nodeid: str) -> str:
    """The scheduling scope of a test: the shared one for osls users, else the test itself."""
    module = nodeid.split("::", 1)[0]
    if module.startswith("tests/e2e/") or module in SERVERLESS_MODULES:
        return SERVERLESS_SCOPE
    return nodeid


class _ServerlessScheduling:
    """The xdist hook, registered only when xdist is loaded (pytest refuses unknown hooks otherwise)."""

    @staticmethod
    def pytest_xdist_make_scheduler(config: Any, log: Any) -> Any:
        from xdist.scheduler import LoadScopeScheduling

        class ServerlessScopeScheduling(LoadScopeScheduling):  # type: ignore[misc]
            def _split_scope(self, nodeid: str) -> str:
                return scope_of(nodeid)

        return ServerlessScopeScheduling(config, log)


def pytest_configure(config: Any) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_ServerlessScheduling(), "sensorflow-serverless-scheduling")
