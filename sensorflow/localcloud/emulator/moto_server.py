"""A moto server on loopback, in its own process (its own GIL), with Lambda's Docker backend off.

moto's Lambda backend tries to run every Kinesis record through Docker when an event source mapping
exists; with ``lambda.use_docker`` off it stores functions and mappings but runs nothing, which is what
we want: ``sensorflow.localcloud.emulator.runtime`` runs them.

Run as ``python -m sensorflow.localcloud.emulator.moto_server --port N``: prints ``ready <port>``
when listening.
"""

from __future__ import annotations

import argparse
import errno
import io
import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

from sensorflow.localcloud.emulator.origin_guard import FORBIDDEN_STATUS, refusal, refusal_body

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0
PARENT_POLL_S = 1.0
# Never handed to moto: it needs no credentials, and the user's real ones have no business in it.
_SCRUBBED = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
)


class PortInUseError(Exception):
    """The requested port is taken by another process."""


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class MotoServer:
    """Start and stop a ``moto`` server subprocess bound to 127.0.0.1.

    It serves only requests addressed to ``127.0.0.1:<its port>`` (or a port in ``also_ports``: a proxy in
    front of it that forwards ``Host`` as it came) and refuses browser requests (``origin_guard``).
    """

    def __init__(self, port: int = 0, log_path: Path | None = None, also_ports: tuple[int, ...] = ()) -> None:
        self.requested_port = port
        self.also_ports = also_ports
        self.port: int | None = None
        self._log_path = log_path
        self._log: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "start() first"
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> MotoServer:
        if self.requested_port and not port_is_free(self.requested_port):
            raise PortInUseError(f"port {self.requested_port} on {HOST} is already in use")
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("ab")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sensorflow.localcloud.emulator.moto_server",
                "--port",
                str(self.requested_port),
                "--parent-pid",
                str(os.getpid()),
                *(arg for port in self.also_ports for arg in ("--also-port", str(port))),
            ],
            env={k: v for k, v in os.environ.items() if k not in _SCRUBBED},
            stdout=subprocess.PIPE,
            stderr=self._log if self._log is not None else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a foreground `local up` reaches us, not moto directly
        )
        assert self._proc.stdout is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline and not line.endswith(b"\n"):
            readable, _, _ = select.select([self._proc.stdout], [], [], 0.5)
            if readable:
                chunk = os.read(self._proc.stdout.fileno(), 256)
                if not chunk:
                    break
                line += chunk
            elif self._proc.poll() is not None:
                break
        if not line.startswith(b"ready "):
            self.stop()
            if self.requested_port and not port_is_free(self.requested_port):
                raise PortInUseError(f"port {self.requested_port} on {HOST} is already in use")
            raise RuntimeError(f"moto server did not start (see {self._log_path})")
        self.port = int(line.split()[1])
        return self

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stats(self) -> dict[str, Any]:
        """The server's per-operation profile (see :class:`SerializedApp`)."""
        with urllib.request.urlopen(self.url + STATS_PATH, timeout=10) as response:
            stats: dict[str, Any] = json.loads(response.read())
            return stats

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


STATS_PATH = "/_sensorflow/moto-stats"  # GET: per-operation request counts and times (never an AWS path)
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


