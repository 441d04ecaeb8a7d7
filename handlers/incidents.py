"""Lambda entry point for the ``incidents`` function (EventBridge critical transitions -> incidents)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sensorflow import bootstrap
from sensorflow.adapters.lambda_events import eventbridge_transition
from sensorflow.observability import capture_lambda_handler, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    transition = eventbridge_transition(event)
    outcome = bootstrap.incident_service().handle(transition)
    return {"event_id": transition.event_id, "outcome": outcome}
