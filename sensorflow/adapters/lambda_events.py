"""Lambda's event envelopes into core values: Kinesis records, SNS and EventBridge transitions.

The documents inside are the core's (``sensorflow.core.records``, ``sensorflow.core.contract``); this
module only knows where Lambda puts them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from sensorflow.core.contract import SOURCE, InvalidTransitionError, TransitionView, parse_transition
from sensorflow.core.failed_batch import FailureMessage
from sensorflow.core.records import StreamRecord


def stream_records(event: dict[str, Any]) -> list[StreamRecord]:
    records = []
    for rec in event.get("Records", []):
        k = rec["kinesis"]
        records.append(
            StreamRecord(
                # eventID is "shardId-000000000000:<sequenceNumber>"
                shard_id=rec["eventID"].split(":", 1)[0],
                sequence_number=k["sequenceNumber"],
                partition_key=k["partitionKey"],
                data=base64.b64decode(k["data"]),
                arrival_time_ms=int(float(k["approximateArrivalTimestamp"]) * 1000),
            )
        )
    return records


def sns_transitions(event: Mapping[str, Any]) -> list[TransitionView]:
    """The transitions in a Lambda SNS event (``Records[].Sns.Message``; SNS sends one record per invoke)."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise InvalidTransitionError("SNS event has no 'Records' list")
    out = []
    for rec in records:
        try:
            message = rec["Sns"]["Message"]
        except (KeyError, TypeError):
            raise InvalidTransitionError("SNS record has no Sns.Message") from None
        out.append(parse_transition(message))
    return out


def eventbridge_transition(event: Mapping[str, Any]) -> TransitionView:
    """The transition in an EventBridge event; ``detail-type`` must agree with ``detail.transition``."""
    if event.get("source") != SOURCE:
        raise InvalidTransitionError(f"EventBridge event source {event.get('source')!r} is not {SOURCE!r}")
    parsed = parse_transition(event.get("detail"))
    if event.get("detail-type") != parsed.transition:
        raise InvalidTransitionError(
            f"event {parsed.event_id}: detail-type {event.get('detail-type')!r} "
            f"does not match transition {parsed.transition!r}"
        )
    return parsed


def sqs_messages(event: Mapping[str, Any]) -> list[FailureMessage]:
    """The messages of an SQS event (the ``failures`` function's on-failure queue).
    Shape: docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (example Amazon SQS message event)."""
    out = []
    for record in event.get("Records", []):
        attributes = record.get("attributes") or {}
        out.append(
            FailureMessage(
                message_id=record["messageId"],
                body=record.get("body", ""),
                receive_count=int(attributes.get("ApproximateReceiveCount", 1)),
            )
        )
    return out
