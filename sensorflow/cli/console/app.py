"""The console's HTTP server: the standard library's ``ThreadingHTTPServer`` on 127.0.0.1, serving
``routes.Console``. Nothing else is ever bound (``serve`` refuses other addresses).

Every answer carries headers that keep other pages out: a Content-Security-Policy that allows the
console's own script and stylesheet only and no framing (``frame-ancestors 'none'``, with
``X-Frame-Options: DENY`` for older browsers: an ack button must not be clickjacked), ``nosniff``,
``no-referrer`` and ``no-store``. Request bodies over ``MAX_BODY_BYTES`` are refused.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sensorflow.cli.console.request_guard import LOOPBACK_HOST
from sensorflow.cli.console.routes import Console, Response

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # the action form is a few hundred bytes
SECURITY_HEADERS = (
    (
        "Content-Security-Policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    # same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` on the form POSTs.
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class NotLoopbackError(ValueError):
    """The console was asked to listen on an address other than 127.0.0.1."""


def handler_for(console: Console) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "sensorflow-console"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("console request", extra={"line": format % args})

        def _send(self, response: Response) -> None:
            self.send_response(response.status)
            for name, value in SECURITY_HEADERS:
                self.send_header(name, value)
            if response.location is not None:
                self.send_header("Location", response.location)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def _headers(self) -> dict[str, str]:
            return {k: v for k, v in self.headers.items()}

        def do_GET(self) -> None:
            self._send(console.handle("GET", self.path, self._headers()))

        def do_POST(self) -> None:
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY_BYTES:
                self._send(Response(413, b"request body too large"))
                return
            self._send(console.handle("POST", self.path, self._headers(), self.rfile.read(length)))

        def do_PUT(self) -> None:
            self._send(console.handle("PUT", self.path, self._headers()))

        do_DELETE = do_PATCH = do_PUT

    return Handler


class ConsoleServer:
    """``console`` served on ``127.0.0.1:port`` (0: any free port; ``port`` tells which) in a thread."""

    def __init__(self, console: Console, port: int, host: str = LOOPBACK_HOST) -> None:
        if host != LOOPBACK_HOST:
            raise NotLoopbackError(f"the console listens on {LOOPBACK_HOST} only, not {host!r}")
        self._server = ThreadingHTTPServer((host, port), handler_for(console))
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        console.port = self.port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK_HOST}:{self.port}/"

    def start(self) -> ConsoleServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="console", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
