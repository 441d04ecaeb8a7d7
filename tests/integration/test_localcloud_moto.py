"""A moto server whose parent dies without stopping it (SIGKILL, a test timeout) does not linger."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sensorflow.localcloud.cloud import pid_alive

REPO = Path(__file__).resolve().parents[2]
PARENT = """
import sys, time
from sensorflow.localcloud.emulator.moto_server import MotoServer
server = MotoServer(0).start()
print(server.pid, flush=True)
time.sleep(600)
"""


def test_the_moto_server_stops_when_its_parent_is_killed() -> None:
    # GIVEN a process that started a moto server (in the server's own session)
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=REPO, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True
    )
    assert parent.stdout is not None
    moto_pid = int(parent.stdout.readline())
    try:
        assert pid_alive(moto_pid)
        # WHEN the parent is killed without a chance to stop it
        parent.kill()
        parent.wait()
        # THEN the server notices it was orphaned and exits (bounded wait, not a timing assertion)
        deadline = time.monotonic() + 30
        while _running(moto_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _running(moto_pid)
    finally:
        if _running(moto_pid):
            os.kill(moto_pid, signal.SIGKILL)
        parent.stdout.close()


def _running(pid: int) -> bool:
    """Alive and not a zombie: the orphan is reaped by init, a zombie would only linger in this test."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        return pid_alive(pid)
