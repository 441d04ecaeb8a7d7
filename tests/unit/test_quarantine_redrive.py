"""The redrive rules (``core.redrive``) and the redrive itself (``cli.quarantine_redrive``) with in-memory
fakes of the ledger and the stream: once per return to the quarantine, never past ``max_attempts``."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sensorflow.cli.quarantine_redrive import Caller, RedriveService
from sensorflow.core.quarantined import QuarantinedRecord, count, matches, newest_first
from sensorflow.core.redrive import (
    RedriveAttempt,
    RedriveOutcomeUnknownError,
    RedriveRejectedError,
    decide,
    history,
)

T0 = 1_795_000_000_000
SHARD = "shardId-000000000000"


def record(
    seq: str, arrival: int, payload: bytes = b"\x16ghost", key: str = "k", reason: str = "unknown_device"
):
    return QuarantinedRecord(
        key=f"quarantine/{key}.jsonl",
        index=0,
        reason=reason,
        detail="",
        payload=payload,
        partition_key="ghost-1",
        sequence_number=seq,
        shard_id=SHARD,
        arrival_time_ms=arrival,
        device_id="ghost-1",
    )


class FakeLedger:
    def __init__(self) -> None:
        self.items: dict[tuple[str, int], RedriveAttempt] = {}
        self.outcome_fails = False

    def attempts(self, content_hash: str) -> list[RedriveAttempt]:
        return sorted((a for (h, _), a in self.items.items() if h == content_hash), key=lambda a: a.attempt)

    def claim(self, attempt: RedriveAttempt) -> bool:
        if (attempt.content_hash, attempt.attempt) in self.items:
            return False
        self.items[(attempt.content_hash, attempt.attempt)] = attempt
        return True

    def record_outcome(self, attempt: RedriveAttempt) -> None:
        if self.outcome_fails:
            from sensorflow.core.errors import TransientError

            raise TransientError("s3 down")
        self.items[(attempt.content_hash, attempt.attempt)] = attempt


class FakeStream:
    def __init__(self) -> None:
        self.puts: list[tuple[bytes, str]] = []
        self.fail: Exception | None = None

    def put(self, data: bytes, partition_key: str) -> tuple[str, str]:
        if self.fail is not None:
            raise self.fail
        self.puts.append((data, partition_key))
        return SHARD, f"9{len(self.puts)}"


@pytest.fixture
def clock() -> list[int]:
    return [T0 + 1000]


@pytest.fixture
def parts(clock: list[int]) -> tuple[FakeLedger, FakeStream, RedriveService]:
    ledger, stream = FakeLedger(), FakeStream()
    return ledger, stream, RedriveService(ledger, stream, lambda: clock[0], max_attempts=3)


ANA = Caller("ana", "arn:aws:iam::1:user/ana")


def test_redriven_once_then_refused_until_it_comes_back(parts, clock):
    _ledger, stream, service = parts
    original = record("1", T0)
    # WHEN it is redriven twice
    [first] = service.redrive([original], [], ANA)
    [second] = service.redrive([original], [], ANA)
    # THEN one put, the exact bytes and key; the second is refused
    assert stream.puts == [(b"\x16ghost", "ghost-1")]
    assert (first.status, first.attempt, first.sequence_number) == ("redriven", 1, "91")
    assert second.status == "refused" and "already redriven" in second.message
    # WHEN ingest quarantines it again (the copy carries the sequence number the attempt got)
    clock[0] += 1000
    back = record("91", clock[0], key="k2")
    [third] = service.redrive([original], [back], ANA)
    # THEN it may go once more, as attempt 2
    assert (third.status, third.attempt, third.record.key) == ("redriven", 2, "quarantine/k.jsonl")
    assert len(stream.puts) == 2


def test_max_attempts_stops_a_record_that_keeps_failing(parts, clock):
    _ledger, stream, service = parts
    copies = [record("1", T0)]
    for n in range(1, 4):
        [result] = service.redrive(copies, copies, ANA)
        assert (result.status, result.attempt) == ("redriven", n)
        clock[0] += 1000
        copies.append(record(f"9{n}", clock[0], key=f"k{n}"))
    [refused] = service.redrive(copies, copies, ANA)
    assert refused.status == "refused" and refused.message == "redriven 3 times already (--max-attempts 3)"
    assert len(stream.puts) == 3


def test_identical_payloads_are_redriven_once_per_run(parts):
    _, stream, service = parts
    results = service.redrive([record("1", T0), record("2", T0 + 5, key="b")], [], ANA)
    assert [(r.status, r.record.key) for r in results] == [("redriven", "quarantine/b.jsonl")]
    assert len(stream.puts) == 1


def test_a_rejected_put_is_recorded_and_may_be_retried(parts):
    ledger, stream, service = parts
    stream.fail = RedriveRejectedError("kinesis:PutRecord AccessDeniedException: no")
    [result] = service.redrive([record("1", T0)], [], ANA)
    assert result.status == "rejected"
    assert ledger.attempts(record("1", T0).content_hash)[0].outcome == "rejected"
    stream.fail = None
    [retry] = service.redrive([record("1", T0)], [], ANA)
    assert (retry.status, retry.attempt) == ("redriven", 2)


def test_an_unknown_outcome_blocks_until_a_newer_copy_is_quarantined(parts, clock):
    _ledger, stream, service = parts
    stream.fail = RedriveOutcomeUnknownError("kinesis:PutRecord ReadTimeoutError")
    [result] = service.redrive([record("1", T0)], [], ANA)
    assert result.status == "unknown"
    stream.fail = None
    [blocked] = service.redrive([record("1", T0)], [], ANA)
    assert blocked.status == "refused" and "recorded no outcome" in blocked.message
    # a copy quarantined after the claim is its return
    [again] = service.redrive([record("1", T0)], [record("77", clock[0] + 10, key="k9")], ANA)
    assert (again.status, again.attempt) == ("redriven", 2)


def test_a_published_record_whose_outcome_was_not_recorded_is_unknown(parts):
    ledger, _stream, service = parts
    ledger.outcome_fails = True
    [result] = service.redrive([record("1", T0)], [], ANA)
    assert result.status == "unknown" and result.sequence_number == "91"
    ledger.outcome_fails = False
    assert service.redrive([record("1", T0)], [], ANA)[0].status == "refused"


def test_dry_run_and_a_lost_claim(parts):
    ledger, stream, service = parts
    assert service.redrive([record("1", T0)], [], ANA, dry_run=True)[0].status == "would_redrive"
    assert stream.puts == [] and ledger.items == {}
    # someone else claims attempt 1 between our read and our claim
    taken = RedriveAttempt(record("1", T0).content_hash, 1, T0, "bo", None, "x", "ghost-1")
    real_attempts = ledger.attempts
    ledger.attempts = lambda h: []  # type: ignore[method-assign]
    ledger.items[(taken.content_hash, 1)] = taken
    [raced] = service.redrive([record("1", T0)], [], ANA)
    ledger.attempts = real_attempts  # type: ignore[method-assign]
    assert raced.status == "raced" and stream.puts == []


def test_a_stale_copy_with_the_same_sequence_number_is_not_a_return():
    original = record("91", T0)  # e.g. a stream created again, numbering from the start
    attempt = RedriveAttempt(
        original.content_hash, 1, T0 + 86_400_000, "ana", None, "x", "ghost-1", "published", SHARD, "91"
    )
    past = history(original.content_hash, [original], [attempt])
    assert past.returned(attempt) is None and not decide(past).allowed
    back = replace(original, key="quarantine/k2.jsonl", arrival_time_ms=T0 + 86_400_000 + 5)
    assert history(original.content_hash, [original, back], [attempt]).returned(attempt) == back


def test_filters_counts_and_order():
    a = record("1", T0, reason="decode_error")
    b = record("2", T0 + 86_400_000, key="b")
    assert [matches(r, since_ms=T0 + 1) for r in (a, b)] == [False, True]
    assert [matches(r, reason="decode_error") for r in (a, b)] == [True, False]
    assert matches(a, device="ghost-1") and not matches(a, device="dev-2")
    counts = count([a, b, b])
    assert counts.by_reason == {"unknown_device": 2, "decode_error": 1}
    assert counts.by_day == {"2026-11-18": 1, "2026-11-19": 2} and counts.total == 3
    assert newest_first([a, b]) == [b, a]


def test_a_line_that_is_not_a_stream_record_is_never_published(parts):
    _, stream, service = parts
    unreadable = replace(record("", T0), partition_key="", reason="retries_exhausted")
    [result] = service.redrive([unreadable], [], ANA)
    assert result.status == "refused" and "not a stream record" in result.message
    assert stream.puts == []
