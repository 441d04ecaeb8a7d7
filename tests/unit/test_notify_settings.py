"""NotifySettings: the per-team webhook path, the Retry-After cap and the local stage's loopback setting,
read from the environment."""

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


def test_plain_http_to_loopback_is_off_unless_the_stage_turns_it_on():
    assert NotifySettings.from_env(REQUIRED).webhook_allow_loopback_http is False
    on = {**REQUIRED, "WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}
    assert NotifySettings.from_env(on).webhook_allow_loopback_http is True
    off = {**REQUIRED, "WEBHOOK_ALLOW_LOOPBACK_HTTP": "False"}
    assert NotifySettings.from_env(off).webhook_allow_loopback_http is False


def test_a_loopback_setting_that_is_not_a_boolean_is_refused():
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOW_LOOPBACK_HTTP='yes' must be true or false"):
        NotifySettings.from_env({**REQUIRED, "WEBHOOK_ALLOW_LOOPBACK_HTTP": "yes"})
