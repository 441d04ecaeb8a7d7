"""The ``failures`` service over in-memory fakes: exact quarantine objects, exact batchItemFailures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.core.errors import TransientError
from sensorflow.core.failed_batch import (
    FailureMessage,
    InvalidFailureRecordError,
    RangeGoneError,
    parse_failed_batch,
    range_key,
)
from sensorflow.core.ports import QuarantineEntry, RemainingTime
from sensorflow.core.records import StreamRecord
from sensorflow.services.failures import FailuresService
from tests.fakes import FakeQuarantineSink

STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/sensorflow-test-readings"
SHARD = "shardId-000000000000"
ARRIVAL_MS = 1_764_600_000_000  # 2025-12-01T14:40:00Z
KEY = f"quarantine/retries_exhausted/year=2025/month=12/day=01/sensorflow-test-readings/{SHARD}/101-103.jsonl"


def body(start: str = "101", end: str = "103", **context: Any) -> str:
    """A Kinesis on-failure invocation record.
    Source: docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html"""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8fa9f-5a7f-4d5b-8a1e-0123456789ab",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:sensorflow-test-ingest",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 6,
                **context,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": "2025-12-01T14:41:00.000Z",
            "KinesisBatchInfo": {
                "shardId": SHARD,
                "startSequenceNumber": start,
                "endSequenceNumber": end,
                "approximateArrivalOfFirstRecord": "2025-12-01T14:40:00.000Z",
                "approximateArrivalOfLastRecord": "2025-12-01T14:40:00.500Z",
                "batchSize": int(end) - int(start) + 1 if start.isdigit() else 3,
                "streamArn": STREAM,
            },
        }
    )


def record(sequence: int, data: bytes = b"") -> StreamRecord:
    return StreamRecord(SHARD, str(sequence), f"device-{sequence}", data or b"r%d" % sequence, ARRIVAL_MS)


class FakeStream:
    """Stands in for ``adapters.kinesis_ranges.KinesisRangeReader``: a shard's records, or a failure."""

    def __init__(self, records: Sequence[StreamRecord] = (), fail: Exception | None = None) -> None:
        self.records = list(records)
        self.fail = fail
        self.reads: list[tuple[str, str, str, str]] = []

    def read(
        self, stream_arn: str, shard_id: str, start: str, end: str, remaining_ms: RemainingTime
    ) -> list[StreamRecord]:
        self.reads.append((stream_arn, shard_id, start, end))
        if self.fail is not None:
            raise self.fail
        return [r for r in self.records if int(start) <= int(r.sequence_number) <= int(end)]


def detail(**overrides: Any) -> str:
    doc: dict[str, Any] = {
        "condition": "RetryAttemptsExhausted",
        "approximate_invoke_count": 6,
        "function_error": "Unhandled",
        "request_id": "c9b8fa9f-5a7f-4d5b-8a1e-0123456789ab",
        "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:sensorflow-test-ingest",
        "stream_arn": STREAM,
        "start_sequence_number": "101",
        "end_sequence_number": "103",
        "batch_size": 3,
        "records_found": 3,
    }
    doc.update(overrides)
    return json.dumps(doc, separators=(",", ":"))


def plenty() -> int:
    return 60_000


def run(stream: FakeStream, sink: FakeQuarantineSink, *messages: FailureMessage) -> dict[str, Any]:
    return FailuresService(stream, sink).process(messages, plenty).response()


def test_a_failed_range_is_re_read_and_quarantined_with_its_exact_bytes():
    # GIVEN a shard holding 100..104 and a message for 101..103 (a KPL aggregate among them, kept whole)
    kpl = b"\xf3\x89\x9a\xc2" + b"\x0a\x01k" + bytes(16)
    stream = FakeStream([record(100), record(101), record(102, kpl), record(103), record(104)])
    sink = FakeQuarantineSink()
    # WHEN the service handles it
    response = run(stream, sink, FailureMessage("m-1", body()))
    # THEN one object under the range's key holds exactly 101, 102, 103 with the message's metadata
    assert response == {"batchItemFailures": []}
    assert stream.reads == [(STREAM, SHARD, "101", "103")]
    assert sink.objects == {
        KEY: [
            QuarantineEntry("retries_exhausted", detail(), b"r101", "device-101", "101", SHARD, ARRIVAL_MS),
            QuarantineEntry("retries_exhausted", detail(), kpl, "device-102", "102", SHARD, ARRIVAL_MS),
            QuarantineEntry("retries_exhausted", detail(), b"r103", "device-103", "103", SHARD, ARRIVAL_MS),
        ]
    }


def test_a_redelivered_message_writes_the_same_object_again_not_a_second_one():
    stream = FakeStream([record(101), record(102), record(103)])
    sink = FakeQuarantineSink()
    run(stream, sink, FailureMessage("m-1", body()))
    first = dict(sink.objects)
    # WHEN the same range comes again (redelivery, or a second message for the same range)
    run(stream, sink, FailureMessage("m-1", body()), FailureMessage("m-2", body()))
    # THEN still one object, byte-for-byte what the first delivery wrote
    assert sink.objects == first


