"""Re-reads a sequence range of one shard: ``GetShardIterator AT_SEQUENCE_NUMBER``, then ``GetRecords``
until a record past the end, the end of what the shard holds, or a closed shard.

``GetRecords`` may return empty pages while records lie further on (the iterator walks the shard in time),
so an empty page ends the read only when ``MillisBehindLatest`` is 0: nothing newer exists.
Source: docs.aws.amazon.com/kinesis/latest/APIReference/API_GetRecords.html
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.adapters import clients
from sensorflow.core.errors import TransientError
from sensorflow.core.failed_batch import RangeGoneError
from sensorflow.core.ports import RemainingTime
from sensorflow.core.records import StreamRecord

# GetRecords returns at most 10,000 records per call.
# Source: docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html
GET_RECORDS_MAX_RECORDS = 10_000
# A bound on the calls for one range (at 5 calls/s per shard, ~20 s): a range longer than this is read
# again on the message's redelivery rather than spinning.
MAX_GET_RECORDS_CALLS = 100
# Stop reading this long before the function's deadline; the message is retried instead.
DEADLINE_MARGIN_MS = 3_000
# The stream, shard or position no longer exists: trimmed past retention, or deleted. AWS answers
# ResourceNotFoundException for an unknown stream or shard and InvalidArgumentException for a sequence
# number it cannot place; TrimmedDataAccessException is the streams' answer for trimmed data.
GONE_CODES = frozenset(
    {"ResourceNotFoundException", "InvalidArgumentException", "TrimmedDataAccessException"}
)


class KinesisRangeReader:
    def __init__(self, client: Any = None) -> None:
        self._client = client

    client = clients.lazy_client("kinesis")

    def read(
        self, stream_arn: str, shard_id: str, start: str, end: str, remaining_ms: RemainingTime
    ) -> list[StreamRecord]:
        low, high = int(start), int(end)
        iterator: str | None = self._iterator(stream_arn, shard_id, start)
        found: list[StreamRecord] = []
        for _ in range(MAX_GET_RECORDS_CALLS):
            if iterator is None:
                return found  # a closed shard read to its end
            if remaining_ms() < DEADLINE_MARGIN_MS:
                raise TransientError("kinesis range read stopped before the deadline")
            try:
                page = self._page(stream_arn, iterator)
            except RangeGoneError:
                if found:
                    return found  # trimmed while reading: keep what was read
                raise
            for raw in page.get("Records", []):
                sequence = int(raw["SequenceNumber"])
                if sequence > high:
                    return found
                if sequence >= low:
                    found.append(_record(shard_id, raw))
            if found and int(found[-1].sequence_number) == high:
                return found
            if not page.get("Records") and not page.get("MillisBehindLatest"):
                return found  # caught up with the shard's tip: the rest of the range is not in it
            iterator = page.get("NextShardIterator")
        raise TransientError(f"kinesis range not read within {MAX_GET_RECORDS_CALLS} GetRecords calls")

    def _iterator(self, stream_arn: str, shard_id: str, start: str) -> str | None:
        try:
            response = self.client.get_shard_iterator(
                StreamARN=stream_arn,
                ShardId=shard_id,
                ShardIteratorType="AT_SEQUENCE_NUMBER",
                StartingSequenceNumber=start,
            )
        except ClientError as exc:
            raise _translated("kinesis:GetShardIterator", exc) from exc
        except BotoCoreError as exc:
            raise TransientError(f"kinesis:GetShardIterator failed: {type(exc).__name__}") from exc
        iterator: str | None = response.get("ShardIterator")
        return iterator

    def _page(self, stream_arn: str, iterator: str) -> dict[str, Any]:
        try:
            page: dict[str, Any] = self.client.get_records(
                ShardIterator=iterator, Limit=GET_RECORDS_MAX_RECORDS, StreamARN=stream_arn
            )
        except ClientError as exc:
            raise _translated("kinesis:GetRecords", exc) from exc
        except BotoCoreError as exc:
            raise TransientError(f"kinesis:GetRecords failed: {type(exc).__name__}") from exc
        return page


def _translated(operation: str, exc: ClientError) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "Unknown")
    if code in GONE_CODES:
        return RangeGoneError(f"{operation}: {code}")
    return TransientError(f"{operation} failed: {code}")


def _record(shard_id: str, raw: dict[str, Any]) -> StreamRecord:
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=raw["SequenceNumber"],
        partition_key=raw["PartitionKey"],
        data=bytes(raw["Data"]),
        arrival_time_ms=int(raw["ApproximateArrivalTimestamp"].timestamp() * 1000),
    )
