"""Re-publish a quarantined record's exact bytes to the stream, with its partition key (``PutRecord``).

What Kinesis answered decides the ledger's outcome: an error answer (4xx: throttled past botocore's retries,
access denied, KMS refused) means the record was not written, so the attempt may be repeated; no answer or a
server error (a timeout, 5xx) leaves it unknown. PutRecord is not idempotent: a retry after a lost answer
can write the record twice (docs.aws.amazon.com/streams/latest/dev/kinesis-record-processor-duplicates.html),
which is why an unknown outcome blocks another redrive in ``core.redrive``.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.adapters import clients
from sensorflow.core.redrive import RedriveOutcomeUnknownError, RedriveRejectedError

CLIENT_ERROR_STATUS = range(400, 500)


class KinesisRepublisher:
    def __init__(self, stream_name: str, client: Any = None) -> None:
        self._stream = stream_name
        self._client = client

    client = clients.lazy_client("kinesis")

    def put(self, data: bytes, partition_key: str) -> tuple[str, str]:
        """Put one record; its (shard id, sequence number)."""
        try:
            answer = self.client.put_record(StreamName=self._stream, Data=data, PartitionKey=partition_key)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            text = f"kinesis:PutRecord {error.get('Code', 'Error')}: {error.get('Message', '')}"
            if status in CLIENT_ERROR_STATUS:
                raise RedriveRejectedError(text) from exc
            raise RedriveOutcomeUnknownError(text) from exc
        except BotoCoreError as exc:
            raise RedriveOutcomeUnknownError(f"kinesis:PutRecord {type(exc).__name__}: {exc}") from exc
        return str(answer["ShardId"]), str(answer["SequenceNumber"])
