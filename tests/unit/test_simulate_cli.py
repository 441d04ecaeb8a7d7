"""``sensorflow simulate``: flags, config files, dry runs and clear errors (no AWS needed)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest

from sensorflow.cli.main import main
from sensorflow.core.decode import ReadingDecoder
from sensorflow.simulate import manifest
from sensorflow.simulate.progress import ProgressBar

START = "2026-01-01T00:00:00Z"
START_MS = 1_767_225_600_000


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(["simulate", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_help_documents_flags_examples_and_reproducibility(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--help"])
    text = capsys.readouterr().out

    assert exit_.value.code == 0
    for flag in (
        "--devices",
        "--duration",
        "--interval",
        "--seed",
        "--rate",
        "--malformed-rate",
        "--scenario-rate",
        "--min-excursions",
        "--trailing-dropouts",
        "--config",
        "--fleet",
        "--start",
        "--stage",
        "--stream",
        "--out",
        "--manifest",
        "--region",
        "--quiet",
    ):
        assert flag in text
    assert "byte-for-byte identical" in text
    assert "AWS_ENDPOINT_URL" in text and "examples:" in text


def test_dry_run_writes_json_lines_byte_for_byte_reproducibly(capsys, tmp_path: Path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    flags = ["--devices", "12", "--duration", "900", "--seed", "5"]

    rc_a, out, err = _run(capsys, *flags, "--start", START, "--out", str(a))
    rc_b, _, _ = _run(capsys, *flags, "--start", str(START_MS), "--out", str(b))

    assert (rc_a, rc_b, err) == (0, 0, "")
    assert a.read_bytes() == b.read_bytes()
    lines = a.read_text().splitlines()
    assert out.startswith(f"wrote {len(lines):,} records")
    assert f"--seed 5 --start {START_MS}" in out
    first = json.loads(lines[0])
    assert set(first) == {"partition_key", "data", "truth"}
    reading = ReadingDecoder().decode(base64.b64decode(first["data"]))
    assert (reading.device_id, reading.seq) == (first["truth"]["device_id"], first["truth"]["seq"])
    keys = {r.partition_key for r in manifest.read(a) if not r.partition_key.startswith("ghost-")}
    assert keys == {f"dev-{n:05d}" for n in range(12)}


def test_config_file_sets_fleet_mix_and_defaults_and_flags_win(capsys, tmp_path: Path):
    fleet = [
        {
            "device_id": "boiler-1",
            "site": "plant-x",
            "location": "basement",
            "model": "B-1",
            "owner_team": "heat",
            "sensor_types": ["temperature", "pressure"],
            "interval_s": 5,
            "units": {"temperature": "K", "pressure": "bar"},
        }
    ]
    (tmp_path / "fleet.json").write_text(json.dumps(fleet))
    config = tmp_path / "sim.json"
    config.write_text(
        json.dumps(
            {
                "fleet": "fleet.json",
                "duration_s": 60,
                "seed": 1,
                "start": START,
                "scenario_rate": 0.5,
                "malformed_rate": 0,
                "scenarios": {"spike": 1},
            }
        )
    )
    out = tmp_path / "out.jsonl"

    rc, _, err = _run(capsys, "--config", str(config), "--duration", "120", "--out", str(out))

    records = list(manifest.read(out))
    assert (rc, err) == (0, "")
    assert {r.truth["device_id"] for r in records} == {"boiler-1"}
    assert {r.truth["scenario"] for r in records} == {None, "spike"}
    assert {r.truth["unit"] for r in records} == {"K", "bar"}
    assert len({r.truth["tick_ms"] for r in records}) == 24  # 120 s every 5 s: the flag beat the config


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--devices", "201", "--out", "x"], "--devices 201 exceeds the 200 devices in fleet.json"),
        (["--devices", "ten", "--out", "x"], "--devices must be a whole number >= 1; got 'ten'"),
        (["--duration", "soon", "--out", "x"], "--duration must be a number; got 'soon'"),
        (["--rate", "0", "--out", "x"], "rate (--rate) must be a positive number"),
        (["--scenario-rate", "-0.1", "--out", "x"], "scenario_rate (--scenario-rate) must be a probability"),
        (
            ["--start", "tomorrow", "--out", "x"],
            "--start 'tomorrow' is neither epoch milliseconds nor ISO-8601",
        ),
        (["--seed", "-3", "--out", "x"], "--seed must be a whole number >= 0"),
        (
            ["--fleet", "/nonexistent/fleet.json", "--out", "x"],
            "fleet file /nonexistent/fleet.json does not exist",
        ),
        (["--config", "/nonexistent/c.json", "--out", "x"], "--config /nonexistent/c.json does not exist"),
        (["--out", "x", "--stream", "s"], "--out is a dry run and publishes nothing"),
        (["--stream", "s", "--stage", "dev"], "pass either --stream NAME or --stage STAGE, not both"),
        ([], "nowhere to send: pass --stream NAME or --stage STAGE"),
        (["--stage", "dev/../x"], "--stage 'dev/../x' is not a stage name"),
        (["--out", "/nonexistent/dir/out.jsonl"], "--out /nonexistent/dir/out.jsonl: cannot write"),
        (["--min-excursions", "-1", "--out", "x"], "--min-excursions must be a whole number >= 0; got '-1'"),
        (["--trailing-dropouts", "two", "--out", "x"], "--trailing-dropouts must be a whole number >= 0"),
        (
            ["--devices", "4", "--min-excursions", "3", "--trailing-dropouts", "2", "--out", "x"],
            "min_excursions + trailing_dropouts (3 + 2) must not exceed the 4 devices",
        ),
        (
            ["--duration", "120", "--min-excursions", "3", "--out", "x"],
            "fit in 120 s of device time on 200 devices; use --duration",
        ),
    ],
)
def test_bad_usage_is_one_line_with_a_fix_and_exit_2(capsys, argv, message):
    rc, out, err = _run(capsys, *argv)

    assert rc == 2 and out == ""
    assert err.startswith("sensorflow simulate: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[1, 2]", "must hold a JSON object"),
        ('{"devices": 3, "colour": "red"}', "unknown key(s) colour"),
        ('{"scenarios": {"meteor": 1}}', "scenarios: unknown name(s) meteor"),
        ('{"malformed": {"truncated": -1}}', "weight of truncated must be >= 0"),
        ('{"fleet": [{"device_id": "x"}]}', "c.json: fleet[0]: missing site, location"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_bad_config_files_are_usage_errors(capsys, tmp_path: Path, config, message):
    path = tmp_path / "c.json"
    path.write_text(config)

    rc, _, err = _run(capsys, "--config", str(path), "--out", str(tmp_path / "o.jsonl"))

    assert rc == 2 and message in err and err.count("\n") == 1


def test_publishing_without_credentials_is_a_clear_error(capsys, monkeypatch, tmp_path: Path):
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never reach for 169.254.169.254

    rc, _, err = _run(capsys, "--stream", "sensors", "--region", "us-east-1", "--devices", "1")

    assert rc == 2
    assert "find stream sensors: no AWS credentials: set AWS_PROFILE" in err
    assert err.count("\n") == 1


def test_progress_bar_draws_device_time_and_totals():
    stream = io.StringIO()
    bar = ProgressBar(stream, start_ms=0, end_ms=1000, enabled=True)
    bar.device_ms = 500

    bar.update(1234, 2, 5_000_000, final=False)
    bar.close()

    line = stream.getvalue()
    assert line.startswith("\r[" + "#" * 14 + "." * 14 + "]  50% device time  sent 1,234  failed 2  5.0 MB")
    assert line.endswith("rec/s \n")


def test_the_lambda_code_path_never_imports_the_simulator():
    repo = Path(__file__).resolve().parents[2]
    sources = [*repo.glob("sensorflow/core/**/*.py"), *repo.glob("sensorflow/adapters/**/*.py")]
    sources += [
        *repo.glob("handlers/**/*.py"),
        *repo.glob("sensorflow/services/ingest.py"),
        *repo.glob("sensorflow/bootstrap.py"),
    ]
    assert sources
    offenders = [str(p) for p in sources if "sensorflow.simulate" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_forced_alarm_scenarios_and_their_predicted_transitions_in_the_summary(capsys, tmp_path: Path):
    out_file = tmp_path / "alarms.jsonl"
    rc, out, err = _run(
        capsys,
        *("--devices", "10", "--duration", "900", "--seed", "4", "--start", START),
        *("--scenario-rate", "0", "--malformed-rate", "0"),
        *("--min-excursions", "3", "--trailing-dropouts", "1", "--out", str(out_file)),
    )

    assert rc == 0 and err == ""
    assert "alarms     Alarm Raised 3  Alarm Escalated 3  Alarm Cleared 3  Device Stale 1 (predicted" in out
    lines = out_file.read_text().splitlines()
    caused = [e for line in lines for e in json.loads(line)["truth"].get("expected_transitions", [])]
    assert [e["transition"] for e in caused].count("Alarm Raised") == 3
