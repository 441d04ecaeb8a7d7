"""``sensorflow local up|down|status``: run the local cloud in the foreground or detached."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sensorflow.cli.console import console_url
from sensorflow.cli.errors import UsageError
from sensorflow.localcloud.cloud import (
    DEFAULT_PORT,
    STATE_DIR,
    STATE_FILE,
    CloudInfo,
    LocalCloud,
    control_headers,
    pid_alive,
    project_root,
    read_state,
)
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.emulator.moto_server import PortInUseError, port_is_free
from sensorflow.localcloud.faults.plan import FaultPlan, FaultPlanError

DETACH_READY_TIMEOUT_S = 600
STATUS_REFRESH_S = 1.0


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "local",
        help="run sensorflow on a local cloud (moto server + the real serverless.yml + a Lambda runtime)",
        description="Deploy serverless.yml to a moto server on 127.0.0.1 and run its functions locally.",
    )
    sub = parser.add_subparsers(dest="local_command", metavar="{up,down,status}")
    up = sub.add_parser("up", help="start the local cloud (foreground with live status, or --detach)")
    up.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"moto server port (default {DEFAULT_PORT})"
    )
    up.add_argument("--detach", action="store_true", help="return once ready; stop later with `local down`")
    up.add_argument(
        "--faults",
        metavar="PLAN",
        help="a fault plan (JSON; examples/faults/) the proxy applies to the functions' AWS calls once ready",
    )
    up.add_argument(
        "--allow-unemulated",
        action="store_true",
        help="run a stack that uses settings the local runtime does not emulate (listed as warnings)",
    )
    up.set_defaults(func=run_up)
    down = sub.add_parser("down", help="stop a detached local cloud")
    down.set_defaults(func=run_down)
    status = sub.add_parser("status", help="records, invocations, failures and lag of a running local cloud")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=run_status)
    parser.set_defaults(func=lambda args: _usage(parser))
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def check_port(port: int) -> None:
    """A usage error unless ``port`` is a TCP port free on 127.0.0.1 (shared by `local up` and `demo`)."""
    if not 1 <= port <= 65535:
        raise UsageError(f"--port {port} is not a TCP port (1-65535)")
    if not port_is_free(port):
        raise UsageError(f"port {port} on 127.0.0.1 is already in use; pick another with --port N")


def _running() -> CloudInfo | None:
    info = read_state()
    if info is not None and not pid_alive(info.pid):
        (project_root() / STATE_DIR / STATE_FILE).unlink(missing_ok=True)
        return None
    return info


def print_ready(info: CloudInfo) -> None:
    print(f"sensorflow local cloud is up: {info.endpoint} (stack {info.stack}, pid {info.pid})")
    print("\n# to use it from a shell (aws CLI, boto3, npx sls invoke local):")
    for key, value in info.exports().items():
        print(f"export {key}={value}")
    print("\n# stack outputs:")
    for key, value in sorted(info.outputs.items()):
        print(f"export SENSORFLOW_{_snake(key).upper()}={value}")
    if info.webhook_log:
        print(f"\n# messages notify delivered to the loopback webhook: {info.webhook_log}")
    print(
        f"\n# operator console: {console_url()} once `sensorflow console --stage {info.stage}` runs "
        "(with the exports above)"
    )
    print(f"\n# logs: {info.log_dir}   status: sensorflow local status   stop: sensorflow local down")


def _snake(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name))


def run_up(args: argparse.Namespace) -> int:
    existing = _running()
    if existing is not None:
        raise UsageError(
            f"a local cloud is already running on {existing.endpoint} (pid {existing.pid}); "
            "stop it with `sensorflow local down`"
        )
    check_port(args.port)
    faults = load_fault_plan(args.faults)
    if args.detach:
        return _up_detached(args.port, faults, args.allow_unemulated)
    cloud = LocalCloud(port=args.port, faults=faults, allow_unemulated=args.allow_unemulated)
    stop = {"now": False}

    def _stop(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        info = cloud.up(progress=lambda line: print(line, flush=True))
        cloud.write_state()
        print_ready(info)
        print("\nlive status (Ctrl-C to stop):")
        while not stop["now"]:
            print(_status_line(cloud.status()), end="\r" if sys.stdout.isatty() else "\n", flush=True)
            time.sleep(STATUS_REFRESH_S if sys.stdout.isatty() else 10)
    except KeyboardInterrupt:
        pass
    except PortInUseError as exc:
        raise UsageError(f"{exc}; pick another with --port N") from exc
    except DeployError as exc:
        print(f"sensorflow local up: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nstopping the local cloud ...", flush=True)
        cloud.clear_state()
        cloud.down()
    return 0


def load_fault_plan(path: str | None) -> FaultPlan | None:
    """``--faults PLAN`` read and checked (shared by `local up` and `demo`); a bad plan is a usage error."""
    if not path:
        return None
    try:
        return FaultPlan.from_file(path)
    except FaultPlanError as exc:
        raise UsageError(f"--faults: {exc}") from None


def _up_detached(port: int, faults: FaultPlan | None = None, allow_unemulated: bool = False) -> int:
    root = project_root()
    log_dir = root / STATE_DIR / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "cloud.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sensorflow.localcloud.cloud",
                "--port",
                str(port),
                *(["--faults", str(Path(faults.source).resolve())] if faults is not None else []),
                *(["--allow-unemulated"] if allow_unemulated else []),
            ],
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    print(
        f"starting the local cloud on 127.0.0.1:{port} (deploying serverless.yml takes ~20 s) ...", flush=True
    )
    deadline = time.monotonic() + DETACH_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        info = read_state(root)
        if info is not None and info.pid == proc.pid:
            print_ready(info)
            return 0
        if proc.poll() is not None:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            print(
                f"sensorflow local up: the local cloud failed to start (log {log_path}):\n{tail}",
                file=sys.stderr,
            )
            return 1
        time.sleep(0.3)
    os.kill(proc.pid, signal.SIGTERM)
    print(f"sensorflow local up: not ready after {DETACH_READY_TIMEOUT_S}s (log {log_path})", file=sys.stderr)
    return 1


def run_down(args: argparse.Namespace) -> int:
    info = _running()
    if info is None:
        raise UsageError("no local cloud is running (start one with `sensorflow local up --detach`)")
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(info.pid):
        os.kill(info.pid, signal.SIGKILL)
    (project_root() / STATE_DIR / STATE_FILE).unlink(missing_ok=True)
    print(f"local cloud on {info.endpoint} stopped")
    return 0


def fetch_status(info: CloudInfo) -> dict[str, Any]:
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{info.control_port}/status", headers=control_headers(info.control_token)
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            status: dict[str, Any] = json.loads(response.read())
            return status
    except (OSError, ValueError) as exc:  # URLError and timeouts are OSErrors
        raise UsageError(
            f"the local cloud (pid {info.pid}) does not answer on its control port {info.control_port} "
            f"({exc}); see .sensorflow/logs/, or restart it with `sensorflow local down` and "
            "`sensorflow local up --detach`"
        ) from None


def run_status(args: argparse.Namespace) -> int:
    info = _running()
    if info is None:
        raise UsageError("no local cloud is running (start one with `sensorflow local up --detach`)")
    status = fetch_status(info)
    if args.json:
        print(json.dumps(status))
        return 0
    print(render_status(status))
    return 0


def _status_line(status: dict[str, Any]) -> str:
    seen = sum(s["records_seen"] for s in status["streams"].values())
    lag = max((s["iterator_age_ms"] for s in status["streams"].values()), default=0.0)
    invocations = sum(f["invocations"] for f in status["functions"].values())
    failures = sum(f["failures"] for f in status["functions"].values())
    quarantine = status["quarantine"]
    return (
        f"records {seen}  invocations {invocations}  failures {failures}  lag {lag:.0f} ms  "
        f"quarantine objects {quarantine['objects']}  on-failure {quarantine['on_failure_messages']}   "
    )


def render_status(status: dict[str, Any]) -> str:
    lines = [f"endpoint {status['endpoint']}   stack {status['stack']}", "", "streams"]
    lines.append(f"  {'name':<36} {'shards':>6} {'records':>9} {'pending':>8} {'lag ms':>8}")
    for name, s in status["streams"].items():
        lines.append(
            f"  {name:<36} {s['shards']:>6} {s['records_seen']:>9} {s['pending']:>8}"
            f" {s['iterator_age_ms']:>8.0f}"
        )
    lines += ["", "functions", f"  {'name':<36} {'invocations':>11} {'failures':>9} {'timeouts':>9}"]
    for name, f in status["functions"].items():
        lines.append(f"  {name:<36} {f['invocations']:>11} {f['failures']:>9} {f['timeouts']:>9}")
    lines += ["", "stream mappings"]
    for m in status["mappings"].values():
        lines.append(
            f"  {m['stream']} -> {m['function']}: delivered {m['records_delivered']}, "
            f"failed invocations {m['failed_invocations']}, retries {m['retries']}, "
            f"bisections {m['bisections']}, discarded {m['records_discarded']} records"
        )
    for name, d in status.get("subscriptions", {}).items():
        lines.append(
            f"  {d['kind']} {name} -> {d['function']}: delivered {d['delivered']}, dropped {d['dropped']}"
        )
    for name, q in status.get("queue_subscriptions", {}).items():
        lines.append(f"  sqs {name}: {q['topic'].rsplit(':', 1)[-1]} -> {q['queue'].rsplit(':', 1)[-1]}")
    q = status["quarantine"]
    lines += [
        "",
        f"quarantine: {q['objects']} objects ({q['bytes']} bytes); "
        f"on-failure queue: {q['on_failure_messages']} messages",
    ]
    webhook = status.get("webhook")
    if webhook:
        lines.append(f"webhook receiver: {webhook['messages']} messages (log {webhook['log']})")
    lines += render_fault_plan((status.get("faults") or {}).get("plan"))
    return "\n".join(lines)


def render_fault_plan(plan: dict[str, Any] | None) -> list[str]:
    """The fault plan's per-rule counters (``FaultProxy.status()["plan"]``), or nothing without a plan."""
    if not plan:
        return []
    lines = ["", f"fault plan {plan['plan']} (seed {plan['seed']}, {plan['elapsed_s']:.0f} s in)"]
    for r in plan["rules"]:
        window = ""
        if "start_s" in r or "end_s" in r:
            window = (
                f" [{r.get('start_s', 0):g}s..{r['end_s']:g}s]" if "end_s" in r else f" [{r['start_s']:g}s..]"
            )
        entries = f", {r['entries_failed']} entries failed" if r["kind"] == "partial" else ""
        lines.append(
            f"  {r['label']:<40} rate {r['rate']:<6g}{window}: "
            f"injected {r['injected']} of {r['calls']} calls{entries}"
        )
    return lines
