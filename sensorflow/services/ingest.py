"""The ingest service: one Kinesis batch in, readings / quarantine / alerts out, failures reported.

Lambda checkpoints a Kinesis shard at the *lowest* sequence number in ``batchItemFailures`` and
redelivers everything after it
(docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html).
So processing stops at the first transient failure: that record and every later one are reported,
and outputs are written only for the prefix before it. Powertools' BatchProcessor keeps going after a
failure, which for Kinesis only repeats work that will be redelivered anyway.

KPL aggregated records (``sensorflow.core.kpl``) are de-aggregated here: each sub-record is decoded,
checked and enriched on its own (its own partition key; ``sub_sequence_number`` its position), but the
parent is the unit of success. Sub-records share the parent's sequence number, and ``batchItemFailures``
can only name a parent, so a transient failure of any sub-record fails the whole parent: its sub-records
that did succeed are dropped from this attempt's outputs and redone by the redelivery, which starts at
the parent. Nothing is written twice: the readings and quarantine objects hold only whole parents before
the failure (the redelivery's objects are keyed by the parent, its new first record), and the alarm
replay guard (each sensor's device time) skips the sub-readings whose alarm state already committed. A
parent that cannot be de-aggregated (``kpl_bad_digest``, ``kpl_truncated``, ...) is quarantined whole.

Output order within a batch: the alarm lifecycle runs first over the enriched readings (state and
transitions commit together, see ``sensorflow.alarms``); the lowest record whose alarm state or
transition did not make it shortens the committed prefix. Then the quarantine and readings objects
for that prefix are written. Both
objects are keyed by shard and the batch's first sequence number, so any redelivery that starts at
the same record (whole-batch retry, timeout, bisect) overwrites them instead of adding a copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sensorflow.core import kpl
from sensorflow.core.checks import check_reading
from sensorflow.core.contract import Transition
from sensorflow.core.decode import ReadingDecoder
from sensorflow.core.enrich import enrich
from sensorflow.core.errors import InvalidRecordError, TransientError
from sensorflow.core.ports import (
    AlarmEvaluation,
    DeviceRegistry,
    Emitted,
    QuarantineEntry,
    QuarantineSink,
    ReadingSink,
    RemainingTime,
    TransitionLike,
)
from sensorflow.core.records import EnrichedReading, StreamRecord
from sensorflow.observability import NAMESPACE, SERVICE, logger, metrics

# Stop starting records when less than this is left, so the flush (alerts, S3) still fits.
DEFAULT_DEADLINE_MARGIN_MS = 5_000


@dataclass(slots=True)
class _Done:
    index: int  # of the Kinesis record (the parent, for a KPL sub-record)
    enriched: EnrichedReading | None = None
    quarantined: QuarantineEntry | None = None


@dataclass(slots=True)
class BatchOutcome:
    """What happened to a batch; ``response()`` is the Lambda return value."""

    received: int
    enriched: list[EnrichedReading]
    quarantined: list[QuarantineEntry]
    transitions: list[TransitionLike]
    failed_sequence_numbers: list[str]
    failure_cause: str | None = None
    replayed: int = 0  # readings the alarm replay guard refused (replays, producer duplicates, late)
    late: int = 0  # of those, late readings (device time not after the sensor's newest)

    def response(self) -> dict[str, Any]:
        return {"batchItemFailures": [{"itemIdentifier": s} for s in self.failed_sequence_numbers]}

    @property
    def quarantined_by_reason(self) -> Counter[str]:
        return Counter(q.reason for q in self.quarantined)


TAIL_DECAY = 0.8  # each batch, the learned tail forgets a fifth of an old slow spell


class IngestService:
    def __init__(
        self,
        registry: DeviceRegistry,
        readings: ReadingSink,
        quarantine: QuarantineSink,
        alarms: AlarmEvaluation,
        decoder: ReadingDecoder | None = None,
        deadline_margin_ms: int = DEFAULT_DEADLINE_MARGIN_MS,
    ) -> None:
        self._registry = registry
        self._readings = readings
        self._quarantine = quarantine
        self._alarms = alarms
        self._decoder = decoder or ReadingDecoder()
        self._margin = deadline_margin_ms
        # What the work after the record loop (alarm writes, the two S3 objects) took in this container's
        # recent batches, read off the same remaining-time clock. Records stop early enough for it to fit
        # in the time left, so a slow S3 or DynamoDB cannot push the invocation past its deadline. Until a
        # batch has been measured (a new container), the tail is assumed to take as long as the margin.
        self._tail_ms = float(deadline_margin_ms)

    def process(self, records: Sequence[StreamRecord], remaining_ms: RemainingTime) -> BatchOutcome:
        done: list[_Done] = []
        failed_from: int | None = None
        cause: str | None = None
        for i, record in enumerate(records):
            # The first record always runs when the margin allows (so a batch always moves on).
            if remaining_ms() < self._margin + (self._tail_ms if i else 0.0):
                failed_from, cause = i, "deadline"
                logger.warning("deadline near; stopping", sequence_number=record.sequence_number, index=i)
                break
            try:
                done += self._record(i, record)
            except TransientError as exc:
                failed_from, cause = i, "transient"
                logger.warning(
                    "transient failure; stopping batch",
                    sequence_number=record.sequence_number,
                    shard_id=record.shard_id,
                    error=str(exc),
                )
                break

        tail_started = remaining_ms()
        alarms = self._evaluate_alarms(done, remaining_ms)
        if alarms.failed_from is not None:
            failed_from, cause = alarms.failed_from, "alarms"
        committed = done if failed_from is None else [d for d in done if d.index < failed_from]
        try:
            self._flush(records, committed)
        except TransientError as exc:
            logger.warning("output write failed; whole batch will be retried", error=str(exc))
            committed, failed_from, cause = [], 0, "transient"
        self._tail_ms = max(float(tail_started - remaining_ms()), self._tail_ms * TAIL_DECAY)

        return BatchOutcome(
            received=len(records),
            enriched=[d.enriched for d in committed if d.enriched],
            quarantined=[d.quarantined for d in committed if d.quarantined],
            transitions=[e.event for e in alarms.events],
            failed_sequence_numbers=[]
            if failed_from is None
            else [r.sequence_number for r in records[failed_from:]],
            failure_cause=cause,
            replayed=alarms.skipped,
            late=alarms.late,
        )

    def _record(self, index: int, record: StreamRecord) -> list[_Done]:
        """One Kinesis record: a reading, or a KPL aggregated record's sub-readings (all or, on a transient
        failure of any of them, none: the ``TransientError`` propagates and the parent is reported)."""
        if "kpl" not in self._decoder.framings or not kpl.is_aggregated(record.data):
            return [self._one(index, record)]
        try:
            subs = kpl.deaggregate(record.data)
            if not subs:
                raise InvalidRecordError("kpl_empty", "an aggregated record without sub-records")
        except InvalidRecordError as exc:
            return [self._quarantined(index, record, exc)]
        return [
            self._one(
                index,
                replace(
                    record, partition_key=sub.partition_key, data=sub.data, sub_sequence_number=sub.index
                ),
            )
            for sub in subs
        ]

    def _one(self, index: int, record: StreamRecord) -> _Done:
        try:
            reading = self._decoder.decode(record.data)
            if reading.device_id != record.partition_key:
                # The partition key is what the producer (an IoT Core rule: the authenticated client id)
                # vouches for; a payload naming another device would write that device's alarm state.
                raise InvalidRecordError(
                    "partition_key_mismatch",
                    f"payload device_id {reading.device_id!r} "
                    f"is not the partition key {record.partition_key!r}",
                )
            value, unit = check_reading(reading, now_ms=record.arrival_time_ms)
            device = self._registry.get(reading.device_id)
            if device is None:
                raise InvalidRecordError(
                    "unknown_device", f"device {reading.device_id!r} is not in the registry"
                )
        except InvalidRecordError as exc:
            return self._quarantined(index, record, exc)
        except TransientError:
            raise
        except (
            Exception
        ) as exc:  # the one broad catch: a bug must not stall the shard, and the bytes are kept
            logger.exception("unexpected error; quarantining record", sequence_number=record.sequence_number)
            return _Done(index, quarantined=_quarantine_entry(record, "processing_error", repr(exc)))
        return _Done(index, enriched=enrich(reading, value, unit, device, record))

    @staticmethod
    def _quarantined(index: int, record: StreamRecord, exc: InvalidRecordError) -> _Done:
        logger.info(
            "record quarantined",
            reason=exc.reason,
            detail=exc.detail,
            device_id=record.partition_key,
            shard_id=record.shard_id,
            sequence_number=record.sequence_number,
            sub_sequence_number=record.sub_sequence_number,
        )
        return _Done(index, quarantined=_quarantine_entry(record, exc.reason, exc.detail))

    def _evaluate_alarms(self, done: list[_Done], remaining_ms: RemainingTime) -> _AlarmResult:
        """Run the alarm lifecycle over the enriched readings, mapping its failure back to a record index."""
        enriched = [d for d in done if d.enriched]
        outcome = self._alarms.evaluate([d.enriched for d in enriched if d.enriched], remaining_ms)
        failed = None if outcome.failed_from is None else enriched[outcome.failed_from].index
        return _AlarmResult(outcome.events, failed, outcome.skipped, outcome.late)

    def _flush(self, records: Sequence[StreamRecord], committed: list[_Done]) -> None:
        if not committed:
            return
        key = batch_key(records[0])
        quarantined = [d.quarantined for d in committed if d.quarantined]
        enriched = [d.enriched for d in committed if d.enriched]
        # Both objects are written, empty too: a redelivery that starts at the same record but commits
        # fewer (Lambda's bisected half, a checkpoint that did not stick) must replace what the earlier
        # attempt wrote under the key, or records the later batches write again would be stored twice.
        self._quarantine.write(f"quarantine/{key}.jsonl", quarantined)
        self._readings.write(f"readings/{key}.avro", enriched)


@dataclass(frozen=True, slots=True)
class _AlarmResult:
    events: list[Emitted]
    failed_from: int | None  # index into the batch's records
    skipped: int
    late: int


def batch_key(first: StreamRecord) -> str:
    """``year=/month=/day=/<shard>/<first sequence number>``, stable across redeliveries.

    The date comes from the first record's arrival time, which Kinesis fixes when the record is
    written, so a redelivery on another day still lands on the same key.
    """
    day = datetime.fromtimestamp(first.arrival_time_ms / 1000, tz=UTC)
    return f"year={day:%Y}/month={day:%m}/day={day:%d}/{first.shard_id}/{first.sequence_number}"


def _quarantine_entry(record: StreamRecord, reason: str, detail: str) -> QuarantineEntry:
    return QuarantineEntry(
        reason=reason,
        detail=detail,
        payload=record.data,
        partition_key=record.partition_key,
        sequence_number=record.sequence_number,
        shard_id=record.shard_id,
        arrival_time_ms=record.arrival_time_ms,
        sub_sequence_number=record.sub_sequence_number,
    )


def record_batch(outcome: BatchOutcome) -> None:
    """EMF metrics for one batch; per-reason and per-severity counts carry their own dimension."""
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=outcome.received)
    metrics.add_metric(name="RecordsEnriched", unit=MetricUnit.Count, value=len(outcome.enriched))
    metrics.add_metric(name="RecordsQuarantined", unit=MetricUnit.Count, value=len(outcome.quarantined))
    metrics.add_metric(
        name="BatchItemFailures", unit=MetricUnit.Count, value=len(outcome.failed_sequence_numbers)
    )
    metrics.add_metric(name="ReadingsSkippedByReplayGuard", unit=MetricUnit.Count, value=outcome.replayed)
    metrics.add_metric(name="ReadingsLate", unit=MetricUnit.Count, value=outcome.late)
    _by_dimension("RecordsQuarantinedByReason", "reason", outcome.quarantined_by_reason)
    transitions = [t.attributes() for t in outcome.transitions]
    _by_dimension("AlarmTransitions", "transition", Counter(a["transition"] for a in transitions))
    _by_dimension(
        "Alerts",
        "severity",
        Counter(a["severity"] for a in transitions if a["transition"] != Transition.CLEARED),
    )
    logger.info(
        "batch processed",
        received=outcome.received,
        enriched=len(outcome.enriched),
        quarantined=len(outcome.quarantined),
        transitions=len(outcome.transitions),
        replayed=outcome.replayed,
        late=outcome.late,
        failed=len(outcome.failed_sequence_numbers),
        failure_cause=outcome.failure_cause,
    )


def _by_dimension(name: str, dimension: str, counts: Counter[str]) -> None:
    for value, count in sorted(counts.items()):
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=count,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:
            metric.add_dimension(name=dimension, value=value)
