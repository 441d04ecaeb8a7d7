"""A loopback HTTP proxy between the Lambda workers and moto that can fail chosen AWS calls.

Transient downstream faults (S3 ``SlowDown``, throttling, 5xx) are what the ingest function's retry and
``batchItemFailures`` paths exist for. Injecting them here keeps test hooks out of the Lambda package:
the function talks to its ``AWS_ENDPOINT_URL`` exactly as on AWS and just sees the errors AWS returns.
Like the moto server behind it, it refuses requests a web page could make (``origin_guard``).

Two ways to fail calls: ``arm(Fault)`` fails the next N matching requests (the demo's S3 ``SlowDown``,
tests); a :class:`~sensorflow.localcloud.faults.FaultPlan` (``FaultProxy(plan=...)`` or ``apply_plan``)
fails them at the plan's rates and windows (throttling, HTTP 500, partial batch failures, latency), with
per-rule counters in :meth:`FaultProxy.status`. Armed faults are decided first.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sensorflow.localcloud.emulator import fault_wire as wire
from sensorflow.localcloud.emulator.fault_guard import refuse_deployed
from sensorflow.localcloud.emulator.fault_plan import FaultDecider, FaultPlan
from sensorflow.localcloud.emulator.fault_wire import describe_request
from sensorflow.localcloud.emulator.origin_guard import FORBIDDEN_STATUS, refusal, refusal_body

__all__ = ["Fault", "FaultProxy", "describe_request", "error_body"]

logger = logging.getLogger(__name__)

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

    def __init__(self, upstream_port: int, host: str = "127.0.0.1", plan: FaultPlan | None = None) -> None:
        self.upstream_port = upstream_port
        self.host = host
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.injected: dict[str, int] = {}
        self.decider: FaultDecider | None = None
        if plan is not None:
            self.apply_plan(plan)
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
                    self._answer(
                        fault.status, {"Content-Type": content_type, "x-amzn-ErrorType": fault.code}, payload
                    )
                    return
                json_protocol = "X-Amz-Target" in self.headers
                planned = proxy._planned(service, operation, json_protocol, self.headers, body)
                if isinstance(planned, wire.WireResponse):
                    self._answer(planned.status, planned.headers, planned.body)
                    return
                rewrite = planned
                forward = rewrite.forward if rewrite is not None and rewrite.forward is not None else body
                status, reason, headers, data = proxy._forward(self.command, self.path, self.headers, forward)
                if rewrite is not None and status == 200:
                    data = wire.merge(rewrite, data)
                self.send_response(status, reason)
                # A rewritten body no longer matches the backend's checksum (DynamoDB's x-amz-crc32).
                skip = {"content-length", "x-amz-crc32"} if rewrite is not None else {"content-length"}
                for key, value in headers:
                    if key.lower() not in _HOP_BY_HOP and key.lower() not in skip:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

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

    def _forward(
        self, method: str, path: str, request_headers: Any, body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        upstream = http.client.HTTPConnection(self.host, self.upstream_port, timeout=120)
        try:
            headers = {
                k: v
                for k, v in request_headers.items()
                if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
            }
            headers["Content-Length"] = str(len(body))
            upstream.request(method, path, body=body or None, headers=headers)
            response = upstream.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            upstream.close()

    def _planned(
        self, service: str, operation: str, json_protocol: bool, headers: Any, body: bytes
    ) -> wire.WireResponse | wire.PartialRewrite | None:
        """What the plan does to this request: an answer of its own (an error, or a partial batch whose
        every entry failed), the rewrite of a partial batch to forward, or None (forward as is)."""
        decider = self.decider
        if decider is None:
            return None
        decision = decider.decide(service, operation, body, wire.entry_count(service, operation, body))
        if decision.latency_ms:
            time.sleep(decision.latency_ms / 1000)
        rule = decision.rule
        if rule is None:
            return None
        if rule.kind != "partial":
            status, code = wire.error_code(rule.kind, service)
            return wire.error_response(service, status, code, json_protocol)
        rewrite = wire.rewrite(service, operation, body, decision.failed_entries)
        if rewrite.forward is None:
            content_type = headers.get("Content-Type", "") if json_protocol else "text/xml"
            return wire.WireResponse(200, {"Content-Type": content_type}, wire.merge(rewrite, None))
        return rewrite

    def apply_plan(self, plan: FaultPlan) -> None:
        """Apply ``plan`` from now on (its windows start now), replacing any plan applied before."""
        refuse_deployed(f"http://{self.host}:{self.upstream_port or 1}")
        with self._lock:
            self.decider = FaultDecider(plan)

    def clear_plan(self) -> None:
        """Stop applying the plan (its counters go with it)."""
        with self._lock:
            self.decider = None

    def plan_counts(self) -> dict[str, dict[str, int]]:
        """Per rule of the applied plan: calls seen in its window, injected, entries failed (partial)."""
        return self.decider.counts() if self.decider is not None else {}

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
                "plan": self.decider.status() if self.decider is not None else None,
            }