def operation_of(environ: dict[str, Any]) -> str:
    """``service:Operation`` of a signed AWS request, for the profile. Reads a query-protocol body
    (SNS, CloudFormation) and puts it back for moto."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "?"
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    if service == "s3":
        parts = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)
        verbs = {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}
        method = environ.get("REQUEST_METHOD", "")
        return f"s3:{verbs.get(method, method) if len(parts) == 2 and parts[1] else method + 'Bucket'}"
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
        return f"{service}:{action}"
    return f"{service}:{environ.get('REQUEST_METHOD', '')} {environ.get('PATH_INFO', '')[:40]}"


@dataclass(slots=True)
class OperationStats:
    count: int = 0
    service_s: float = 0.0  # inside moto, holding the lock
    wait_s: float = 0.0  # queued behind other requests for the lock

    def to_dict(self) -> dict[str, float]:
        return {"count": self.count, "service_s": round(self.service_s, 4), "wait_s": round(self.wait_s, 4)}


class SerializedApp:
    """Runs one request at a time through moto: its backends are not thread-safe (a Kinesis GetRecords
    iterating a shard while PutRecords appends to it fails with HTTP 500). SQS ReceiveMessage stays
    concurrent, because a long poll waits inside the request for messages other requests send.

    It also keeps a per-operation profile (count, time in moto, time queued for the lock), served as
    JSON on ``GET /_sensorflow/moto-stats``: on 2 cores the local cloud's throughput is moto's, and this
    says which calls spend it."""

    def __init__(self, app: Any, ports: set[int] | None = None) -> None:
        self.app = app
        self.ports: set[int] = ports if ports is not None else set()  # filled in once the port is bound
        self.lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.stats: dict[str, OperationStats] = {}
        self.started = time.monotonic()

    def _record(self, operation: str, wait_s: float, service_s: float) -> None:
        with self._stats_lock:
            entry = self.stats.setdefault(operation, OperationStats())
            entry.count += 1
            entry.wait_s += wait_s
            entry.service_s += service_s

    def snapshot(self) -> dict[str, Any]:
        with self._stats_lock:
            operations = {k: v.to_dict() for k, v in self.stats.items()}
        return {"uptime_s": round(time.monotonic() - self.started, 3), "operations": operations}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        reason = refusal(
            environ.get("HTTP_HOST"),
            environ.get("HTTP_ORIGIN"),
            environ.get("HTTP_SEC_FETCH_SITE"),
            self.ports,
        )
        if reason is not None:
            body = refusal_body(reason)
            start_response(
                f"{FORBIDDEN_STATUS} Forbidden",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]
        if environ.get("PATH_INFO") == STATS_PATH and "HTTP_AUTHORIZATION" not in environ:
            body = json.dumps(self.snapshot()).encode()
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        operation = operation_of(environ)
        queued = time.monotonic()
        if operation == "sqs:ReceiveMessage":
            response = list(self.app(environ, start_response))
            self._record(operation, 0.0, time.monotonic() - queued)
            return response
        with self.lock:
            started = time.monotonic()
            response = list(self.app(environ, start_response))
        self._record(operation, started - queued, time.monotonic() - started)
        return response


def _stop_when_orphaned(server: Any, parent_pid: int) -> None:
    """The server runs in its own session, so nothing stops it if its parent dies without calling
    :meth:`MotoServer.stop` (SIGKILL, a test timeout): shut down once it is re-parented."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        server.shutdown()

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(port: int, parent_pid: int | None = None, also_ports: tuple[int, ...] = ()) -> int:
    from moto.awslambda.models import LambdaFunction
    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    default_user_config["lambda"] = {"use_docker": False}

    def _run_elsewhere(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
        # moto pushes every Kinesis record, SNS message and S3 event at its Lambda model, which tries
        # Docker once per record (even with use_docker off). The local runtime runs functions instead.
        return b""

    LambdaFunction.invoke = _run_elsewhere  # type: ignore[method-assign]
    # moto's own SQS event source receives a queue's messages on every SendMessage for its mappings and,
    # with invoke stubbed, deletes them: the local runtime's SQS mapping (sqs_esm) must see them instead.
    # A queue's mapping table that forgets what is put in it keeps moto out of it.
    from moto.sqs.models import Queue

    Queue.lambda_event_source_mappings = property(  # type: ignore[assignment]
        lambda self: {}, lambda self, value: None
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    app.ports.update({int(server.server_address[1]), *also_ports})

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    if parent_pid is not None:
        _stop_when_orphaned(server, parent_pid)
    sys.stdout.write(f"ready {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="moto server on 127.0.0.1 for the sensorflow local cloud")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--parent-pid", type=int, help="stop serving when this process is gone")
    parser.add_argument(
        "--also-port", type=int, action="append", default=[], help="also serve Host 127.0.0.1:PORT (a proxy)"
    )
    cli_args = parser.parse_args()
    sys.exit(serve(cli_args.port, cli_args.parent_pid, tuple(cli_args.also_port)))
