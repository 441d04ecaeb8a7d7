"""Redrive quarantined records: decide (``core.redrive``), claim the attempt, publish the exact bytes, record
the outcome. ``sensorflow quarantine redrive`` wires it to the stage's bucket and stream; it lives with the
CLI, not in ``services``, because no function runs it (and it stays out of the Lambda zip).

One publication per content hash per run: identical payloads (a producer duplicate quarantined twice) are
one record for the pipeline, and the most recently quarantined copy is the one redriven.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from sensorflow.core.errors import TransientError
from sensorflow.core.quarantined import QuarantinedRecord
from sensorflow.core.redrive import (
    DEFAULT_MAX_ATTEMPTS,
    RedriveAttempt,
    RedriveOutcomeUnknownError,
    RedriveRejectedError,
    decide,
    history,
)

Status = Literal["redriven", "would_redrive", "refused", "rejected", "unknown", "raced"]


class Ledger(Protocol):
    def attempts(self, content_hash: str) -> list[RedriveAttempt]: ...

    def claim(self, attempt: RedriveAttempt) -> bool: ...

    def record_outcome(self, attempt: RedriveAttempt) -> None: ...


class Stream(Protocol):
    def put(self, data: bytes, partition_key: str) -> tuple[str, str]: ...


@dataclass(frozen=True, slots=True)
class RedriveResult:
    record: QuarantinedRecord  # the copy redriven (or that would be)
    status: Status
    attempt: int
    message: str = ""
    shard_id: str | None = None
    sequence_number: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.record.record_id,
            "content_hash": self.record.content_hash,
            "reason": self.record.reason,
            "partition_key": self.record.partition_key,
            "status": self.status,
            "attempt": self.attempt,
            "message": self.message,
            "shard_id": self.shard_id,
            "sequence_number": self.sequence_number,
        }


@dataclass(frozen=True, slots=True)
class Caller:
    by: str
    caller_arn: str | None


class RedriveService:
    def __init__(
        self,
        ledger: Ledger,
        stream: Stream,
        now_ms: Callable[[], int],
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        self._ledger = ledger
        self._stream = stream
        self._now = now_ms
        self._max = max_attempts

    def redrive(
        self,
        selected: Sequence[QuarantinedRecord],
        known: Iterable[QuarantinedRecord],
        caller: Caller,
        dry_run: bool = False,
    ) -> list[RedriveResult]:
        """Redrive each content hash of ``selected`` once; ``known`` are the quarantined records the
        histories are joined from (every copy since the oldest attempt of these hashes, at least)."""
        known = list(known)
        newest: dict[str, QuarantinedRecord] = {}
        for r in selected:
            best = newest.get(r.content_hash)
            if best is None or (r.arrival_time_ms, r.key, r.index) > (
                best.arrival_time_ms,
                best.key,
                best.index,
            ):
                newest[r.content_hash] = r
        return [self._one(r, [*known, *selected], caller, dry_run) for r in newest.values()]

    def _one(
        self, record: QuarantinedRecord, known: list[QuarantinedRecord], caller: Caller, dry_run: bool
    ) -> RedriveResult:
        if not record.partition_key or not record.payload:
            # e.g. an on-failure message the failures function could not read, kept whole: not a record
            return RedriveResult(record, "refused", 1, "not a stream record (no partition key or no bytes)")
        past = history(record.content_hash, known, self._ledger.attempts(record.content_hash))
        decision = decide(past, self._max)
        if not decision.allowed:
            return RedriveResult(record, "refused", decision.attempt, decision.why)
        if dry_run:
            return RedriveResult(record, "would_redrive", decision.attempt)
        attempt = RedriveAttempt(
            content_hash=record.content_hash,
            attempt=decision.attempt,
            claimed_at_ms=self._now(),
            by=caller.by,
            caller_arn=caller.caller_arn,
            source=record.record_id,
            partition_key=record.partition_key,
        )
        if not self._ledger.claim(attempt):
            return RedriveResult(
                record, "raced", attempt.attempt, f"attempt {attempt.attempt} was claimed by another redrive"
            )
        return self._publish(record, attempt)

    def _publish(self, record: QuarantinedRecord, attempt: RedriveAttempt) -> RedriveResult:
        try:
            shard, sequence = self._stream.put(record.payload, record.partition_key)
        except RedriveRejectedError as exc:
            self._ledger.record_outcome(
                replace(attempt, outcome="rejected", error=str(exc), outcome_at_ms=self._now())
            )
            return RedriveResult(record, "rejected", attempt.attempt, str(exc))
        except RedriveOutcomeUnknownError as exc:
            return RedriveResult(record, "unknown", attempt.attempt, f"{exc}; it may have been written")
        done = replace(
            attempt, outcome="published", shard_id=shard, sequence_number=sequence, outcome_at_ms=self._now()
        )
        try:
            self._ledger.record_outcome(done)
        except TransientError as exc:
            return RedriveResult(
                record,
                "unknown",
                attempt.attempt,
                f"published, but its outcome was not recorded: {exc}",
                shard,
                sequence,
            )
        return RedriveResult(record, "redriven", attempt.attempt, "", shard, sequence)
