"""Kinesis event source mappings with the semantics AWS documents, run against a local Kinesis API.

Per mapping and shard, a reader polls ``GetRecords`` into lanes (one lane unless ``ParallelizationFactor``
> 1, then records go to a lane by partition-key hash so order holds per key). Each lane has at most one
batch in flight; its head is the checkpoint. A batch that fails is retried from the checkpoint, bisected,
or discarded to the on-failure destination exactly as described in:
- docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html (polling, batching, one batch per shard)
- docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html (partial responses)
- docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html (retries, bisect, record age)
- docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (discarded batches)
- docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html (filtered records count as processed)
- docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html (IteratorAge: the age of the batch's
  last record when the function finishes the batch; ``Throttles`` are not failures and use no retry)
- docs.aws.amazon.com/streams/latest/dev/kinesis-using-sdk-java-after-resharding.html and
  with-kinesis.html (after a reshard Lambda finishes a parent shard before it reads the children)
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.localcloud.emulator.discovery import INFINITE, FunctionConfig, KinesisMapping
from sensorflow.localcloud.emulator.event_documents import (
    KinesisRecordData,
    kinesis_event_record,
    kinesis_failure_record,
    kinesis_record_size,
)
from sensorflow.localcloud.emulator.runtime_stats import Invocation, RuntimeStats
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

logger = logging.getLogger(__name__)

# GetRecords: at most 10,000 records per call and 5 calls per second per shard.
# Source: docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
GET_RECORDS_MAX_RECORDS = 10_000
GET_RECORDS_MIN_INTERVAL_S = 1 / 5
# Synchronous invoke payload limit; a batch is cut before it.
# Source: docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
INVOKE_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024
# How many records a shard may hold in memory ahead of its checkpoint before the reader waits.
READ_AHEAD_RECORDS = 20_000
# How often the shard list is re-read to pick up new shards.
SHARD_REFRESH_S = 5.0

Invoker = Callable[[str, dict[str, Any]], InvokeResult]
FailureSender = Callable[[str, dict[str, Any]], None]
# ("AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", sequence number): where a shard's reading carries on.
ResumePoint = tuple[str, str]
# (function name) -> its reserved concurrency, or None when it has none (0 = throttle every invoke).
ConcurrencyLookup = Callable[[str], int | None]
# (function name, iterator age in ms) -> published as the function's AWS/Lambda IteratorAge metric.
IteratorAgeSink = Callable[[str, float], None]
THROTTLE_BACKOFF_S = 1.0  # how long a lane waits after a throttled invoke before it tries again
DESTINATION_ATTEMPTS = 3  # sends of one discard record to its on-failure destination before giving up


@dataclass(frozen=True, slots=True)
class Batch:
    """Records from the head of a lane, with how often this exact batch was invoked and retried."""

    records: tuple[KinesisRecordData, ...]
    invokes: int = 0
    retries: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """How Lambda reads an invocation's result for a stream batch."""

    kind: str  # "ok", "partial", "error"
    failed_index: int = 0  # for "partial": index of the lowest failed record in the batch
    reason: str = ""


def judge(result: InvokeResult, batch: Sequence[KinesisRecordData], report_item_failures: bool) -> Verdict:
    """Classify a result. Partial responses count only with ``ReportBatchItemFailures``; an empty or null
    ``itemIdentifier``, a wrong key, or an identifier not in the batch fails the whole batch; several
    failures checkpoint at the lowest sequence number.
    Source: docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
    """
    if not result.ok:
        return Verdict("error", reason=result.error_type or "Unhandled")
    if not report_item_failures or result.payload is None or not isinstance(result.payload, dict):
        return Verdict("ok")
    failures = result.payload.get("batchItemFailures")
    if not failures:
        return Verdict("ok")
    if not isinstance(failures, list):
        return Verdict("error", reason="invalid_response")
    index_of = {record.sequence_number: i for i, record in enumerate(batch)}
    lowest: int | None = None
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in index_of:
            return Verdict("error", reason="invalid_response")
        position = index_of[identifier]
        lowest = position if lowest is None else min(lowest, position)
    assert lowest is not None
    return Verdict("partial", failed_index=lowest)


