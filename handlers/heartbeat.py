"""Lambda entry point for the ``heartbeat`` function (schedule -> ``Device Stale`` for silent devices)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sensorflow import bootstrap
from sensorflow.observability import capture_lambda_handler, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = bootstrap.heartbeat_service().run(context.get_remaining_time_in_millis)
    return {"raised": outcome.raised, "republished": outcome.republished, "checkpoint": outcome.checkpoint}
