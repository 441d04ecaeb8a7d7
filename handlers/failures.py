"""Lambda entry point for the ``failures`` function (ingest's on-failure queue -> quarantine)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sensorflow import bootstrap
from sensorflow.adapters.lambda_events import sqs_messages
from sensorflow.observability import capture_lambda_handler, logger, metrics
from sensorflow.services.failures import record_failures


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = bootstrap.failures_service().process(sqs_messages(event), context.get_remaining_time_in_millis)
    record_failures(outcome)
    return outcome.response()