def lane_for(partition_key: str, lanes: int) -> int:
    if lanes == 1:
        return 0
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest()[:8], "big") % lanes


class Lane:
    """An ordered buffer of one shard's records with at most one batch in flight."""

    def __init__(self, owner: ShardConsumer, index: int) -> None:
        self.owner = owner
        self.index = index
        self.buffer: deque[KinesisRecordData] = deque()
        self.received_at: deque[float] = deque()  # monotonic time each buffered record arrived here
        self.buffered_bytes = 0  # invoke-payload size of everything buffered: the 6 MB batching trigger
        self.cond = threading.Condition()
        self.in_flight = False
        self.thread = threading.Thread(
            target=self._run, name=f"esm-{owner.mapping.function_name}-{owner.shard_id}-{index}", daemon=True
        )

    def add(self, records: Sequence[KinesisRecordData]) -> None:
        now = time.monotonic()
        with self.cond:
            self.buffer.extend(records)
            self.received_at.extend([now] * len(records))
            self.buffered_bytes += sum(kinesis_record_size(r) for r in records)
            self.cond.notify()

    def pending(self) -> int:
        with self.cond:
            return len(self.buffer)

    def head(self) -> str | None:
        with self.cond:
            return self.buffer[0].sequence_number if self.buffer else None

    def oldest_arrival(self) -> float | None:
        with self.cond:
            return self.buffer[0].arrival if self.buffer else None

    def _gather(self) -> Batch | None:
        """Wait for a full batch or the batching window, whichever comes first.
        Source: docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#services-kinesis-batchfailurereporting
        (batching window: invoke when BatchSize is reached, the window expires or the payload hits 6 MB)
        """
        mapping = self.owner.mapping
        with self.cond:
            while not self.owner.stopping.is_set():
                if self.buffer:
                    waited = time.monotonic() - self.received_at[0]
                    full = (
                        len(self.buffer) >= mapping.batch_size
                        or self.buffered_bytes >= INVOKE_PAYLOAD_MAX_BYTES
                    )
                    if full or waited >= mapping.batching_window_s:
                        return Batch(self._take(mapping.batch_size))
                    self.cond.wait(mapping.batching_window_s - waited)
                else:
                    self.cond.wait(0.5)
        return None

    def _take(self, limit: int) -> tuple[KinesisRecordData, ...]:
        taken: list[KinesisRecordData] = []
        size = 0
        for record in self.buffer:
            size += kinesis_record_size(record)
            if len(taken) == limit or (taken and size > INVOKE_PAYLOAD_MAX_BYTES):
                break
            taken.append(record)
        return tuple(taken)

    def _commit(self, records: Sequence[KinesisRecordData], processed: bool = True) -> None:
        """Advance the checkpoint past ``records``, which are always the head of the buffer."""
        with self.cond:
            for record in records:
                head = self.buffer.popleft()
                self.received_at.popleft()
                self.buffered_bytes -= kinesis_record_size(head)
                assert head.sequence_number == record.sequence_number, "checkpoint out of order"
        if records:
            self.owner.checkpointed(records[-1])
            if processed:
                now = self.owner.clock()
                self.owner.stats.record_latencies([(now - r.arrival) * 1000 for r in records])

    def _run(self) -> None:
        work: deque[Batch] = deque()  # pieces of a bisected batch, in order, all at the head
        while not self.owner.stopping.is_set():
            if not work:
                batch = self._gather()
                if batch is None:
                    return
                work.append(batch)
            self.in_flight = True
            try:
                self._step(work)
            except Exception:  # keep the lane alive; a bug here must not wedge the shard silently
                logger.exception("stream batch handling failed", extra={"shard": self.owner.shard_id})
                time.sleep(1.0)
            finally:
                self.in_flight = bool(work)

    def _step(self, work: deque[Batch]) -> None:
        owner = self.owner
        mapping = owner.mapping
        batch = work[0]
        expired, batch = self._split_expired(batch)
        if expired:
            # Source: services-kinesis-parameters.html: records older than MaximumRecordAgeInSeconds are
            # discarded (metadata to the on-failure destination) instead of being sent to the function.
            owner.discard(expired, "RecordAgeExceeded", batch.invokes, None)
            self._commit(expired, processed=False)
            if not batch.records:
                work.popleft()
                return
            work[0] = batch
        if owner.throttled():
            # Reserved concurrency 0 (the usual pause switch) throttles every invoke. Lambda keeps the batch
            # and tries again; a throttle is not a function error and uses up no retry attempt.
            owner.stats.add("mapping", mapping.uuid, "throttles")
            owner.stopping.wait(THROTTLE_BACKOFF_S)
            return
        result = owner.invoke(batch.records)
        batch = replace(batch, invokes=batch.invokes + 1)
        verdict = judge(result, batch.records, mapping.report_batch_item_failures)
        owner.note(batch.records, result, verdict)
        if verdict.kind == "ok":
            self._commit(batch.records)
            work.popleft()
            return
        if verdict.kind == "partial":
            # Checkpoint at the lowest failed sequence number; retry from there, later records included.
            # With BisectBatchOnFunctionError the split is at that sequence number: same records retried.
            done, rest = batch.records[: verdict.failed_index], batch.records[verdict.failed_index :]
            self._commit(done)
            batch = Batch(rest, invokes=batch.invokes, retries=batch.retries)
        elif mapping.bisect_on_error and len(batch.records) > 1:
            # A function error splits the batch in two; splitting does not use up a retry.
            half = len(batch.records) // 2
            work.popleft()
            work.appendleft(Batch(batch.records[half:], retries=batch.retries))
            work.appendleft(Batch(batch.records[:half], retries=batch.retries))
            owner.stats.add("mapping", mapping.uuid, "bisections")
            return
        retries = batch.retries + 1
        if mapping.maximum_retry_attempts != INFINITE and retries > mapping.maximum_retry_attempts:
            owner.discard(batch.records, "RetryAttemptsExhausted", batch.invokes, result)
            self._commit(batch.records, processed=False)
            work.popleft()
            return
        work[0] = replace(batch, retries=retries)
        owner.stats.add("mapping", mapping.uuid, "retries")
        owner.stopping.wait(owner.retry_backoff(retries))

    def _split_expired(self, batch: Batch) -> tuple[tuple[KinesisRecordData, ...], Batch]:
        max_age = self.owner.mapping.maximum_record_age_s
        if max_age == INFINITE:
            return (), batch
        cutoff = self.owner.clock() - max_age
        n = 0
        while n < len(batch.records) and batch.records[n].arrival < cutoff:
            n += 1
        return batch.records[:n], replace(batch, records=batch.records[n:])


