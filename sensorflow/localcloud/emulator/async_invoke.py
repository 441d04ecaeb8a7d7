"""Lambda's asynchronous invocation queue: retries, event age and destinations per function.

Source: docs.aws.amazon.com/lambda/latest/dg/invocation-async.html and invocation-async-retain-records.html
- a function error is retried ``MaximumRetryAttempts`` times (0-2, default 2), the first retry about one
  minute after the failure and the second about two minutes after that; the request id is the same on
  every attempt;
- an event older than ``MaximumEventAgeInSeconds`` (60-21,600, default 21,600) is not retried again;
- after the last attempt (condition ``RetriesExhausted``) or when the event is too old (``EventAgeExceeded``)
  the invocation record goes to the on-failure destination; a success goes to the on-success destination;
  destinations are SQS queues, SNS topics, Lambda functions or EventBridge buses.
moto does not model ``EventInvokeConfig``, so the settings are read from the deployed template.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sensorflow.localcloud.emulator.event_documents import iso_millis
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

logger = logging.getLogger(__name__)

DEFAULT_RETRY_ATTEMPTS = 2
DEFAULT_MAX_EVENT_AGE_S = 21_600
AWS_RETRY_DELAYS_S = (60.0, 120.0)  # "about 1 minute", then "about 2 minutes" (invocation-async.html)
THROTTLE_WAIT_S = 1.0
THROTTLED = InvokeResult(
    request_id="", ok=False, error_type="TooManyRequestsException", error_message="Rate Exceeded."
)

Invoke = Callable[[str, dict[str, Any], str, str], InvokeResult]  # (function, event, request id, source)
SendToDestination = Callable[[str, dict[str, Any]], None]  # (destination ARN, invocation record)


@dataclass(frozen=True, slots=True)
class InvokeConfig:
    """A function's ``EventInvokeConfig`` (Lambda's defaults when the template declares none)."""

    maximum_retry_attempts: int = DEFAULT_RETRY_ATTEMPTS
    maximum_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_success: str | None = None
    on_failure: str | None = None


def invoke_configs(
    template: Mapping[str, Any], physical: Mapping[str, str], resolve_arn: Callable[[Any], str | None]
) -> dict[str, InvokeConfig]:
    """Function name -> its config, from the template's ``AWS::Lambda::EventInvokeConfig`` resources."""
    out: dict[str, InvokeConfig] = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::EventInvokeConfig":
            continue
        props = resource.get("Properties", {})
        function = props.get("FunctionName")
        name = physical.get(function["Ref"]) if isinstance(function, dict) and "Ref" in function else function
        if not isinstance(name, str) or not name:
            continue
        destinations = props.get("DestinationConfig") or {}
        out[name] = InvokeConfig(
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", DEFAULT_RETRY_ATTEMPTS)),
            maximum_event_age_s=int(props.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
            on_success=resolve_arn((destinations.get("OnSuccess") or {}).get("Destination")),
            on_failure=resolve_arn((destinations.get("OnFailure") or {}).get("Destination")),
        )
    return out


def invocation_record(
    function_arn: str,
    request_id: str,
    condition: str,
    attempts: int,
    event: Any,
    result: InvokeResult,
    now: float,
) -> dict[str, Any]:
    """The document Lambda sends to a destination (invocation-async-retain-records.html)."""
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if not result.ok:
        response["functionError"] = "Unhandled"
    payload: Any = result.payload
    if not result.ok:
        payload = {"errorType": result.error_type, "errorMessage": result.error_message}
    return {
        "version": "1.0",
        "timestamp": iso_millis(now),
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": response,
        "responsePayload": payload,
    }


@dataclass
class _Event:
    function: str
    function_arn: str
    payload: dict[str, Any]
    source: str
    request_id: str
    queued_at: float
    attempts: int = 0


class AsyncInvoker:
    """Accepts events like Lambda's ``Invoke(InvocationType=Event)``; runs each on its own schedule."""

    def __init__(
        self,
        invoke: Invoke,
        send: SendToDestination,
        configs: Callable[[], Mapping[str, InvokeConfig]],
        function_arn: Callable[[str], str],
        *,
        retry_delays_s: tuple[float, ...] = AWS_RETRY_DELAYS_S,
        clock: Callable[[], float] = time.time,
        on_outcome: Callable[[str, str, str], None] | None = None,
        throttled: Callable[[str], bool] | None = None,
    ) -> None:
        self._invoke = invoke
        self._send = send
        self._configs = configs
        self._function_arn = function_arn
        self._retry_delays_s = retry_delays_s
        self._clock = clock
        self._on_outcome = on_outcome or (lambda source, function, outcome: None)
        self._throttled = throttled or (lambda function: False)
        self._lock = threading.Lock()
        self._pending = 0  # events queued, running or waiting for a retry
        self._stopping = threading.Event()

    def submit(self, function: str, event: dict[str, Any], source: str) -> str:
        """Queue one event; returns its request id (kept on every retry)."""
        item = _Event(function, self._function_arn(function), event, source, str(uuid.uuid4()), self._clock())
        with self._lock:
            self._pending += 1
        threading.Thread(target=self._attempt, args=(item,), name=f"async-{function}", daemon=True).start()
        return item.request_id

    def idle(self) -> bool:
        with self._lock:
            return self._pending == 0

    def stop(self) -> None:
        self._stopping.set()

    def _attempt(self, item: _Event) -> None:
        config = self._configs().get(item.function, InvokeConfig())
        try:
            while not self._stopping.is_set():
                if self._throttled(item.function):
                    # Reserved concurrency 0: Lambda keeps the event queued (no attempt used) until it can
                    # run it or the event is older than the maximum age.
                    if self._clock() - item.queued_at > config.maximum_event_age_s:
                        self._finish(item, config.on_failure, "EventAgeExceeded", THROTTLED, "dropped")
                        return
                    self._stopping.wait(THROTTLE_WAIT_S)
                    continue
                item.attempts += 1
                result = self._invoke(item.function, item.payload, item.request_id, item.source)
                if result.ok:
                    self._finish(item, config.on_success, "Success", result, "delivered")
                    return
                if item.attempts > config.maximum_retry_attempts:
                    self._finish(item, config.on_failure, "RetriesExhausted", result, "dropped")
                    return
                delay = self._retry_delays_s[min(item.attempts - 1, len(self._retry_delays_s) - 1)]
                if self._clock() + delay - item.queued_at > config.maximum_event_age_s:
                    self._finish(item, config.on_failure, "EventAgeExceeded", result, "dropped")
                    return
                if self._stopping.wait(delay):
                    return
        finally:
            with self._lock:
                self._pending -= 1

    def _finish(
        self, item: _Event, destination: str | None, condition: str, result: InvokeResult, outcome: str
    ) -> None:
        self._on_outcome(item.source, item.function, outcome)
        if outcome == "dropped":
            logger.warning(
                "async event dropped",
                extra={"function": item.function, "condition": condition, "request_id": item.request_id},
            )
        if destination is None:
            return
        record = invocation_record(
            item.function_arn, item.request_id, condition, item.attempts, item.payload, result, self._clock()
        )
        try:
            self._send(destination, record)
        except Exception as exc:  # a destination that fails loses the record, as on AWS; say so
            logger.error(
                "async destination unreachable", extra={"destination": destination, "error": str(exc)}
            )
