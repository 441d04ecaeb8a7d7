"""Resident memory of the local cloud's processes, read from Linux's ``/proc`` (no psutil).

The Lambda workers are this process's children started as ``python -m
sensorflow.localcloud.emulator.worker_process``; each carries its function's name in its environment
(``AWS_LAMBDA_FUNCTION_NAME``, as Lambda sets it). The moto server is the child running ``moto_server``.
Finding them by parent and command line keeps the soak from reaching into the runtime's private state.
On a system without ``/proc`` every reader answers empty (the soak then reports no memory verdict).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
WORKER_MODULE = "sensorflow.localcloud.emulator.worker_process"
MOTO_MODULE = "sensorflow.localcloud.emulator.moto_server"
FUNCTION_VARIABLE = b"AWS_LAMBDA_FUNCTION_NAME="


@dataclass(frozen=True, slots=True)
class Process:
    pid: int
    role: str  # "worker" or "moto"
    function: str | None  # a worker's function name
    rss_kib: int


def rss_kib(pid: int, proc: Path = PROC) -> int | None:
    """``VmRSS`` of ``pid`` in KiB; None when it has gone (or is a zombie, which has no VmRSS line)."""
    try:
        text = (proc / str(pid) / "status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def parent_pid(pid: int, proc: Path = PROC) -> int | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
    fields = stat.rsplit(")", 1)[-1].split()
    return int(fields[1]) if len(fields) > 1 else None


def _cmdline(pid: int, proc: Path) -> list[bytes]:
    try:
        return (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _function_name(pid: int, proc: Path) -> str | None:
    try:
        environ = (proc / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(FUNCTION_VARIABLE):
            return item[len(FUNCTION_VARIABLE) :].decode(errors="replace")
    return None


def local_cloud_processes(parent: int | None = None, proc: Path = PROC) -> list[Process]:
    """The workers and the moto server among ``parent``'s children (default: this process), with RSS."""
    parent = os.getpid() if parent is None else parent
    found: list[Process] = []
    try:
        pids = [int(p.name) for p in proc.iterdir() if p.name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        if parent_pid(pid, proc) != parent:
            continue
        argv = _cmdline(pid, proc)
        role = (
            "worker" if WORKER_MODULE.encode() in argv else "moto" if MOTO_MODULE.encode() in argv else None
        )
        if role is None:
            continue
        rss = rss_kib(pid, proc)
        if rss is None:
            continue
        found.append(Process(pid, role, _function_name(pid, proc) if role == "worker" else None, rss))
    return sorted(found, key=lambda p: p.pid)
