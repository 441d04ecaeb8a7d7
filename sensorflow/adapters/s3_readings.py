"""Enriched readings to S3, one Avro container file (``sensorflow.EnrichedReading``) per invocation."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from fastavro import writer

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.core import schemas
from sensorflow.core.records import EnrichedReading


class S3ReadingSink:
    def __init__(self, bucket: str, client: Any = None, codec: str = "deflate") -> None:
        self._bucket = bucket
        self._client = client
        self._codec = codec
        self._schema = schemas.load(schemas.ENRICHED)

    client = clients.lazy_client("s3")

    def write(self, key: str, readings: Sequence[EnrichedReading]) -> None:
        """One Avro container; an empty one too (a redelivery that enriched nothing replaces what an
        earlier attempt wrote under the key)."""
        buf = io.BytesIO()
        writer(buf, self._schema, (r.to_avro() for r in readings), codec=self._codec)
        metadata = {"record-count": str(len(readings))}
        if readings:
            metadata["first-sequence-number"] = readings[0].sequence_number
            metadata["last-sequence-number"] = readings[-1].sequence_number
        with transient("s3:PutObject readings"):
            self.client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=buf.getvalue(),
                ContentType="application/avro",
                Metadata=metadata,
            )
