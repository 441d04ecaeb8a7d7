"""``sensorflow quarantine`` flags: ``--since`` forms, and each bad flag a one-line error with the fix, before
any AWS call."""

from __future__ import annotations

import pytest

from sensorflow.cli import main as cli
from sensorflow.cli import quarantine_command as qc
from sensorflow.cli.errors import UsageError

NOW = 1_796_000_000_000  # 2026-11-30T00:53:20Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - 2 * 3_600_000),
        ("7d", NOW - 7 * 86_400_000),
        ("1d12h", NOW - 36 * 3_600_000),
        ("90s", NOW - 90_000),
        ("2026-11-29T00:00:00Z", 1_795_910_400_000),
        ("2026-11-29T01:00:00+01:00", 1_795_910_400_000),
        ("2026-11-29T00:00:00.250Z", 1_795_910_400_250),
    ],
)
def test_since_takes_a_duration_or_an_iso_time(text: str, expected: int):
    assert qc.parse_since(text, NOW) == expected


def test_since_absent_is_none():
    assert qc.parse_since(None, NOW) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "--since 'yesterday' is neither a duration nor a time; use e.g. 2h, 7d"),
        ("2026-11-29T00:00:00", "has no time zone; add Z for UTC"),
        ("2026-13-01T00:00:00Z", "is not an ISO-8601 time"),
        ("0h", "must be longer than zero"),
        ("2030-01-01T00:00:00Z", "is in the future"),
    ],
)
def test_bad_since_says_what_to_give(text: str, message: str):
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        qc.parse_since(text, NOW)


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(region: str | None) -> None:
        raise AssertionError("a bad flag must be reported before any AWS call")

    monkeypatch.setattr(qc, "aws_session", refuse)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["list", "--since", "soon"], "--since 'soon' is neither a duration nor a time"),
        (["list", "--limit", "0"], "--limit '0' is not a positive whole number; use e.g. --limit 50"),
        (["list", "--reason", "Unknown Device"], "--reason 'Unknown Device' is not a quarantine reason"),
        (["list", "--device", " "], "--device is empty; give a device id"),
        (["show", "nope"], "'nope' is not a record id; give KEY#INDEX or a content-hash prefix"),
        (["redrive"], "say what to redrive: give IDs"),
        (
            ["redrive", "--reason", "unknown_device", "--max-attempts", "x"],
            "--max-attempts 'x' is not a positive",
        ),
        (["redrive", "abc"], "'abc' is not a record id"),
        (["redrive", "--device", "d-1", "--by", " "], "--by is empty"),
        (["list", "--stage", "bad stage"], "is not a stage name"),
    ],
)
def test_bad_flags_are_one_line_errors_with_the_fix(argv, message, no_aws, capsys):
    full = ["quarantine", *argv] + ([] if "--stage" in argv else ["--stage", "dev"])
    assert cli.main(full) == 2
    err = capsys.readouterr().err
    assert err.startswith("sensorflow quarantine: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_command_is_registered():
    assert "quarantine" in cli.build_parser().format_help()
