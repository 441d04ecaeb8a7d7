"""A moto server on loopback, in its own process (its own GIL), with Lambda's Docker backend off.

moto's Lambda backend tries to run every Kinesis record through Docker when an event source mapping
exists; with ``lambda.use_docker`` off it stores functions and mappings but runs nothing, which is what
we want: ``sensorflow.localcloud.runtime`` runs them.

Run as ``python -m sensorflow.localcloud.motoserver --port N``: prints ``ready <port>`` when listening.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

HOST = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0


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
    """Start and stop a ``moto`` server subprocess bound to 127.0.0.1."""

    def __init__(self, port: int = 0, log_path: Path | None = None) -> None:
        self.requested_port = port
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
            [sys.executable, "-m", "sensorflow.localcloud.motoserver", "--port", str(self.requested_port)],
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

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SerializedApp:
    """Runs one request at a time through moto: its backends are not thread-safe (a Kinesis GetRecords
    iterating a shard while PutRecords appends to it fails with HTTP 500). SQS ReceiveMessage stays
    concurrent, because a long poll waits inside the request for messages other requests send."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if "ReceiveMessage" in environ.get("HTTP_X_AMZ_TARGET", ""):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def serve(port: int) -> int:
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
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    server = make_server(HOST, port, app, threaded=True, request_handler=MotoRequestHandler)

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
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
    sys.exit(serve(parser.parse_args().port))
