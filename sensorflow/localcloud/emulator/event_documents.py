"""The exact event documents Lambda sends, built from what the local services return."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class KinesisRecordData:
    """One Kinesis record as GetRecords returned it."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float  # epoch seconds

    @property
    def sequence_int(self) -> int:
        return int(self.sequence_number)


def iso_millis(epoch_s: float) -> str:
    """``2019-11-14T00:38:04.835Z``, the timestamp format of Lambda destination records."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def kinesis_event_record(
    record: KinesisRecordData, stream_arn: str, role_arn: str, region: str
) -> dict[str, Any]:
    # Source: docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html (example Kinesis record event)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": record.sequence_number,
            "data": base64.b64encode(record.data).decode("ascii"),
            "approximateArrivalTimestamp": round(record.arrival, 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{record.shard_id}:{record.sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


# Per-record JSON overhead of the Kinesis event envelope around the base64 data (keys, ARNs, ids).
KINESIS_RECORD_OVERHEAD_BYTES = 700


def kinesis_record_size(record: KinesisRecordData) -> int:
    """An upper estimate of one record's bytes in the invoke payload."""
    return 4 * ((len(record.data) + 2) // 3) + len(record.partition_key) + KINESIS_RECORD_OVERHEAD_BYTES


def kinesis_failure_record(
    *,
    records: Sequence[KinesisRecordData],
    stream_arn: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    function_error: str | None,
    status_code: int,
    now: float,
) -> dict[str, Any]:
    """The metadata-only document an SQS/SNS on-failure destination receives for a discarded batch.

    Source: docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
    """
    response_context: dict[str, Any] = {"statusCode": status_code, "executedVersion": "$LATEST"}
    if function_error:
        response_context["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": iso_millis(now),
        "KinesisBatchInfo": {
            "shardId": records[0].shard_id,
            "startSequenceNumber": records[0].sequence_number,
            "endSequenceNumber": records[-1].sequence_number,
            "approximateArrivalOfFirstRecord": iso_millis(records[0].arrival),
            "approximateArrivalOfLastRecord": iso_millis(records[-1].arrival),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


# The message system attributes Lambda puts in an SQS record's ``attributes`` (FIFO ones when present).
SQS_EVENT_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "DeadLetterQueueSourceArn",
)


def sqs_event_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    """One record of the Lambda SQS event, from a ReceiveMessage message (attributes ``All``).

    Message attributes take Lambda's camel-case form (``stringValue``, ``binaryValue`` in base64,
    ``stringListValues``, ``binaryListValues``, ``dataType``).
    Source: docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (example Amazon SQS message event)
    """
    attributes = message.get("Attributes") or {}
    message_attributes: dict[str, Any] = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        shaped: dict[str, Any] = {}
        if "StringValue" in value:
            shaped["stringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            shaped["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode("ascii")
        shaped["stringListValues"] = list(value.get("StringListValues") or [])
        shaped["binaryListValues"] = [
            base64.b64encode(v).decode("ascii") for v in value.get("BinaryListValues") or []
        ]
        shaped["dataType"] = value.get("DataType", "String")
        message_attributes[name] = shaped
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {k: str(attributes[k]) for k in SQS_EVENT_ATTRIBUTES if k in attributes},
        "messageAttributes": message_attributes,
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def sns_event(subscription_arn: str, notifications: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The Lambda SNS event for notifications in SNS's HTTP/SQS JSON envelope.

    Source: docs.aws.amazon.com/lambda/latest/dg/with-sns.html (example SNS message event)
    """
    records = []
    for note in notifications:
        attributes = {
            name: {"Type": attr.get("Type", "String"), "Value": attr.get("Value")}
            for name, attr in (note.get("MessageAttributes") or {}).items()
        }
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": note.get("Type", "Notification"),
                    "MessageId": note["MessageId"],
                    "TopicArn": note["TopicArn"],
                    "Subject": note.get("Subject"),
                    "Message": note["Message"],
                    "Timestamp": note["Timestamp"],
                    "SignatureVersion": note.get("SignatureVersion", "1"),
                    "Signature": note.get("Signature", "EXAMPLE"),
                    "SigningCertUrl": note.get("SigningCertURL", note.get("SigningCertUrl", "")),
                    "UnsubscribeUrl": note.get("UnsubscribeURL", note.get("UnsubscribeUrl", "")),
                    "MessageAttributes": attributes,
                },
            }
        )
    return {"Records": records}


def scheduled_event(rule_arn: str, region: str, account: str, when: float) -> dict[str, Any]:
    """The EventBridge event a schedule rule sends to its targets.

    Source: docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html
    """
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def eventbridge_event(delivered: dict[str, Any], account: str) -> dict[str, Any]:
    """An EventBridge event as a Lambda target receives it, from the copy moto put on a tap queue.

    moto's copy lacks ``account``; the keys are put in EventBridge's documented order.
    Source: docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
    """
    if not {"source", "detail-type", "detail"} <= set(delivered):
        return delivered  # an Input/InputTransformer target: the function gets the transformed input
    event = {
        "version": delivered.get("version", "0"),
        "id": delivered.get("id", str(uuid.uuid4())),
        "detail-type": delivered["detail-type"],
        "source": delivered["source"],
        "account": delivered.get("account", account),
        "time": delivered.get("time"),
        "region": delivered.get("region"),
        "resources": delivered.get("resources", []),
        "detail": delivered["detail"],
    }
    return {**event, **{k: v for k, v in delivered.items() if k not in event}}
