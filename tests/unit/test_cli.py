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


# --- operator commands: every bad flag is one line that says the fix, before any AWS call -------------

FUTURE = "2099-01-01T00:00:00Z"
ALARM = "dev-00001#temperature#temperature-range"
ADD = ["silences", "add", "--match", "site=a"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["silences", "add", "--match", "room=101", "--for", "2h", "--comment", "x"],
            "--match 'room=101': unknown field 'room'; use one of site, owner_team, sensor_type, device_id",
        ),
        (
            ["silences", "add", "--match", "plant-a", "--for", "2h", "--comment", "x"],
            "--match 'plant-a' is not FIELD=VALUE, e.g. site=plant-a",
        ),
        (
            ["silences", "add", "--for", "2h", "--comment", "x"],
            "a silence needs at least one --match FIELD=VALUE "
            "(fields: site, owner_team, sensor_type, device_id)",
        ),
        (
            ["silences", "add", "--match", "site=a", "--for", "2h", "--until", FUTURE, "--comment", "x"],
            "give --for DURATION or --until TIME, not both",
        ),
        (
            ["silences", "add", "--match", "site=a", "--comment", "x"],
            "say until when: --for DURATION (e.g. 2h) or --until TIME (e.g. 2026-11-29T18:00:00Z)",
        ),
        (
            ["silences", "add", "--match", "site=a", "--until", "2020-01-01T00:00:00Z", "--comment", "x"],
            "--until '2020-01-01T00:00:00Z' is not in the future",
        ),
        (
            ["silences", "add", "--match", "site=a", "--until", "2099-01-01T00:00:00", "--comment", "x"],
            "--until '2099-01-01T00:00:00' has no time zone; add Z for UTC or an offset like +01:00",
        ),
        (
            ["silences", "add", "--match", "site=a", "--for", "soon", "--comment", "x"],
            "--for 'soon' is not a duration; use e.g. 30m, 2h, 1h30m, 1d or 90s",
        ),
        (
            ["silences", "add", "--match", "site=a", "--for", "2h"],
            "--comment TEXT is required: say why (it goes with every suppressed event)",
        ),
        (
            ["silences", "add", "--match", "site=a", "--for", "2h", "--comment", "  "],
            "--comment TEXT is required: say why (it goes with every suppressed event)",
        ),
        (
            [*ADD, "--starts", "2099-02-01T00:00:00Z", "--until", FUTURE, "--comment", "x"],
            "--until '2099-01-01T00:00:00Z' is not after --starts '2099-02-01T00:00:00Z'",
        ),
        (
            ["silences", "add", "--match", "site=a", "--starts", "tomorrow", "--for", "2h", "--comment", "x"],
            "--starts 'tomorrow' is not an ISO-8601 time, e.g. 2026-11-29T18:00:00Z",
        ),
        (
            ["silences", "add", "--match", "site=a", "--for", "2h", "--comment", "x", "--by", " "],
            "--by is empty: say who acts with --by NAME, or leave it out to use $USER",
        ),
        (
            ["silences", "expire", "s-0123456789", "--by", ""],
            "--by is empty: say who acts with --by NAME, or leave it out to use $USER",
        ),
        (
            ["alarms", "disable", ALARM],
            "disable needs --reason TEXT: say why the alarm stops being evaluated (it is recorded and "
            "carried by Alarm Disabled); add --for/--until to enable it again by itself",
        ),
        (
            ["alarms", "disable", ALARM, "--reason", "swap", "--for", "1d", "--until", FUTURE],
            "give --for DURATION or --until TIME, not both",
        ),
        (
            ["alarms", "disable", ALARM, "--reason", "swap", "--until", "2020-01-01T00:00:00Z"],
            "--until '2020-01-01T00:00:00Z' is not in the future",
        ),
        (
            ["alarms", "snooze", ALARM],
            "say until when: --for DURATION (e.g. 2h) or --until TIME (e.g. 2026-11-29T18:00:00Z)",
        ),
        (
            ["alarms", "ack", ALARM, "--by", ""],
            "--by is empty: say who acts with --by NAME, or leave it out to use $USER",
        ),
        (
            ["alarms", "ack", ALARM, "--note", "x" * 1025],
            "--note is 1025 characters, over the cap of 1024 characters; shorten it",
        ),
        (
            ["alarms", "disable", ALARM, "--reason", "y" * 2000],
            "--reason is 2000 characters, over the cap of 1024 characters; shorten it",
        ),
        (
            ["alarms", "ack", ALARM, "--by", "z" * 129],
            "--by is longer than 128 characters; give a shorter name",
        ),
    ],
)
def test_operator_flags_are_checked_with_the_fix_before_any_aws_call(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
):
    # GIVEN no AWS set-up at all: a check that reached AWS would report the missing region instead
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    # WHEN the operator runs the command THEN one line names what is wrong and how to fix it
    assert cli.main([*argv, "--stage", "dev"]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"sensorflow {argv[0]}: error: {message}"]


def test_the_default_by_is_user_else_the_callers_arn_name(monkeypatch: pytest.MonkeyPatch):
    from sensorflow.cli.operator import Operator, arn_name, identify

    class Sts:
        def get_caller_identity(self) -> dict[str, str]:
            return {"Arn": "arn:aws:sts::123456789012:assumed-role/Ops/ana@example.com"}

    arn = "arn:aws:sts::123456789012:assumed-role/Ops/ana@example.com"
    monkeypatch.setenv("USER", "ana")
    assert identify(Sts(), None) == Operator("ana", arn)
    assert identify(Sts(), "bo") == Operator("bo", arn)
    monkeypatch.delenv("USER")
    assert identify(Sts(), None) == Operator("ana@example.com", arn)
    assert [arn_name(a) for a in ("arn:aws:iam::1:user/ops/bo", "arn:aws:iam::1:root")] == ["bo", "root"]