def test_a_trimmed_range_keeps_its_metadata_in_an_entry_without_payload():
    # GIVEN the stream answers that the range is gone (past retention)
    stream = FakeStream(fail=RangeGoneError("kinesis:GetShardIterator: InvalidArgumentException"))
    sink = FakeQuarantineSink()
    response = run(stream, sink, FailureMessage("m-1", body(condition="RecordAgeExceeded")))
    # THEN the message is done (nothing to retry) and its metadata is quarantined, saying what is missing
    assert response == {"batchItemFailures": []}
    missing = "the stream no longer holds the range (kinesis:GetShardIterator: InvalidArgumentException)"
    assert sink.objects == {
        KEY: [
            QuarantineEntry(
                "retries_exhausted",
                detail(condition="RecordAgeExceeded", records_found=0, missing=missing),
                b"",
                "",
                "101",
                SHARD,
                ARRIVAL_MS,
            )
        ]
    }


def test_a_range_whose_head_was_trimmed_keeps_what_is_left_and_says_so():
    stream = FakeStream([record(102), record(103)])
    sink = FakeQuarantineSink()
    run(stream, sink, FailureMessage("m-1", body()))
    missing = "the range's head is trimmed: first record found is 102"
    assert [(e.sequence_number, e.detail) for e in sink.objects[KEY]] == [
        ("102", detail(records_found=2, missing=missing)),
        ("103", detail(records_found=2, missing=missing)),
    ]


def test_only_the_messages_that_failed_transiently_are_reported():
    # GIVEN three messages: the stream is throttled for the second one's range only
    class Throttled(FakeStream):
        def read(self, stream_arn, shard_id, start, end, remaining_ms):  # type: ignore[no-untyped-def]
            if start == "201":
                raise TransientError("kinesis:GetRecords failed: ProvisionedThroughputExceededException")
            return super().read(stream_arn, shard_id, start, end, remaining_ms)

    stream = Throttled([record(101), record(102), record(103), record(301)])
    sink = FakeQuarantineSink()
    response = run(
        stream,
        sink,
        FailureMessage("m-1", body()),
        FailureMessage("m-2", body("201", "203")),
        FailureMessage("m-3", body("301", "301")),
    )
    # THEN only m-2 comes back; m-1 and m-3 are in the quarantine
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert sorted(k.rsplit("/", 1)[1] for k in sink.objects) == ["101-103.jsonl", "301-301.jsonl"]


def test_a_quarantine_write_failure_reports_the_message():
    stream = FakeStream([record(101), record(102), record(103)])
    response = run(stream, FakeQuarantineSink(fail=True), FailureMessage("m-1", body()))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_an_unexpected_error_fails_only_its_message():
    stream = FakeStream(fail=KeyError("SequenceNumber"))
    sink = FakeQuarantineSink()
    response = run(stream, sink, FailureMessage("m-1", body()), FailureMessage("m-2", "not json"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert list(sink.objects) == ["quarantine/retries_exhausted/unreadable/m-2.jsonl"]


def test_a_message_that_is_no_failure_record_is_kept_whole_under_its_message_id():
    sink = FakeQuarantineSink()
    response = run(FakeStream(), sink, FailureMessage("m-9", '{"hello": 1}'))
    assert response == {"batchItemFailures": []}
    [entry] = sink.objects["quarantine/retries_exhausted/unreadable/m-9.jsonl"]
    assert entry.payload == b'{"hello": 1}'
    assert json.loads(entry.detail) == {
        "unreadable_failure_record": "no KinesisBatchInfo object (not a Kinesis on-failure record)"
    }


def test_messages_not_started_before_the_deadline_are_reported():
    stream = FakeStream([record(101), record(102), record(103)])
    sink = FakeQuarantineSink()
    left = iter([60_000, 1_000])
    outcome = FailuresService(stream, sink, deadline_margin_ms=5_000).process(
        [FailureMessage("m-1", body()), FailureMessage("m-2", body("301", "301"))], lambda: next(left)
    )
    assert outcome.response() == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert list(sink.objects) == [KEY]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[]", "body is not a JSON object"),
        (body("x1", "103"), "startSequenceNumber 'x1' is not a sequence number"),
        (body("104", "103"), "startSequenceNumber 104 is after endSequenceNumber 103"),
        (body(approximateInvokeCount="6"), "approximateInvokeCount '6' is not a count"),
    ],
)
def test_malformed_failure_records_are_refused_naming_the_fault(text: str, problem: str):
    with pytest.raises(InvalidFailureRecordError, match=problem):
        parse_failed_batch(text)


@given(
    start=st.integers(min_value=0, max_value=10**40),
    length=st.integers(min_value=0, max_value=10**6),
    other=st.integers(min_value=0, max_value=10**40),
)
def test_the_key_is_a_function_of_the_range_alone(start: int, length: int, other: int):
    # Different requests, counts and conditions for one range: one key. Another range: another key.
    a = parse_failed_batch(body(str(start), str(start + length)))
    b = parse_failed_batch(
        body(str(start), str(start + length), requestId="other", condition="RecordAgeExceeded")
    )
    assert range_key(a) == range_key(b)
    c = parse_failed_batch(body(str(other), str(other + length)))
    assert (range_key(c) == range_key(a)) == (other == start)
