"""The sensorflow CLI turns AWS set-up problems into one line with the fix, exit 2, no traceback."""

from __future__ import annotations

import pytest

from sensorflow.cli import main as cli


def test_missing_region_is_one_line_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    assert cli.main(["alarms", "list", "--stage", "nosuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "sensorflow alarms: error: no AWS region: pass --region or export AWS_DEFAULT_REGION (e.g. us-east-1)"
    ]


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]):
    assert cli.main([]) == 2
    assert "simulate" in capsys.readouterr().out
