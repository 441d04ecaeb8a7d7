"""Redrive bookkeeping: which quarantined records may be re-published to the stream, and their history.

Why a ledger. Ingest keys its readings object by shard and the batch's first sequence number, so that a
redelivery overwrites (``services.ingest.batch_key``); a record *re-published* gets a new sequence number,
lands in another batch, and is stored again. The alarm replay guard (each sensor's newest device time)
keeps the alarm state from counting it twice, but not the readings store. So a redrive must publish a
record at most once per time it came back, and only the ledger can know that: one claim object per
attempt, ``redrives/<content hash>/<attempt>.claim.json``, written with ``If-None-Match: *`` before the
record is published (two operators redriving at once cannot both claim attempt *n*), then an outcome object
beside it (the shard and sequence number Kinesis gave it, or why Kinesis refused it). Quarantine objects
are never rewritten.

A redriven record that fails again is quarantined again by ingest, as any record: a new line, same content
hash, and the shard and sequence number of the attempt that published it. That is how an attempt is known
to have *come back* (``History.returned``). The rules (``decide``):

- at most ``max_attempts`` attempts per content hash, so a record that keeps failing cannot loop;
- the last attempt must have come back, or have been refused by Kinesis: one that was published and did not
  come back was enriched (or is not read yet), so redriving it again would store it twice;
- an attempt without an outcome (the command was interrupted between claim and outcome) counts as published
  until a quarantined copy newer than its claim shows up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sensorflow.core.clock import ms_to_iso
from sensorflow.core.quarantined import QuarantinedRecord

LEDGER_PREFIX = "redrives/"
DEFAULT_MAX_ATTEMPTS = 3
# The claim is stamped by the operator's clock, a record's arrival by Kinesis: a copy is taken for the return
# of an attempt only if it arrived after the claim, give or take this much. Sequence numbers alone could
# repeat (a stream deleted and created again starts over).
CLOCK_SKEW_MS = 5 * 60 * 1000
Outcome = Literal["published", "rejected"]


class RedriveRejectedError(Exception):
    """The stream refused the record (an error answer): it was not written, the attempt may be retried."""


class RedriveOutcomeUnknownError(Exception):
    """No answer from the stream (a timeout, a server error): the record may or may not have been written."""


@dataclass(frozen=True, slots=True)
class RedriveAttempt:
    content_hash: str
    attempt: int  # from 1
    claimed_at_ms: int
    by: str
    caller_arn: str | None
    source: str  # the record id redriven (KEY#INDEX)
    partition_key: str
    outcome: Outcome | None = None  # None: no outcome recorded (interrupted)
    shard_id: str | None = None
    sequence_number: str | None = None
    error: str | None = None
    outcome_at_ms: int | None = None

    def claim_doc(self) -> dict[str, Any]:
        return {
            "content_hash": self.content_hash,
            "attempt": self.attempt,
            "claimed_at": ms_to_iso(self.claimed_at_ms),
            "claimed_at_ms": self.claimed_at_ms,
            "by": self.by,
            "caller_arn": self.caller_arn,
            "source": self.source,
            "partition_key": self.partition_key,
        }

    def outcome_doc(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "shard_id": self.shard_id,
            "sequence_number": self.sequence_number,
            "error": self.error,
            "outcome_at_ms": self.outcome_at_ms,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.claim_doc(), **self.outcome_doc()}


def from_docs(claim: dict[str, Any], outcome: dict[str, Any] | None) -> RedriveAttempt:
    out = outcome or {}
    return RedriveAttempt(
        content_hash=str(claim["content_hash"]),
        attempt=int(claim["attempt"]),
        claimed_at_ms=int(claim["claimed_at_ms"]),
        by=str(claim.get("by", "")),
        caller_arn=claim.get("caller_arn"),
        source=str(claim.get("source", "")),
        partition_key=str(claim.get("partition_key", "")),
        outcome=out.get("outcome"),
        shard_id=out.get("shard_id"),
        sequence_number=out.get("sequence_number"),
        error=out.get("error"),
        outcome_at_ms=out.get("outcome_at_ms"),
    )


def claim_key(content_hash: str, attempt: int) -> str:
    return f"{LEDGER_PREFIX}{content_hash}/{attempt:04d}.claim.json"


def outcome_key(content_hash: str, attempt: int) -> str:
    return f"{LEDGER_PREFIX}{content_hash}/{attempt:04d}.outcome.json"


@dataclass(frozen=True, slots=True)
class History:
    """Every quarantined copy of one payload (oldest first) and every redrive of it (by attempt)."""

    content_hash: str
    occurrences: tuple[QuarantinedRecord, ...]
    attempts: tuple[RedriveAttempt, ...]

    def returned(self, attempt: RedriveAttempt) -> QuarantinedRecord | None:
        """The quarantined copy that attempt produced, if it failed again."""
        if attempt.outcome == "published":
            for r in self.occurrences:
                if (r.shard_id, r.sequence_number) == (attempt.shard_id, attempt.sequence_number) and (
                    r.arrival_time_ms >= attempt.claimed_at_ms - CLOCK_SKEW_MS
                ):
                    return r
            return None
        if attempt.outcome is None:
            published = {(a.shard_id, a.sequence_number) for a in self.attempts if a.outcome == "published"}
            for r in self.occurrences:
                if (
                    r.arrival_time_ms >= attempt.claimed_at_ms
                    and (r.shard_id, r.sequence_number) not in published
                ):
                    return r
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "content_hash": self.content_hash,
            "quarantined": [
                {"id": r.record_id, "reason": r.reason, "arrival_time": ms_to_iso(r.arrival_time_ms)}
                for r in self.occurrences
            ],
            "redrives": [
                {**a.to_json(), "returned_as": (ret.record_id if (ret := self.returned(a)) else None)}
                for a in self.attempts
            ],
        }


def history(
    content_hash: str, records: Iterable[QuarantinedRecord], attempts: Sequence[RedriveAttempt]
) -> History:
    same = {(r.key, r.index): r for r in records if r.content_hash == content_hash}
    ordered = sorted(same.values(), key=lambda r: (r.arrival_time_ms, r.key, r.index))
    return History(content_hash, tuple(ordered), tuple(sorted(attempts, key=lambda a: a.attempt)))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    attempt: int  # the number the next attempt takes
    why: str  # why not (empty when allowed)


def decide(history: History, max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Decision:
    attempts = history.attempts
    following = (attempts[-1].attempt if attempts else 0) + 1
    if len(attempts) >= max_attempts:
        return Decision(
            False, following, f"redriven {len(attempts)} times already (--max-attempts {max_attempts})"
        )
    if not attempts:
        return Decision(True, following, "")
    last = attempts[-1]
    when = ms_to_iso(last.claimed_at_ms)
    if last.outcome == "rejected" or history.returned(last) is not None:
        return Decision(True, following, "")
    if last.outcome is None:
        return Decision(
            False,
            following,
            f"attempt {last.attempt} at {when} recorded no outcome (interrupted): it counts as published "
            "until a copy of it is quarantined again",
        )
    return Decision(
        False,
        following,
        f"already redriven at {when} (sequence number {last.sequence_number}) and not quarantined since: "
        "enriched, or not read by ingest yet",
    )
