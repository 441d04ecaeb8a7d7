"""``sensorflow local`` and ``sensorflow demo`` reject bad flags with one clear line and exit 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from sensorflow.cli.main import main


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield int(sock.getsockname()[1])


def test_local_up_on_a_busy_port_is_a_usage_error(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "up", "--port", str(busy_port), "--detach"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = f"port {busy_port} on 127.0.0.1 is already in use; pick another with --port N"
    assert err == [f"sensorflow local: error: {expected}"]


def test_demo_on_a_busy_port_is_a_usage_error(busy_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--port", str(busy_port)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = f"port {busy_port} on 127.0.0.1 is already in use; pick another with --port N"
    assert err == [f"sensorflow demo: error: {expected}"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--devices", "0"], "sensorflow demo: error: --devices 0: need at least 1 device"),
        (
            ["demo", "--duration", "-5"],
            "sensorflow demo: error: --duration -5: must be a positive number of seconds",
        ),
        (
            ["local", "up", "--port", "70000"],
            "sensorflow local: error: --port 70000 is not a TCP port (1-65535)",
        ),
        (["demo", "--port", "70000"], "sensorflow demo: error: --port 70000 is not a TCP port (1-65535)"),
        (["demo", "--port", "-1"], "sensorflow demo: error: --port -1 is not a TCP port (1-65535)"),
    ],
)
def test_bad_flags(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == message


def test_status_and_down_without_a_running_cloud(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "serverless.yml").write_text("service: x\n")
    monkeypatch.chdir(tmp_path)
    for command in ("status", "down"):
        assert main(["local", command]) == 2
        assert "no local cloud is running" in capsys.readouterr().err
