"""A webhook receiver on loopback for the local cloud: it stands in for Slack so the demo can show the
messages ``notify`` delivered.

It listens on 127.0.0.1 only (stdlib ``http.server`` in a daemon thread), accepts JSON POSTs on one
secret-looking path (like a Slack incoming-webhook URL, so the local run exercises the same
"URL is a credential" handling), keeps each message in memory and appends it to a JSON Lines file.
Tests can script failures (``fail_next``) to exercise retries.

    with WebhookReceiver(jsonl_path) as hook:
        put the SSM parameter to hook.url, run notify ...
        hook.messages()  # [{"text": ..., "blocks": [...]}, ...]
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
MAX_BODY_BYTES = 1_000_000


class WebhookReceiver:
    def __init__(self, jsonl_path: Path | None = None, port: int = 0, token: str | None = None) -> None:
        self.jsonl_path = jsonl_path
        self.path = f"/services/{token or secrets.token_hex(12)}"
        self._port = port
        self._messages: list[dict[str, Any]] = []
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0  # every POST, including scripted failures and rejected ones

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                # The default logs the request line, which holds the secret path.
                return

        self._server = ThreadingHTTPServer((LOOPBACK, self._port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="webhook-receiver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("webhook receiver is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{self.path}"

    # --- scripting and queries -----------------------------------------------------------------
    def fail_next(self, *statuses: int, retry_after: float | None = None) -> None:
        """Answer the next POSTs with these statuses (e.g. 503, 429) before accepting again."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._failures.extend((s, headers) for s in statuses)

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self._messages)

    # --- request handling ----------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
        if req.path != self.path:
            self._reply(req, 404, {"error": "no such webhook"})
            return
        length = int(req.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._reply(req, 413, {"error": "too large"})
            return
        try:
            message = json.loads(req.rfile.read(length))
        except json.JSONDecodeError:
            self._reply(req, 400, {"error": "invalid JSON"})
            return
        if not isinstance(message, dict) or not isinstance(message.get("text"), str):
            self._reply(req, 400, {"error": "missing text"})
            return
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
        if failure is not None:
            self._reply(req, failure[0], {"error": "scripted failure"}, failure[1])
            return
        with self._lock:
            self._messages.append(message)
            if self.jsonl_path is not None:
                record = {
                    "received_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "message": message,
                }
                with self.jsonl_path.open("a") as f:
                    f.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._lock.notify_all()
        self._reply(req, 200, None)

    @staticmethod
    def _reply(
        req: BaseHTTPRequestHandler,
        status: int,
        body: dict[str, Any] | None,
        headers: dict[str, str] | None = None,
    ) -> None:
        # Slack answers a delivered message with the plain text "ok".
        payload = b"ok" if body is None else json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "text/plain" if body is None else "application/json")
        req.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            req.send_header(name, value)
        req.end_headers()
        req.wfile.write(payload)


def read_messages(jsonl_path: Path) -> list[dict[str, Any]]:
    """The messages a receiver wrote to ``jsonl_path`` (for the demo summary), oldest first."""
    if not jsonl_path.exists():
        return []
    return [json.loads(line)["message"] for line in jsonl_path.read_text().splitlines() if line.strip()]
