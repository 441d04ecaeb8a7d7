"""A Kinesis batch the ingest mapping gave up on, as its on-failure destination describes it.

The SQS on-failure destination of a Kinesis event source mapping receives metadata only: the shard and
the sequence range, never the records
(docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html).
The ``failures`` function re-reads that range from the stream while it is still retained and quarantines
the records with reason ``retries_exhausted``. This module is the pure part: parsing the invocation record,
the deterministic quarantine key of a range, and the entries written for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sensorflow.core.errors import IngestError
from sensorflow.core.ports import QuarantineEntry, RemainingTime
from sensorflow.core.records import StreamRecord

RETRIES_EXHAUSTED = "retries_exhausted"
# Under the ``quarantine/`` prefix; the failures role may write only here (serverless.yml, FailuresRole).
RETRIES_EXHAUSTED_PREFIX = f"quarantine/{RETRIES_EXHAUSTED}"


class InvalidFailureRecordError(IngestError):
    """An SQS message that is not a Kinesis on-failure invocation record (kept as it is, never retried)."""


class RangeGoneError(IngestError):
    """The stream no longer holds the range: trimmed past its retention, or the stream or shard is gone."""


class RangeReader(Protocol):
    def read(
        self, stream_arn: str, shard_id: str, start: str, end: str, remaining_ms: RemainingTime
    ) -> list[StreamRecord]:
        """The shard's records with ``start <= sequence number <= end``, in order (fewer if some were
        trimmed). ``RangeGoneError`` if none can be read any more, ``TransientError`` on a fault."""
        ...


@dataclass(frozen=True, slots=True)
class FailureMessage:
    """One SQS message of the on-failure queue, as the SQS event source delivers it."""

    message_id: str
    body: str
    receive_count: int = 1  # ApproximateReceiveCount


@dataclass(frozen=True, slots=True)
class FailedBatch:
    """The parts of the invocation record the recovery needs (``KinesisBatchInfo`` and ``requestContext``)."""

    stream_arn: str
    shard_id: str
    start_sequence_number: str
    end_sequence_number: str
    batch_size: int
    condition: str  # RetryAttemptsExhausted, RecordAgeExceeded, ...
    approximate_invoke_count: int
    function_error: str | None
    request_id: str
    function_arn: str
    first_arrival: str  # approximateArrivalOfFirstRecord, ISO 8601

    @property
    def stream_name(self) -> str:
        return self.stream_arn.split(":stream/", 1)[-1]


def parse_failed_batch(body: str) -> FailedBatch:
    """The invocation record in an SQS message body; ``InvalidFailureRecordError`` naming what is wrong.

    Shape: docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (example record).
    """
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise InvalidFailureRecordError(f"body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise InvalidFailureRecordError("body is not a JSON object")
    info = _mapping(document, "KinesisBatchInfo")
    context = _mapping(document, "requestContext")
    raw_response = document.get("responseContext")
    response: dict[str, Any] = raw_response if isinstance(raw_response, dict) else {}
    start, end = _sequence(info, "startSequenceNumber"), _sequence(info, "endSequenceNumber")
    if int(start) > int(end):
        raise InvalidFailureRecordError(f"startSequenceNumber {start} is after endSequenceNumber {end}")
    return FailedBatch(
        stream_arn=_text(info, "streamArn"),
        shard_id=_text(info, "shardId"),
        start_sequence_number=start,
        end_sequence_number=end,
        batch_size=_count(info, "batchSize"),
        condition=str(context.get("condition") or "unknown"),
        approximate_invoke_count=_count(context, "approximateInvokeCount"),
        function_error=str(response["functionError"]) if response.get("functionError") else None,
        request_id=str(context.get("requestId") or ""),
        function_arn=str(context.get("functionArn") or ""),
        first_arrival=str(info.get("approximateArrivalOfFirstRecord") or ""),
    )


def _mapping(document: dict[str, Any], key: str) -> dict[str, Any]:
    value = document.get(key)
    if not isinstance(value, dict):
        raise InvalidFailureRecordError(f"no {key} object (not a Kinesis on-failure record)")
    return value


def _text(section: dict[str, Any], key: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidFailureRecordError(f"{key} missing or not a string")
    return value


def _sequence(section: dict[str, Any], key: str) -> str:
    value = _text(section, key)
    if not value.isdigit():
        raise InvalidFailureRecordError(f"{key} {value!r} is not a sequence number")
    return value


def _count(section: dict[str, Any], key: str) -> int:
    value = section.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidFailureRecordError(f"{key} {value!r} is not a count")
    return value


def range_key(batch: FailedBatch) -> str:
    """``quarantine/retries_exhausted/year=/month=/day=/<stream>/<shard>/<start>-<end>.jsonl``.

    Derived from the range alone (the day from the first record's arrival, fixed by Kinesis), so a
    redelivered message, or a second message for the same range, writes the same object.
    """
    suffix = f"{batch.stream_name}/{batch.shard_id}/{batch.start_sequence_number}-{batch.end_sequence_number}"
    try:
        day = datetime.fromisoformat(batch.first_arrival.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return f"{RETRIES_EXHAUSTED_PREFIX}/undated/{suffix}.jsonl"
    return f"{RETRIES_EXHAUSTED_PREFIX}/year={day:%Y}/month={day:%m}/day={day:%d}/{suffix}.jsonl"


def unreadable_key(message_id: str) -> str:
    """Where a message that is no on-failure record is kept: by its SQS message id (stable on redelivery)."""
    return f"{RETRIES_EXHAUSTED_PREFIX}/unreadable/{message_id}.jsonl"


def detail(batch: FailedBatch, records_found: int, missing: str | None) -> str:
    """The reason's detail, as compact JSON: why Lambda gave up, and how much of the range was still there.
    Deterministic for a range (no clock), so a redelivery writes identical bytes."""
    doc: dict[str, Any] = {
        "condition": batch.condition,
        "approximate_invoke_count": batch.approximate_invoke_count,
        "function_error": batch.function_error,
        "request_id": batch.request_id,
        "function_arn": batch.function_arn,
        "stream_arn": batch.stream_arn,
        "start_sequence_number": batch.start_sequence_number,
        "end_sequence_number": batch.end_sequence_number,
        "batch_size": batch.batch_size,
        "records_found": records_found,
    }
    if missing:
        doc["missing"] = missing
    return json.dumps(doc, separators=(",", ":"))


def gap(batch: FailedBatch, records: Sequence[StreamRecord]) -> str | None:
    """Why part of the range is missing (the stream trimmed its head), or None when all of it was read."""
    if not records:
        return "no record of the range is in the stream any more (trimmed or never readable)"
    if records[0].sequence_number != batch.start_sequence_number:
        return f"the range's head is trimmed: first record found is {records[0].sequence_number}"
    if records[-1].sequence_number != batch.end_sequence_number:
        return f"the range's tail was not found: last record found is {records[-1].sequence_number}"
    return None


def recovered_entries(
    batch: FailedBatch, records: Sequence[StreamRecord], gone: str | None = None
) -> list[QuarantineEntry]:
    """One entry per Kinesis record of the range, with its exact bytes (a KPL aggregate stays whole: it
    is what the stream holds and what a redrive re-publishes). With no record left, one entry without a
    payload that keeps the metadata and says so (``gone``: the stream's answer, when it refused the range)."""
    missing = gap(batch, records)
    if gone and not records:
        missing = f"the stream no longer holds the range ({gone})"
    why = detail(batch, len(records), missing)
    if not records:
        return [
            QuarantineEntry(
                reason=RETRIES_EXHAUSTED,
                detail=why,
                payload=b"",
                partition_key="",
                sequence_number=batch.start_sequence_number,
                shard_id=batch.shard_id,
                arrival_time_ms=_epoch_ms(batch.first_arrival),
            )
        ]
    return [
        QuarantineEntry(
            reason=RETRIES_EXHAUSTED,
            detail=why,
            payload=r.data,
            partition_key=r.partition_key,
            sequence_number=r.sequence_number,
            shard_id=r.shard_id,
            arrival_time_ms=r.arrival_time_ms,
        )
        for r in records
    ]


def unreadable_entry(body: str, problem: str) -> QuarantineEntry:
    """A message that is no on-failure record, kept whole so nothing it says is lost."""
    return QuarantineEntry(
        reason=RETRIES_EXHAUSTED,
        detail=json.dumps({"unreadable_failure_record": problem}, separators=(",", ":")),
        payload=body.encode(),
        partition_key="",
        sequence_number="",
        shard_id="",
        arrival_time_ms=0,
    )


def _epoch_ms(iso: str) -> int:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return 0
