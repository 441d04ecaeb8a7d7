"""Logger, metrics and the X-Ray tracer, defined once. Creating them makes no network call.

The X-Ray SDK (Powertools ``Tracer``: a subsegment per handler and per AWS call) is optional, per stage
(``params.tracerDisabled`` in ``serverless.yml``, which sets ``POWERTOOLS_TRACE_DISABLED``): importing it
costs about as much cold start as boto3 itself, so it is not imported unless enabled. Lambda's active
tracing (``provider.tracing.lambda``) traces every invocation either way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics

SERVICE = "sensorflow"
NAMESPACE = "sensorflow"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_sdk_enabled() -> bool:
    """Powertools' own switch: the SDK is on unless ``POWERTOOLS_TRACE_DISABLED`` is true."""
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() not in ("1", "true")


def capture_lambda_handler[F: Callable[..., Any]](handler: F) -> F:
    """``Tracer.capture_lambda_handler`` when the X-Ray SDK is enabled; the handler itself otherwise."""
    if not tracing_sdk_enabled():
        return handler
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE).capture_lambda_handler(capture_response=False)(handler)
