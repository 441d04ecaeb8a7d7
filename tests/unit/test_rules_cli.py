"""``sensorflow rules check FILE``: the functions' own start-up validation, from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorflow.cli import main as cli

SHIPPED = "sensorflow/rules.json"


def write(tmp_path: Path, doc: object) -> str:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_a_valid_file_prints_ok_and_its_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    # GIVEN a file with a comparison-form rule, latched and reminding every 15 minutes
    rule = {
        "id": "door-open",
        "sensor_type": "vibration",
        "critical": {"op": ">=", "threshold": 11.2},
        "latch": True,
        "repeat_every": 900,
    }
    path = write(tmp_path, {"version": 2, "rules": [rule]})
    # WHEN it is checked THEN it exits 0 with the count and a table of its rules
    assert cli.main(["rules", "check", path]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{path}: 1 rules OK",
        "id         sensor_type  levels            latch  repeat_every",
        "door-open  vibration    critical >= 11.2  yes    900s",
    ]
    assert out.err == ""


def test_the_shipped_rules_pass(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["rules", "check", SHIPPED]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{SHIPPED}: 5 rules OK"
    assert lines[3].split()[:5] == ["humidity-range", "humidity", "warning", ">", "80;"]


def test_an_invalid_file_prints_the_functions_message_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a rule whose reminder interval is below the minimum
    rule = {"id": "t", "sensor_type": "co2", "warning": {"max": 1000}, "repeat_every": 30}
    path = write(tmp_path, {"version": 2, "rules": [rule]})
    # WHEN it is checked THEN the message names the rule and field, on one line, with no traceback
    assert cli.main(["rules", "check", path]) == 1
    out = capsys.readouterr()
    assert (out.out, out.err) == (
        "",
        "sensorflow rules: error: rule 't': field 'repeat_every' must be a whole number from 60 to 604800, "
        "got 30\n",
    )


def test_a_missing_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = str(tmp_path / "nope.json")
    assert cli.main(["rules", "check", path]) == 1
    assert capsys.readouterr().err == f"sensorflow rules: error: rules file {path} does not exist\n"


def test_json_reports_the_rules(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["rules", "check", SHIPPED, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["file"], doc["ok"], len(doc["rules"])) == (SHIPPED, True, 5)
    assert doc["rules"][1] == {
        "id": "humidity-range",
        "sensor_type": "humidity",
        "levels": {"warning": "> 80", "critical": "> 90"},
        "latch": False,
        "repeat_every": None,
        "disabled_on_initialization": False,
    }


def test_json_reports_the_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = write(
        tmp_path, {"version": 2, "rules": [{"id": "t", "sensor_type": "co2", "warning": {"op": "~"}}]}
    )
    assert cli.main(["rules", "check", path, "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "file": path,
        "ok": False,
        "error": "rule 't': field 'warning.threshold' is required in the form {'op', 'threshold'}",
    }
