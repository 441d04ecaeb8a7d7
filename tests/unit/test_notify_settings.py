"""NotifySettings: the per-team webhook path and the Retry-After cap, read from the environment."""

from __future__ import annotations

import pytest

from sensorflow.config import NotifySettings
from sensorflow.core.errors import ConfigError

REQUIRED = {"NOTIFICATIONS_TABLE_NAME": "t", "WEBHOOK_URL_PARAMETER": "/sensorflow/test/webhook-url"}


def test_defaults_route_everything_to_the_default_webhook_and_cap_retry_after_at_10_s():
    settings = NotifySettings.from_env(REQUIRED)
    assert (settings.team_webhook_parameter_path, settings.webhook_retry_after_max_s) == (None, 10.0)


def test_the_team_path_and_the_cap_are_read():
    settings = NotifySettings.from_env(
        {
            **REQUIRED,
            "WEBHOOK_TEAM_PARAMETER_PATH": "/sensorflow/test/webhooks/teams/",
            "WEBHOOK_RETRY_AFTER_MAX_SECONDS": "20",
        }
    )
    assert settings.team_webhook_parameter_path == "/sensorflow/test/webhooks/teams"
    assert settings.webhook_retry_after_max_s == 20.0


@pytest.mark.parametrize("path", ["sensorflow/test/teams", "https://hooks.slack.com/services/T0/B0/SECRET"])
def test_a_team_path_that_is_not_a_parameter_path_is_refused_and_not_echoed(path):
    with pytest.raises(
        ConfigError, match="WEBHOOK_TEAM_PARAMETER_PATH must be an SSM parameter path"
    ) as info:
        NotifySettings.from_env({**REQUIRED, "WEBHOOK_TEAM_PARAMETER_PATH": path})
    assert "SECRET" not in str(info.value)
