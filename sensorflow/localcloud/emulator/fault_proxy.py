"""A loopback HTTP proxy between the Lambda workers and moto that can fail chosen AWS calls.

Transient downstream faults (S3 ``SlowDown``, throttling, 5xx) are what the ingest function's retry and
``batchItemFailures`` paths exist for. Injecting them here keeps test hooks out of the Lambda package:
the function talks to its ``AWS_ENDPOINT_URL`` exactly as on AWS and just sees the errors AWS returns.
Like the moto server behind it, it refuses requests a web page could make (``origin_guard``).
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sensorflow.localcloud.emulator.origin_guard import FORBIDDEN_STATUS, refusal, refusal_body

logger = logging.getLogger(__name__)

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "expect",
}


@dataclass(slots=True)
class Fault:
    """Fail the next ``count`` ``service``/``operation`` requests whose path contains ``path_contains``."""

    service: str
    operation: str
    count: int
    status: int = 503
    code: str = "ServiceUnavailable"
    path_contains: str = ""
    injected: int = 0

    def matches(self, service: str, operation: str, path: str) -> bool:
        return (
            self.injected < self.count
            and self.service == service
            and self.operation == operation
            and self.path_contains in path
        )


def describe_request(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    """``(service, operation)`` of a signed AWS request."""
    match = _SCOPE.search(headers.get("Authorization", ""))
    service = match.group(1) if match else ""
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if service == "s3":
        parts = urlsplit(path).path.lstrip("/").split("/", 1)
        has_key = len(parts) == 2 and parts[1] != ""
        verbs = {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}
        return service, verbs.get(method, method) if has_key else f"{method}Bucket"
    if body and b"Action=" in body:
        return service, parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    return service, ""


def error_body(fault: Fault, service: str, json_protocol: bool) -> tuple[bytes, str]:
    message = "injected by the sensorflow local cloud"
    if json_protocol:
        return json.dumps({"__type": fault.code, "message": message}).encode(), "application/x-amz-json-1.1"
    if service == "s3":
        xml = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            f"<Error><Code>{fault.code}</Code><Message>{message}</Message></Error>"
        )
        return xml.encode(), "application/xml"
    xml = (
        f"<ErrorResponse><Error><Type>Receiver</Type><Code>{fault.code}</Code><Message>{message}</Message>"
        "</Error><RequestId>local</RequestId></ErrorResponse>"
    )
    return xml.encode(), "text/xml"


class FaultProxy:
    """Forwards every request to ``upstream`` unless an armed :class:`Fault` matches it.

    It listens from construction on, so its :attr:`port` can be given to the upstream before
    :meth:`start`; ``upstream_port`` may be set until then.
    """

    def __init__(self, upstream_port: int, host: str = "127.0.0.1") -> None:
        self.upstream_port = upstream_port
        self.host = host
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # TCP_NODELAY: the handler writes the status/headers and the body separately, and with Nagle's
            # algorithm against the client's delayed ACK each response waited ~40 ms on Linux.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _refuse(self, reason: str) -> None:
                payload = refusal_body(reason)
                self.send_response(FORBIDDEN_STATUS)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(payload)
                self.close_connection = True

            def _handle(self) -> None:
                h = self.headers
                reason = refusal(h.get("Host"), h.get("Origin"), h.get("Sec-Fetch-Site"), {proxy.port})
                if reason is not None:
                    self._refuse(reason)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service, operation = describe_request(self.command, self.path, self.headers, body)
                fault = proxy._take(service, operation, self.path)
                if fault is not None:
                    payload, content_type = error_body(fault, service, "X-Amz-Target" in self.headers)
                    self.send_response(fault.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("x-amzn-ErrorType", fault.code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                upstream = http.client.HTTPConnection(proxy.host, proxy.upstream_port, timeout=120)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                    upstream.request(self.command, self.path, body=body or None, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                finally:
                    upstream.close()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, which never ran otherwise
            self._server.shutdown()
        self._server.server_close()

    def arm(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take(self, service: str, operation: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(service, operation, path):
                    fault.injected += 1
                    key = f"{service}:{operation}:{fault.code}"
                    self.injected[key] = self.injected.get(key, 0) + 1
                    return fault
        return None

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "armed": [
                    {"service": f.service, "operation": f.operation, "remaining": f.count - f.injected}
                    for f in self._faults
                    if f.injected < f.count
                ],
                "injected": dict(self.injected),
            }
