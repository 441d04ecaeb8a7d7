"""``KinesisRangeReader`` over a scripted Kinesis client: empty pages, iterators, the range's ends, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sensorflow.adapters.kinesis_ranges import MAX_GET_RECORDS_CALLS, KinesisRangeReader
from sensorflow.core.errors import TransientError
from sensorflow.core.failed_batch import RangeGoneError

ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/s"
SHARD = "shardId-000000000000"
AT = datetime(2026, 12, 1, tzinfo=UTC)


def raw(sequence: int) -> dict[str, Any]:
    return {
        "SequenceNumber": str(sequence),
        "PartitionKey": f"k{sequence}",
        "Data": b"d%d" % sequence,
        "ApproximateArrivalTimestamp": AT,
    }


def error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "GetRecords")


class ScriptedKinesis:
    """Answers GetShardIterator with ``it-0`` and each GetRecords ``it-n`` with ``pages[n]``."""

    def __init__(
        self, pages: list[dict[str, Any] | Exception], iterator_error: Exception | None = None
    ) -> None:
        self.pages = pages
        self.iterator_error = iterator_error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetShardIterator", kwargs))
        if self.iterator_error is not None:
            raise self.iterator_error
        return {"ShardIterator": "it-0"}

    def get_records(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("GetRecords", kwargs))
        n = int(kwargs["ShardIterator"].split("-")[1])
        page = self.pages[n]
        if isinstance(page, Exception):
            raise page
        return {"NextShardIterator": f"it-{n + 1}", "MillisBehindLatest": 0, **page}


def read(client: ScriptedKinesis, start: int = 10, end: int = 13) -> list[int]:
    records = KinesisRangeReader(client).read(ARN, SHARD, str(start), str(end), lambda: 60_000)
    return [int(r.sequence_number) for r in records]


def test_reads_at_the_start_sequence_number_through_empty_pages_until_the_end():
    # GIVEN empty pages while the iterator walks toward the records (MillisBehindLatest > 0)
    client = ScriptedKinesis(
        [
            {"Records": [], "MillisBehindLatest": 5_000},
            {"Records": [raw(10), raw(11)], "MillisBehindLatest": 3_000},
            {"Records": [], "MillisBehindLatest": 1_000},
            {"Records": [raw(13)]},
        ]
    )
    assert read(client) == [10, 11, 13]
    # the iterator asked is AT_SEQUENCE_NUMBER the start, by stream ARN; reading stops at the end
    assert client.calls[0] == (
        "GetShardIterator",
        {
            "StreamARN": ARN,
            "ShardId": SHARD,
            "ShardIteratorType": "AT_SEQUENCE_NUMBER",
            "StartingSequenceNumber": "10",
        },
    )
    assert [c[1]["ShardIterator"] for c in client.calls[1:]] == ["it-0", "it-1", "it-2", "it-3"]


def test_records_past_the_end_are_left_and_records_before_the_start_skipped():
    client = ScriptedKinesis([{"Records": [raw(9), raw(10), raw(12), raw(14), raw(15)]}])
    assert read(client, 10, 13) == [10, 12]
    assert len(client.calls) == 2


def test_an_empty_page_at_the_tip_ends_the_read_with_what_was_found():
    client = ScriptedKinesis([{"Records": [raw(11)], "MillisBehindLatest": 1}, {"Records": []}])
    assert read(client) == [11]


def test_a_closed_shard_ends_the_read():
    class Closed(ScriptedKinesis):
        def get_records(self, **kwargs: Any) -> dict[str, Any]:
            return {**super().get_records(**kwargs), "NextShardIterator": None, "MillisBehindLatest": 9}

    assert read(Closed([{"Records": [raw(10)]}])) == [10]


@pytest.mark.parametrize(
    "code", ["ResourceNotFoundException", "InvalidArgumentException", "TrimmedDataAccessException"]
)
def test_a_range_the_stream_no_longer_holds_is_gone(code: str):
    with pytest.raises(RangeGoneError, match=code):
        read(ScriptedKinesis([], iterator_error=error(code)))


def test_trimmed_while_reading_keeps_what_was_read():
    client = ScriptedKinesis(
        [{"Records": [raw(10)], "MillisBehindLatest": 1}, error("ResourceNotFoundException")]
    )
    assert read(client) == [10]


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ExpiredIteratorException", "KMSThrottlingException"]
)
def test_throttling_and_other_faults_are_transient(code: str):
    with pytest.raises(TransientError, match=code):
        read(ScriptedKinesis([error(code)]))


def test_a_range_that_never_ends_is_bounded_and_transient():
    client = ScriptedKinesis([{"Records": [], "MillisBehindLatest": 1}] * (MAX_GET_RECORDS_CALLS + 1))
    with pytest.raises(TransientError, match="GetRecords calls"):
        read(client)
    assert len(client.calls) == 1 + MAX_GET_RECORDS_CALLS


def test_the_read_stops_before_the_deadline():
    client = ScriptedKinesis([{"Records": [raw(10)], "MillisBehindLatest": 1}] * 3)
    left = iter([60_000, 1_000])
    with pytest.raises(TransientError, match="deadline"):
        KinesisRangeReader(client).read(ARN, SHARD, "10", "13", lambda: next(left))
