"""The consumer handlers import with no environment and no network; settings name what is missing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sensorflow.config import HeartbeatSettings, IncidentsSettings, NotifySettings
from sensorflow.core.errors import ConfigError


def test_handlers_import_with_an_empty_environment_and_no_network():
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.getcwd()}
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise RuntimeError('network call at import')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "import handlers.ingest, handlers.notify, handlers.incidents, handlers.heartbeat\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            NotifySettings,
            "notify: missing environment variable(s) NOTIFICATIONS_TABLE_NAME, WEBHOOK_URL_PARAMETER",
        ),
        (IncidentsSettings, "incidents: missing environment variable(s) INCIDENTS_TABLE_NAME"),
        (
            HeartbeatSettings,
            "heartbeat: missing environment variable(s) ALARMS_TABLE_NAME, ALERTS_TOPIC_ARN, "
            "ALERTS_EVENT_BUS_NAME",
        ),
    ],
)
def test_missing_settings_are_named(settings, message):
    with pytest.raises(ConfigError) as info:
        settings.from_env({})
    assert str(info.value).startswith(message)


def test_the_webhook_url_itself_is_refused_as_a_parameter_name_and_not_echoed():
    url = "https://hooks.slack.com/services/T0/B0/SECRET"
    with pytest.raises(ConfigError) as info:
        NotifySettings.from_env({"NOTIFICATIONS_TABLE_NAME": "t", "WEBHOOK_URL_PARAMETER": url})
    assert "SECRET" not in str(info.value)
