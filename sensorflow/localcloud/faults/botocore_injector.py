"""The in-process fault injector: a fault plan applied on botocore's ``before-send`` event.

botocore emits ``before-send.<service>.<Operation>`` with the signed request just before it would go on
the wire, and the first handler answer that is not None becomes the HTTP response (``endpoint.py``). A
fault answered here is therefore parsed, classified and retried by botocore's own retry logic (the
client's standard/adaptive mode, ``needs-retry``) exactly as an answer from AWS would be.

Ordering with moto: ``mock_aws`` answers on the same event through one handler, ``botocore_stubber``,
which botocore adds to every new session from ``botocore.handlers.BUILTIN_HANDLERS``. botocore calls
*every* ``before-send`` handler, so a fault handler registered beside the stubber would fail the call
while moto still executed it. :meth:`BotocoreFaultInjector.install` instead puts the injector in the
stubber's place and calls the stubber itself when the plan lets a call through: faults are decided first,
and a failed call never reaches the backend. A ``partial`` fault forwards a rewritten request that holds
only the surviving entries (``emulator.fault_wire.rewrite``) and merges the backend's answer with the failed
entries (``emulator.fault_wire.merge``), so the backend stores exactly what the client is told succeeded.

It applies to every client created after ``install`` (the pipeline's cached clients, after
``sensorflow.adapters.clients.reset()``), and to existing ones through :meth:`install_on`. Without
moto's mock, calls go on to the endpoint, which must be loopback (``emulator.fault_guard``), else the
injector refuses.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import Any

from sensorflow.localcloud.emulator import fault_wire as wire
from sensorflow.localcloud.emulator.fault_guard import (
    FaultInjectionRefusedError,
    is_loopback,
    refuse_deployed,
)
from sensorflow.localcloud.emulator.fault_plan import FaultDecider, FaultPlan

# botocore's hyphenated service ids -> the plan's (SigV4 signing) names.
_SERVICE_IDS = {"eventbridge": "events"}
_JSON_SERVICES = frozenset({"dynamodb", "events", "kinesis", "glue", "sqs"})


class _RawBody(io.BytesIO):
    """What ``AWSResponse.raw`` must offer: ``read`` and ``stream``."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        data = self.read()
        if data:
            yield data


def _moto_stubber() -> Any:
    try:
        from moto.core.models import botocore_stubber
    except ImportError:  # moto is a dev dependency; without it, calls go to the (loopback) endpoint
        return None
    return botocore_stubber


def _body_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    if hasattr(body, "read") and hasattr(body, "seek") and hasattr(body, "tell"):
        position = body.tell()
        data = body.read()
        body.seek(position)
        return data if isinstance(data, bytes) else str(data).encode()
    return b""


class BotocoreFaultInjector:
    """``before-send`` handler applying ``plan``. ``sleep`` waits injected latency (a ``VirtualClock``'s in
    tests); ``clock`` times the plan's windows."""

    def __init__(
        self,
        plan: FaultPlan,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.decider = FaultDecider(plan, clock=clock or time.monotonic)
        self._sleep = sleep or time.sleep
        self._stubber = _moto_stubber()
        self._installed = False

    # -- installation ---------------------------------------------------------------------------------
    def install(self) -> BotocoreFaultInjector:
        """Decide every call of every botocore session created from now on (refused outside moto/loopback)."""
        from botocore.handlers import BUILTIN_HANDLERS

        refuse_deployed(None, mocked=self._mocked())
        entries = [i for i, (_event, handler, *_) in enumerate(BUILTIN_HANDLERS) if handler is self._stubber]
        if entries:
            for i in entries:
                BUILTIN_HANDLERS[i] = ("before-send", self)
        else:
            BUILTIN_HANDLERS.append(("before-send", self))
        self._installed = True
        return self

    def install_on(self, client: Any) -> Any:
        """Decide every call of an existing ``client`` too (in place of its moto stubber, if it has one)."""
        refuse_deployed(None, mocked=self._mocked())
        if self._stubber is not None:
            client.meta.events.unregister("before-send", self._stubber)
        client.meta.events.register("before-send", self)
        return client

    def uninstall(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        for i, (_event, handler, *_) in enumerate(BUILTIN_HANDLERS):
            if handler is self:
                if self._stubber is not None:
                    BUILTIN_HANDLERS[i] = ("before-send", self._stubber)
                else:
                    del BUILTIN_HANDLERS[i]
                break
        self._installed = False

    def __enter__(self) -> BotocoreFaultInjector:
        return self.install()

    def __exit__(self, *_: object) -> None:
        self.uninstall()

    def _mocked(self) -> bool:
        return bool(self._stubber is not None and self._stubber.enabled)

    # -- the handler ----------------------------------------------------------------------------------
    def __call__(self, request: Any, event_name: str = "", **kwargs: Any) -> Any:
        _, _, rest = event_name.partition(".")
        service_id, _, operation = rest.partition(".")
        service = _SERVICE_IDS.get(service_id, service_id)
        if not self._mocked() and not is_loopback(request.url):
            raise FaultInjectionRefusedError(
                f"fault injection refused: {request.url} is neither moto's mock nor loopback"
            )
        body = _body_bytes(request.body)
        decision = self.decider.decide(service, operation, body, wire.entry_count(service, operation, body))
        if decision.latency_ms:
            self._sleep(decision.latency_ms / 1000)
        rule = decision.rule
        if rule is None:
            return self._downstream(event_name, request, **kwargs)
        if rule.kind != "partial":
            status, code = wire.error_code(rule.kind, service)
            return _response(
                request.url, wire.error_response(service, status, code, service in _JSON_SERVICES)
            )
        rewrite = wire.rewrite(service, operation, body, decision.failed_entries)
        if rewrite.forward is None:
            content_type = "text/xml" if service == "sns" else "application/x-amz-json-1.1"
            return _response(
                request.url, wire.WireResponse(200, {"Content-Type": content_type}, wire.merge(rewrite, None))
            )
        forwarded = _with_body(request, rewrite.forward)
        answer = self._downstream(event_name, forwarded, **kwargs)
        if answer is None:  # no mock: botocore's own HTTP session, to the loopback endpoint
            from botocore.httpsession import URLLib3Session

            answer = URLLib3Session().send(forwarded)
        if answer.status_code != 200:
            return answer
        headers = {
            k: v for k, v in answer.headers.items() if k.lower() not in ("content-length", "x-amz-crc32")
        }
        return _response(request.url, wire.WireResponse(200, headers, wire.merge(rewrite, answer.content)))

    def _downstream(self, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self._mocked():
            return self._stubber(event_name, request, **kwargs)
        return None

    def counts(self) -> dict[str, dict[str, int]]:
        return self.decider.counts()


def _with_body(request: Any, body: bytes) -> Any:
    from botocore.awsrequest import AWSPreparedRequest

    headers = request.headers.copy()
    headers["Content-Length"] = str(len(body))
    return AWSPreparedRequest(
        method=request.method,
        url=request.url,
        headers=headers,
        body=body,
        stream_output=request.stream_output,
    )


def _response(url: str, response: wire.WireResponse) -> Any:
    from botocore.awsrequest import AWSResponse
    from botocore.compat import HTTPHeaders

    headers = HTTPHeaders()
    for key, value in response.headers.items():
        headers[key] = value
    headers["Content-Length"] = str(len(response.body))
    return AWSResponse(url, response.status, headers, _RawBody(response.body))
