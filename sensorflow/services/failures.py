"""The ``failures`` service: batches the ingest mapping gave up on, recovered into the quarantine.

The ingest mapping's on-failure destination (SQS, ``IngestFailureQueue``) receives only metadata: the
shard and sequence range of a batch that exhausted its retries or aged out
(docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html). Once the stream's retention
passes, those records are gone. For each message this service re-reads the range from the stream and
writes its records, exact bytes, to the quarantine with reason ``retries_exhausted`` and the message's
``condition``, invoke count and function error in the detail.

- Idempotent per range: the object key comes from (stream, shard, start, end) and its content from the
  message alone, so a redelivered message (or a second message for the same range) writes the same
  object again, never a second one.
- A range the stream no longer holds still gets its object: one entry without a payload that keeps the
  metadata and says what is missing. A message that is no on-failure record is kept whole.
- Partial batch responses (``ReportBatchItemFailures`` on the SQS mapping): a message whose range could
  not be read or written for a transient reason is reported by its ``messageId`` and comes back after the
  queue's visibility timeout; the others are deleted. After ``maxReceiveCount`` receives the queue's
  redrive policy moves it to the dead-letter queue.
  Source: docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.errors import TransientError
from sensorflow.core.failed_batch import (
    FailedBatch,
    FailureMessage,
    InvalidFailureRecordError,
    RangeGoneError,
    RangeReader,
    parse_failed_batch,
    range_key,
    recovered_entries,
    unreadable_entry,
    unreadable_key,
)
from sensorflow.core.ports import QuarantineSink, RemainingTime
from sensorflow.observability import logger, metrics

RECOVERED = "recovered"  # the range's records are in the quarantine
GONE = "gone"  # the stream no longer holds (all of) the range: its metadata is in the quarantine
UNREADABLE = "unreadable"  # not an on-failure record: kept whole
FAILED = "failed"  # transient: reported in batchItemFailures, redelivered


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    message_id: str
    status: str
    key: str | None = None
    records: int = 0
    condition: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FailuresOutcome:
    messages: tuple[MessageOutcome, ...]

    @property
    def failed_message_ids(self) -> list[str]:
        return [m.message_id for m in self.messages if m.status == FAILED]

    def count(self, status: str) -> int:
        return sum(1 for m in self.messages if m.status == status)

    def response(self) -> dict[str, Any]:
        """The SQS partial batch response: the failed messages' ids, nothing else.
        Source: docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"""
        return {"batchItemFailures": [{"itemIdentifier": i} for i in self.failed_message_ids]}


class FailuresService:
    def __init__(
        self, reader: RangeReader, quarantine: QuarantineSink, deadline_margin_ms: int = 5_000
    ) -> None:
        self._reader = reader
        self._quarantine = quarantine
        self._margin_ms = deadline_margin_ms

    def process(self, messages: Sequence[FailureMessage], remaining_ms: RemainingTime) -> FailuresOutcome:
        out: list[MessageOutcome] = []
        for message in messages:
            if remaining_ms() < self._margin_ms:
                # Not started: reported, so the queue hands it out again after the visibility timeout.
                out.append(MessageOutcome(message.message_id, FAILED, error="deadline"))
                continue
            try:
                out.append(self._one(message, remaining_ms))
            except TransientError as exc:
                logger.warning(
                    "failure message not recovered; will retry", message_id=message.message_id, error=str(exc)
                )
                out.append(MessageOutcome(message.message_id, FAILED, error=str(exc)))
            except Exception as exc:  # the batch boundary: one message's bug must not fail the others
                logger.exception("failure message raised; will retry", message_id=message.message_id)
                out.append(MessageOutcome(message.message_id, FAILED, error=repr(exc)))
        return FailuresOutcome(tuple(out))

    def _one(self, message: FailureMessage, remaining_ms: RemainingTime) -> MessageOutcome:
        try:
            batch = parse_failed_batch(message.body)
        except InvalidFailureRecordError as exc:
            key = unreadable_key(message.message_id)
            self._quarantine.write(key, [unreadable_entry(message.body, str(exc))])
            logger.warning(
                "unreadable failure message kept", message_id=message.message_id, key=key, error=str(exc)
            )
            return MessageOutcome(message.message_id, UNREADABLE, key=key, error=str(exc))
        return self._recover(message, batch, remaining_ms)

    def _recover(
        self, message: FailureMessage, batch: FailedBatch, remaining_ms: RemainingTime
    ) -> MessageOutcome:
        gone: str | None = None
        try:
            records = self._reader.read(
                batch.stream_arn,
                batch.shard_id,
                batch.start_sequence_number,
                batch.end_sequence_number,
                remaining_ms,
            )
        except RangeGoneError as exc:
            records, gone = [], str(exc)
        key = range_key(batch)
        self._quarantine.write(key, recovered_entries(batch, records, gone))
        complete = (
            bool(records)
            and records[0].sequence_number == batch.start_sequence_number
            and (records[-1].sequence_number == batch.end_sequence_number)
        )
        status = RECOVERED if complete else GONE
        log = logger.info if complete else logger.warning
        log(
            "failed batch quarantined",
            message_id=message.message_id,
            key=key,
            shard_id=batch.shard_id,
            start_sequence_number=batch.start_sequence_number,
            end_sequence_number=batch.end_sequence_number,
            condition=batch.condition,
            records=len(records),
            batch_size=batch.batch_size,
            complete=complete,
        )
        return MessageOutcome(
            message.message_id, status, key=key, records=len(records), condition=batch.condition
        )


def record_failures(outcome: FailuresOutcome) -> None:
    """EMF metrics for one batch of failure messages."""
    metrics.add_metric(name="FailedBatchesRecovered", unit=MetricUnit.Count, value=outcome.count(RECOVERED))
    metrics.add_metric(name="FailedBatchesGone", unit=MetricUnit.Count, value=outcome.count(GONE))
    metrics.add_metric(
        name="FailureMessagesUnreadable", unit=MetricUnit.Count, value=outcome.count(UNREADABLE)
    )
    metrics.add_metric(name="FailureMessagesRetried", unit=MetricUnit.Count, value=outcome.count(FAILED))
    metrics.add_metric(
        name="RecordsRecovered", unit=MetricUnit.Count, value=sum(m.records for m in outcome.messages)
    )
