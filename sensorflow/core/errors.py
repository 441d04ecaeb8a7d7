"""The error hierarchy of the pipeline.

``InvalidRecordError`` is permanent: the record is quarantined with its bytes and a reason and
counts as processed. ``TransientError`` is a downstream fault: the record (and every record after
it on the shard) is reported in ``batchItemFailures`` so Lambda redelivers it.
"""

from __future__ import annotations


class IngestError(Exception):
    """Base class for every error the ingest pipeline raises on purpose."""


class InvalidRecordError(IngestError):
    """A record that can never be processed. ``reason`` is a short machine word."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientError(IngestError):
    """A downstream fault worth retrying: throttling, 5xx, timeouts, partial failures."""


class DeliveryError(Exception):
    """A notification that could not be delivered after its retries. Never carries the webhook URL."""


class ConfigError(IngestError):
    """Settings or rule files that are missing or malformed. Raised at load time with the field named."""


class UnknownSchemaError(IngestError):
    """A schema id or version id that the registry (or the id mapping) does not know: permanent, so the
    record naming it is quarantined (``glue_unknown_schema`` / ``confluent_unknown_schema``). An outage
    while looking it up is a ``TransientError`` instead."""
