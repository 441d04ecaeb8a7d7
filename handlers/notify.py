"""Lambda entry point for the ``notify`` function (SNS alarm transitions -> webhook message, once)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sensorflow import bootstrap
from sensorflow.adapters.lambda_events import sns_transitions
from sensorflow.observability import capture_lambda_handler, logger, metrics


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    transitions = sns_transitions(event)
    outcomes = bootstrap.notify_service().handle(transitions, context.get_remaining_time_in_millis)
    return {
        "notifications": [
            {"event_id": t.event_id, "outcome": o} for t, o in zip(transitions, outcomes, strict=True)
        ]
    }
