"""The peer: a fair, idiomatic Powertools handler doing the textbook version of the ingest job.

``BatchProcessor(EventType.KinesisDataStreams)`` with the Parser's ``KinesisDataStreamRecord`` model (which
base64-decodes ``data``), ``fastavro.schemaless_reader`` then ``fastavro.validate(..., raise_errors=True)``,
a pydantic model of the reading, and for each reading past a warning threshold of ``sensorflow/rules.json``
(value in the canonical unit) one SNS ``Publish`` and one EventBridge ``PutEvents``. A record that fails
goes to ``batchItemFailures``, the way ``process_partial_response`` reports it. No registry, no alarm
state, no S3: it is the baseline the issue compares CPU per reading against.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import fastavro
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from sensorflow.config import DEFAULT_RULES_FILE
from sensorflow.core import schemas
from sensorflow.core.units import normalise


class Reading(BaseModel):
    device_id: str
    sensor_type: str
    value: float
    unit: str
    timestamp: datetime  # timestamp-millis: fastavro reads it as an aware datetime
    seq: int
    battery_pct: float | None = None
    firmware: str | None = None


def warning_thresholds(path: str = str(DEFAULT_RULES_FILE)) -> dict[str, tuple[float | None, float | None]]:
    """sensor_type -> (warning min, warning max) from the rules file."""
    with open(path, encoding="utf-8") as f:
        rules = json.load(f)["rules"]
    return {r["sensor_type"]: (r["warning"].get("min"), r["warning"].get("max")) for r in rules}


def past_threshold(reading: Reading, thresholds: dict[str, tuple[float | None, float | None]]) -> bool:
    low, high = thresholds.get(reading.sensor_type, (None, None))
    value, _ = normalise(reading.sensor_type, reading.value, reading.unit)
    return (high is not None and value > high) or (low is not None and value < low)


def make_handler(
    sns: Any, events: Any, topic_arn: str, bus_name: str
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler, over the given clients (built once, like module-level clients in a container)."""
    logger = Logger(service="peer")
    schema = schemas.load(schemas.READING)
    thresholds = warning_thresholds()
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, model=KinesisDataStreamRecord)

    def record_handler(record: KinesisDataStreamRecord) -> None:
        raw = fastavro.schemaless_reader(io.BytesIO(record.kinesis.data), schema, None)  # type: ignore[arg-type]
        fastavro.validate(raw, schema, raise_errors=True)
        reading = Reading.model_validate(raw)
        if past_threshold(reading, thresholds):
            message = reading.model_dump_json()
            sns.publish(TopicArn=topic_arn, Message=message, Subject=f"Threshold: {reading.device_id}")
            events.put_events(
                Entries=[
                    {
                        "Source": "peer.readings",
                        "DetailType": "Threshold Exceeded",
                        "Detail": message,
                        "EventBusName": bus_name,
                    }
                ]
            )

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )

    return handler