class ShardConsumer:
    """Reads one shard for one mapping and feeds its lanes."""

    def __init__(
        self,
        esm: KinesisEventSourceMapping,
        shard_id: str,
        from_start: bool = False,
        resume: ResumePoint | None = None,
    ) -> None:
        self.esm = esm
        self.resume = resume  # where a mapping restarted by the reconcile loop carries on
        # A shard that appears after the mapping started (a reshard's child) is read from its first record,
        # whatever the mapping's starting position: with LATEST nothing written to it is skipped.
        self.from_start = from_start
        self.mapping = esm.mapping
        self.shard_id = shard_id
        self.stats = esm.stats
        self.stopping = esm.stopping
        self.clock = esm.clock
        self.retry_backoff = esm.retry_backoff
        self.lanes = [Lane(self, i) for i in range(max(1, self.mapping.parallelization_factor))]
        self.caught_up = False
        self.closed = False
        self.last_read: str | None = None
        self.reader = threading.Thread(target=self._read, name=f"kinesis-{shard_id}", daemon=True)

    def start(self) -> None:
        for lane in self.lanes:
            lane.thread.start()
        self.reader.start()

    def join(self, timeout: float) -> None:
        self.reader.join(timeout)
        for lane in self.lanes:
            lane.thread.join(timeout)

    def pending(self) -> int:
        return sum(lane.pending() for lane in self.lanes)

    def idle(self) -> bool:
        return self.caught_up and all(not lane.in_flight and lane.pending() == 0 for lane in self.lanes)

    def resume_point(self) -> ResumePoint | None:
        """Where to carry on so that nothing unprocessed is skipped: at the lowest record still buffered
        (in flight included) in any lane, else after the last record read; None if nothing was read."""
        heads = [lane.head() for lane in self.lanes]
        buffered = [h for h in heads if h is not None]
        if buffered:
            return ("AT_SEQUENCE_NUMBER", min(buffered, key=int))
        if self.last_read is not None:
            return ("AFTER_SEQUENCE_NUMBER", self.last_read)
        return self.resume

    def finished(self) -> bool:
        """A closed shard read to its end with every record processed: its children may start."""
        return self.closed and self.idle()

    def iterator_age_ms(self) -> float:
        oldest = [a for lane in self.lanes if (a := lane.oldest_arrival()) is not None]
        return max(0.0, (self.clock() - min(oldest)) * 1000) if oldest else 0.0

    def _iterator(self) -> str:
        args: dict[str, Any] = {"StreamARN": self.mapping.stream_arn, "ShardId": self.shard_id}
        if self.last_read is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=self.last_read)
        elif self.resume is not None:
            args.update(ShardIteratorType=self.resume[0], StartingSequenceNumber=self.resume[1])
        elif self.from_start:
            args.update(ShardIteratorType="TRIM_HORIZON")
        elif self.mapping.starting_position == "AT_TIMESTAMP":
            if self.mapping.starting_timestamp is None:
                # moto stores StartingPositionTimestamp but does not report it back; `local up` refuses such
                # a mapping (unemulated.py), and with --allow-unemulated it reads from the shard's start.
                args.update(ShardIteratorType="TRIM_HORIZON")
            else:
                args.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.mapping.starting_timestamp)
        else:
            args.update(ShardIteratorType=self.mapping.starting_position)
        iterator: str = self.esm.kinesis.get_shard_iterator(**args)["ShardIterator"]
        return iterator

    def _read(self) -> None:
        iterator: str | None = None
        name = self.mapping.stream_name
        while not self.stopping.is_set():
            if self.pending() >= READ_AHEAD_RECORDS:
                self.stopping.wait(GET_RECORDS_MIN_INTERVAL_S)
                continue
            started = time.monotonic()
            try:
                if iterator is None:
                    iterator = self._iterator()
                response = self.esm.kinesis.get_records(
                    ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS, StreamARN=self.mapping.stream_arn
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ExpiredIteratorException":
                    iterator = None
                    continue
                logger.warning("GetRecords failed", extra={"shard": self.shard_id, "error": str(exc)})
                self.stopping.wait(1.0)
                continue
            except BotoCoreError as exc:
                if self.stopping.is_set():
                    return
                logger.warning("GetRecords failed", extra={"shard": self.shard_id, "error": str(exc)})
                self.stopping.wait(1.0)
                continue
            raw = response.get("Records", [])
            if raw:
                records = [
                    KinesisRecordData(
                        shard_id=self.shard_id,
                        sequence_number=r["SequenceNumber"],
                        partition_key=r["PartitionKey"],
                        data=r["Data"],
                        arrival=r["ApproximateArrivalTimestamp"].timestamp(),
                    )
                    for r in raw
                ]
                self.last_read = records[-1].sequence_number
                self.stats.add("stream", name, "records_seen", len(records))
                records = self._filtered(records)
                by_lane: dict[int, list[KinesisRecordData]] = {}
                for record in records:
                    by_lane.setdefault(lane_for(record.partition_key, len(self.lanes)), []).append(record)
                for index, lane_records in by_lane.items():
                    self.lanes[index].add(lane_records)
            self.caught_up = not raw and not response.get("MillisBehindLatest")
            iterator = response.get("NextShardIterator")
            if iterator is None:  # the shard was closed by a reshard and fully read
                self.closed = True
                self.caught_up = True
                return
            self.stopping.wait(max(0.0, GET_RECORDS_MIN_INTERVAL_S - (time.monotonic() - started)))

    def _filtered(self, records: list[KinesisRecordData]) -> list[KinesisRecordData]:
        """The records that match the mapping's filters; the others are dropped and count as processed."""
        filters = self.mapping.filters
        if not filters.patterns:
            return records
        kept = [
            r
            for r in records
            if filters.matches_kinesis(r.partition_key, r.sequence_number, r.data, r.arrival)
        ]
        dropped = len(records) - len(kept)
        if dropped:
            self.stats.add("mapping", self.mapping.uuid, "records_filtered", dropped)
            if not kept and self.pending() == 0:
                self.checkpointed(records[-1])
        return kept

    # -- called by lanes -------------------------------------------------------------------------------
    def throttled(self) -> bool:
        return self.esm.reserved_concurrency(self.esm.function.name) == 0

    def invoke(self, records: Sequence[KinesisRecordData]) -> InvokeResult:
        function = self.esm.function
        event = {
            "Records": [
                kinesis_event_record(r, self.mapping.stream_arn, function.role, self.mapping.region)
                for r in records
            ]
        }
        return self.esm.invoker(function.name, event)

    def note(self, records: Sequence[KinesisRecordData], result: InvokeResult, verdict: Verdict) -> None:
        outcome = verdict.kind
        if result.timed_out:
            outcome = "timeout"
        elif verdict.kind == "error" and verdict.reason == "invalid_response":
            outcome = "invalid_response"
        self.stats.record_invocation(
            Invocation(
                function=self.esm.function.name,
                source="kinesis",
                shard_id=self.shard_id,
                sequence_numbers=tuple(r.sequence_number for r in records),
                outcome=outcome,
                error_type=result.error_type,
                duration_ms=result.duration_ms,
            )
        )
        self.stats.add("mapping", self.mapping.uuid, "records_delivered", len(records))
        if records:
            self.esm.iterator_age_sink(
                self.esm.function.name, max(0.0, (self.clock() - records[-1].arrival) * 1000)
            )
        if outcome != "ok":
            self.stats.add("mapping", self.mapping.uuid, "failed_invocations")

    def checkpointed(self, record: KinesisRecordData) -> None:
        self.stats.set("shard", f"{self.mapping.uuid}/{self.shard_id}", "checkpoint", record.sequence_int)

    def discard(
        self, records: Sequence[KinesisRecordData], condition: str, invokes: int, result: InvokeResult | None
    ) -> None:
        self.stats.add("mapping", self.mapping.uuid, "batches_discarded")
        self.stats.add("mapping", self.mapping.uuid, "records_discarded", len(records))
        logger.warning(
            "stream batch discarded",
            extra={
                "condition": condition,
                "shard": self.shard_id,
                "first": records[0].sequence_number,
                "last": records[-1].sequence_number,
            },
        )
        destination = self.mapping.on_failure_arn
        if not destination:
            return
        document = kinesis_failure_record(
            records=records,
            stream_arn=self.mapping.stream_arn,
            function_arn=self.esm.function.arn,
            condition=condition,
            invoke_count=invokes,
            function_error="Unhandled" if result is not None and not result.ok else None,
            status_code=200 if result is not None else 0,
            now=self.clock(),
        )
        self._send_failure(destination, document)

    def _send_failure(self, destination: str, document: dict[str, Any]) -> None:
        """Send the discard record; a destination that stays unreachable doesn't hold the shard.
        Source: kinesis-on-failure-destination.html: "If the error handling measures fail, Lambda discards
        the records and continues processing batches from the stream." (The batch is never re-invoked.)
        """
        for attempt in range(DESTINATION_ATTEMPTS):
            try:
                self.esm.send_failure(destination, document)
                return
            except Exception as exc:  # any failure to deliver: the service's error or the connection's
                if attempt + 1 < DESTINATION_ATTEMPTS:
                    self.stopping.wait(0.2 * 2**attempt)
                    continue
                self.stats.add("mapping", self.mapping.uuid, "destination_failures")
                logger.error(
                    "on-failure destination unreachable: batch record lost",
                    extra={"destination": destination, "shard": self.shard_id, "error": str(exc)},
                )


class KinesisEventSourceMapping:
    """One mapping: a consumer per shard, started as shards appear."""

    def __init__(
        self,
        mapping: KinesisMapping,
        function: FunctionConfig,
        kinesis: Any,
        invoker: Invoker,
        send_failure: FailureSender,
        stats: RuntimeStats,
        *,
        clock: Callable[[], float] = time.time,
        retry_backoff: Callable[[int], float] | None = None,
        reserved_concurrency: ConcurrencyLookup | None = None,
        iterator_age_sink: IteratorAgeSink | None = None,
        resume: dict[str, ResumePoint] | None = None,
    ) -> None:
        self.mapping = mapping
        self.resume = dict(resume or {})
        self.function = function
        self.kinesis = kinesis
        self.invoker = invoker
        self.send_failure = send_failure
        self.stats = stats
        self.clock = clock
        self.retry_backoff = retry_backoff or (lambda retries: min(0.05 * 2**retries, 1.0))
        self.reserved_concurrency: ConcurrencyLookup = reserved_concurrency or (lambda _name: None)
        self.iterator_age_sink: IteratorAgeSink = iterator_age_sink or (lambda _name, _age: None)
        self._initial_shards: set[str] | None = None  # listed at start: they take the starting position
        self._waiting: set[str] = set()  # children whose parents are not finished yet
        self.stopping = threading.Event()
        self.consumers: dict[str, ShardConsumer] = {}
        self._thread = threading.Thread(target=self._watch, name=f"esm-{mapping.uuid[:8]}", daemon=True)

    def start(self) -> None:
        self._refresh()
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for consumer in list(self.consumers.values()):
            for lane in consumer.lanes:
                with lane.cond:
                    lane.cond.notify_all()
        self._thread.join(5)
        for consumer in list(self.consumers.values()):
            consumer.join(5)

    def resume_points(self) -> dict[str, ResumePoint]:
        """Per shard, where a successor of this (stopped) mapping carries on."""
        points = dict(self.resume)
        for shard_id, consumer in list(self.consumers.items()):
            point = consumer.resume_point()
            if point is not None:
                points[shard_id] = point
        return points

    def idle(self) -> bool:
        # Not idle before the shards have been listed: an empty consumer map means "not started yet".
        consumers = list(self.consumers.values())
        return bool(consumers) and not self._waiting and all(c.idle() for c in consumers)

    def pending(self) -> int:
        return sum(c.pending() for c in list(self.consumers.values()))

    def iterator_age_ms(self) -> float:
        return max((c.iterator_age_ms() for c in list(self.consumers.values())), default=0.0)

    def _refresh(self) -> None:
        shards = self.kinesis.list_shards(StreamARN=self.mapping.stream_arn)["Shards"]
        listed = {shard["ShardId"] for shard in shards}
        if self._initial_shards is None:
            self._initial_shards = set(listed)
        waiting = set()
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.consumers:
                continue
            if not self._parents_finished(shard, listed):
                waiting.add(shard_id)
                continue
            consumer = ShardConsumer(
                self,
                shard_id,
                from_start=shard_id not in self._initial_shards,
                resume=self.resume.get(shard_id),
            )
            self.consumers[shard_id] = consumer
            consumer.start()
        self._waiting = waiting

    def _parents_finished(self, shard: dict[str, Any], listed: set[str]) -> bool:
        """Per-key order across a reshard: a child waits until each parent still in the stream is finished."""
        for key in ("ParentShardId", "AdjacentParentShardId"):
            parent = shard.get(key)
            if parent and parent in listed:
                consumer = self.consumers.get(parent)
                if consumer is None or not consumer.finished():
                    return False
        return True

    def _watch(self) -> None:
        # Re-list every few seconds for new shards; every half second while a child waits for its parent.
        while not self.stopping.wait(0.5 if self._waiting else SHARD_REFRESH_S):
            try:
                self._refresh()
            except (ClientError, BotoCoreError) as exc:
                logger.warning("ListShards failed", extra={"error": str(exc)})
