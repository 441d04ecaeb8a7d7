"""A well-behaved Kinesis producer: PutRecords batches within limits, partial-failure retries, pacing.

- Batches hold at most 500 records and 5 MiB, counting data plus partition key bytes.
- A PutRecords call can succeed while some of its records fail (``FailedRecordCount``; per-record
  ``ErrorCode``). Only those records are sent again, after exponential backoff with full jitter,
  up to ``max_attempts`` sends in all; what still fails is reported, never dropped silently.
- Pacing: ``rate`` caps records/s and ``byte_rate`` bytes/s. ``shard_limits`` gives the stream-wide
  ceiling for its open shards (1,000 records/s and 1 MiB/s each); the CLI applies it on real AWS.
  Partition keys rarely spread perfectly over shards, so a hot shard can still throttle: the retries
  above absorb that.

Retries reorder records of a partition key relative to each other and can duplicate them on AWS
(the first attempt may have landed); consumers deduplicate on (device_id, seq), not sequence number.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

from sensorflow.core.backoff import jittered_delay
from sensorflow.simulate.errors import ProducerError

# Kinesis quotas. Source: docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html and the
# PutRecords API reference (docs.aws.amazon.com/kinesis/latest/APIReference/API_PutRecords.html).
PUT_RECORDS_MAX_RECORDS = 500  # records per PutRecords call
PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024  # 5 MiB per call, data blobs plus partition keys
RECORD_MAX_BYTES = 1024 * 1024  # 1 MiB per record, data blob plus partition key
PARTITION_KEY_MAX_CHARS = 256  # partition keys are 1..256 Unicode characters
SHARD_RECORDS_PER_S = 1_000  # write throughput of one shard: 1,000 records/s ...
SHARD_BYTES_PER_S = 1024 * 1024  # ... or 1 MiB/s, whichever comes first

# Per-record ErrorCode values worth sending again (PutRecords API reference: "ErrorCode ... can be either
# ProvisionedThroughputExceededException or InternalFailure"; KMS throttling is transient too).
RETRYABLE_RECORD_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "InternalFailure",
        "KMSThrottlingException",
    }
)
# Whole-call errors that mean "try again later" rather than "this will never work".
RETRYABLE_CALL_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "KMSThrottlingException",
        "InternalFailure",
        "InternalFailureException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)

DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_BASE_BACKOFF_S = 0.1
DEFAULT_MAX_BACKOFF_S = 5.0
# With a records/s cap, batches are cut to about a fifth of a second's worth so sending stays smooth.
PACED_BATCHES_PER_S = 5


class OutgoingRecord(Protocol):
    """What the producer needs from a record (``SimRecord`` has it)."""

    @property
    def partition_key(self) -> str: ...

    @property
    def data(self) -> bytes: ...


class KinesisClient(Protocol):
    def put_records(self, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """A record that was not delivered, with the last error Kinesis gave for it."""

    record: Any
    error_code: str
    error_message: str

    @property
    def partition_key(self) -> str:
        return str(self.record.partition_key)


@dataclass(frozen=True, slots=True)
class ProducerReport:
    """The outcome of ``KinesisProducer.send``."""

    sent: int  # records Kinesis accepted
    retried: int  # record sends after the first (one record retried twice counts 2)
    failed: int  # records given up on
    failed_records: tuple[FailedRecord, ...]
    records_per_s: float  # delivered records per second of wall time
    bytes: int  # delivered bytes: data plus partition key
    elapsed_s: float
    calls: int  # PutRecords calls made


@dataclass(slots=True)
class _Stats:
    sent: int = 0
    retried: int = 0
    bytes: int = 0
    calls: int = 0
    failed: list[FailedRecord] = field(default_factory=list)


def record_size(record: OutgoingRecord) -> int:
    """Bytes a record counts against the PutRecords and shard limits: data plus UTF-8 partition key."""
    return len(record.data) + len(record.partition_key.encode("utf-8"))


class KinesisProducer:
    """Publishes records to one stream. The boto3 client is injected (configure ``retries.mode=standard``)."""

    def __init__(
        self,
        client: KinesisClient,
        stream_name: str,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        rate: float | None = None,
        progress: Callable[[int, int, int], None] | None = None,
        *,
        byte_rate: float | None = None,
        base_backoff_s: float = DEFAULT_BASE_BACKOFF_S,
        max_backoff_s: float = DEFAULT_MAX_BACKOFF_S,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if (rate is not None and rate <= 0) or (byte_rate is not None and byte_rate <= 0):
            raise ValueError("rate and byte_rate must be positive")
        self._client = client
        # An ARN names the stream unambiguously across accounts; PutRecords accepts either.
        self._target = (
            {"StreamARN": stream_name} if stream_name.startswith("arn:") else {"StreamName": stream_name}
        )
        self._max_attempts = max_attempts
        self._progress = progress
        self._base_backoff_s = base_backoff_s
        self._max_backoff_s = max_backoff_s
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._pacer = _Pacer(rate, byte_rate, clock, sleep)
        self._max_batch = PUT_RECORDS_MAX_RECORDS
        if rate is not None:
            self._max_batch = max(1, min(PUT_RECORDS_MAX_RECORDS, int(rate // PACED_BATCHES_PER_S)))

    def send(
        self,
        records: Iterable[OutgoingRecord],
        on_done: Callable[[Any, str | None], None] | None = None,
    ) -> ProducerReport:
        """Publish ``records`` in order; ``on_done(record, error_code_or_None)`` fires as each one settles."""
        stats = _Stats()
        started = self._clock()
        try:
            for batch in self._batches(records, stats, on_done):
                self._send_batch(batch, stats, on_done)
        except ProducerError as exc:
            exc.report = self._report(stats, started)
            raise
        return self._report(stats, started)

    def _report(self, stats: _Stats, started: float) -> ProducerReport:
        elapsed = max(self._clock() - started, 1e-9)
        return ProducerReport(
            sent=stats.sent,
            retried=stats.retried,
            failed=len(stats.failed),
            failed_records=tuple(stats.failed),
            records_per_s=stats.sent / elapsed,
            bytes=stats.bytes,
            elapsed_s=elapsed,
            calls=stats.calls,
        )

    def _batches(
        self,
        records: Iterable[OutgoingRecord],
        stats: _Stats,
        on_done: Callable[[Any, str | None], None] | None,
    ) -> Iterator[list[tuple[OutgoingRecord, int]]]:
        batch: list[tuple[OutgoingRecord, int]] = []
        batch_bytes = 0
        for record in records:
            size = record_size(record)
            problem = _unsendable(record, size)
            if problem is not None:
                stats.failed.append(FailedRecord(record, *problem))
                if on_done is not None:
                    on_done(record, problem[0])
                continue
            if batch and (len(batch) >= self._max_batch or batch_bytes + size > PUT_RECORDS_MAX_BYTES):
                yield batch
                batch, batch_bytes = [], 0
            batch.append((record, size))
            batch_bytes += size
        if batch:
            yield batch

    def _send_batch(
        self,
        batch: list[tuple[OutgoingRecord, int]],
        stats: _Stats,
        on_done: Callable[[Any, str | None], None] | None,
    ) -> None:
        pending = batch
        for attempt in range(1, self._max_attempts + 1):
            self._pacer.wait(len(pending), sum(size for _, size in pending))
            retry: list[tuple[OutgoingRecord, int, str, str]] = []
            for (record, size), (code, message) in zip(pending, self._put(pending, stats), strict=True):
                if code is None:
                    stats.sent += 1
                    stats.bytes += size
                    if on_done is not None:
                        on_done(record, None)
                elif code in RETRYABLE_RECORD_ERRORS or code in RETRYABLE_CALL_ERRORS:
                    retry.append((record, size, code, message))
                else:
                    stats.failed.append(FailedRecord(record, code, message))
                    if on_done is not None:
                        on_done(record, code)
            if self._progress is not None:
                self._progress(stats.sent, len(stats.failed), stats.bytes)
            if not retry:
                return
            if attempt == self._max_attempts:
                for record, _, code, message in retry:
                    stats.failed.append(FailedRecord(record, code, message))
                    if on_done is not None:
                        on_done(record, code)
                return
            stats.retried += len(retry)
            # The wait after send number `attempt` is uniform below min(max, base * 2 ** (attempt - 1)):
            # jittered_delay doubles from 2 * base_s at its attempt 1, hence base / 2. Halving is exact
            # in binary floating point, so the delays (and the rng's draws) are the same as before.
            delay = jittered_delay(attempt, self._base_backoff_s / 2, self._max_backoff_s, self._rng.uniform)
            self._sleep(delay)
            pending = [(record, size) for record, size, _, _ in retry]

    def _put(self, pending: list[tuple[OutgoingRecord, int]], stats: _Stats) -> list[tuple[str | None, str]]:
        """One PutRecords call: per record, (None, "") on success or (error code, message)."""
        entries = [{"Data": record.data, "PartitionKey": record.partition_key} for record, _ in pending]
        stats.calls += 1
        try:
            response = self._client.put_records(Records=entries, **self._target)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = str(error.get("Code", "")), str(error.get("Message", exc))
            if code in RETRYABLE_CALL_ERRORS:
                return [(code, message)] * len(pending)
            raise ProducerError(
                f"PutRecords to {next(iter(self._target.values()))} failed: {code}: {message}"
            ) from exc
        results = response.get("Records", [])
        if len(results) != len(pending):
            raise ProducerError(f"PutRecords answered {len(results)} results for {len(pending)} records")
        return [
            (None, "") if not r.get("ErrorCode") else (str(r["ErrorCode"]), str(r.get("ErrorMessage", "")))
            for r in results
        ]


def _unsendable(record: OutgoingRecord, size: int) -> tuple[str, str] | None:
    if not 1 <= len(record.partition_key) <= PARTITION_KEY_MAX_CHARS:
        return "InvalidPartitionKey", f"partition key must be 1..{PARTITION_KEY_MAX_CHARS} characters"
    if size > RECORD_MAX_BYTES:
        return "RecordTooLarge", f"{size} bytes exceeds the {RECORD_MAX_BYTES}-byte record limit"
    return None


def shard_limits(open_shards: int) -> tuple[float, float]:
    """The stream-wide write ceiling (records/s, bytes/s) for ``open_shards`` shards."""
    return float(open_shards * SHARD_RECORDS_PER_S), float(open_shards * SHARD_BYTES_PER_S)


def open_shard_count(client: Any, stream_name: str) -> int:
    """Open shards of a stream (DescribeStreamSummary). Raises ``ClientError`` as boto3 does."""
    target = {"StreamARN": stream_name} if stream_name.startswith("arn:") else {"StreamName": stream_name}
    summary = client.describe_stream_summary(**target)["StreamDescriptionSummary"]
    return int(summary["OpenShardCount"])


class _Pacer:
    """Keeps the send rate at or under records/s and bytes/s since the first send.

    A send waits until everything sent before it fits the rate, so one batch (at most a fifth of a
    second's worth with a records cap, or a full 500 with only shard limits) may go at once.
    """

    def __init__(
        self,
        records_per_s: float | None,
        bytes_per_s: float | None,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._rps = records_per_s
        self._bps = bytes_per_s
        self._clock = clock
        self._sleep = sleep
        self._t0: float | None = None
        self._records = 0
        self._bytes = 0

    def wait(self, records: int, nbytes: int) -> None:
        if self._rps is None and self._bps is None:
            return
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        due = 0.0
        if self._rps is not None:
            due = max(due, self._records / self._rps)
        if self._bps is not None:
            due = max(due, self._bytes / self._bps)
        delay = due - (now - self._t0)
        if delay > 0:
            self._sleep(delay)
        self._records += records
        self._bytes += nbytes
