"""Lambda entry point for the ``ingest`` function (Kinesis stream -> readings, quarantine, alerts)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from sensorflow import bootstrap
from sensorflow.adapters.lambda_events import stream_records
from sensorflow.observability import capture_lambda_handler, logger, metrics
from sensorflow.services.ingest import record_batch


@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = stream_records(event)
    if records:
        logger.append_keys(shard_id=records[0].shard_id)
    outcome = bootstrap.ingest_service().process(records, context.get_remaining_time_in_millis)
    record_batch(outcome)
    return outcome.response()
