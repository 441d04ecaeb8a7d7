"""What was deployed, read back from the local Lambda API (never from ``serverless.yml``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sensorflow.localcloud.emulator.event_filter import FilterCriteria

# Defaults of CreateEventSourceMapping for stream sources, used when the API omits a field.
# Source: docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html
DEFAULT_BATCH_SIZE = 100
DEFAULT_PARALLELIZATION_FACTOR = 1
INFINITE = -1  # MaximumRetryAttempts / MaximumRecordAgeInSeconds default: retry until the record expires


@dataclass(frozen=True, slots=True)
class FunctionConfig:
    """The parts of GetFunctionConfiguration a Lambda execution environment is built from."""

    name: str
    arn: str
    handler: str
    role: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str] = field(default_factory=dict)
    runtime: str = "python3.12"

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> FunctionConfig:
        return cls(
            name=raw["FunctionName"],
            arn=raw["FunctionArn"],
            handler=raw["Handler"],
            role=raw.get("Role", ""),
            timeout_s=int(raw.get("Timeout", 3)),
            memory_mb=int(raw.get("MemorySize", 128)),
            environment=dict((raw.get("Environment") or {}).get("Variables") or {}),
            runtime=raw.get("Runtime", "python3.12"),
        )


@dataclass(frozen=True, slots=True)
class KinesisMapping:
    """A Kinesis event source mapping as the Lambda API reports it."""

    uuid: str
    function_arn: str
    stream_arn: str
    batch_size: int = DEFAULT_BATCH_SIZE
    batching_window_s: float = 0.0
    starting_position: str = "LATEST"
    starting_timestamp: float | None = None
    parallelization_factor: int = DEFAULT_PARALLELIZATION_FACTOR
    report_batch_item_failures: bool = False
    bisect_on_error: bool = False
    maximum_retry_attempts: int = INFINITE
    maximum_record_age_s: int = INFINITE
    on_failure_arn: str | None = None
    enabled: bool = True
    filters: FilterCriteria = field(default_factory=FilterCriteria)
    # An enhanced fan-out consumer's ARN when the mapping reads through one (EventSourceArn is then
    # ``<stream ARN>/consumer/<name>:<timestamp>``). Records, order and checkpoints are the stream's, so the
    # mapping reads the stream itself; only EFO's dedicated 2 MiB/s per shard and push latency differ.
    # Source: docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html (stream consumers)
    consumer_arn: str | None = None

    @property
    def region(self) -> str:
        return self.stream_arn.split(":")[3]

    @property
    def stream_name(self) -> str:
        return self.stream_arn.split(":stream/", 1)[1]

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":function:", 1)[1].split(":", 1)[0]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> KinesisMapping:
        ts = raw.get("StartingPositionTimestamp")
        if isinstance(ts, datetime):
            ts = ts.timestamp()
        destination = ((raw.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        source = raw["EventSourceArn"]
        stream_arn, consumer_arn = (
            (source.split("/consumer/", 1)[0], source) if "/consumer/" in source else (source, None)
        )
        return cls(
            uuid=raw["UUID"],
            function_arn=raw["FunctionArn"],
            stream_arn=stream_arn,
            consumer_arn=consumer_arn,
            batch_size=int(raw.get("BatchSize") or DEFAULT_BATCH_SIZE),
            batching_window_s=float(raw.get("MaximumBatchingWindowInSeconds") or 0),
            starting_position=raw.get("StartingPosition") or "LATEST",
            starting_timestamp=float(ts) if ts is not None else None,
            parallelization_factor=int(raw.get("ParallelizationFactor") or DEFAULT_PARALLELIZATION_FACTOR),
            report_batch_item_failures="ReportBatchItemFailures" in (raw.get("FunctionResponseTypes") or []),
            bisect_on_error=bool(raw.get("BisectBatchOnFunctionError", False)),
            maximum_retry_attempts=_int_or_infinite(raw.get("MaximumRetryAttempts")),
            maximum_record_age_s=_int_or_infinite(raw.get("MaximumRecordAgeInSeconds")),
            on_failure_arn=destination or None,
            enabled=raw.get("State", "Enabled") in ("Enabled", "Enabling", "Creating", "Updating"),
            filters=FilterCriteria.from_api(raw.get("FilterCriteria")),
        )


def _int_or_infinite(value: Any) -> int:
    return INFINITE if value is None else int(value)


def list_functions(lambda_client: Any) -> dict[str, FunctionConfig]:
    """Every function in the local Lambda API, by name."""
    functions: dict[str, FunctionConfig] = {}
    for page in lambda_client.get_paginator("list_functions").paginate():
        for raw in page["Functions"]:
            functions[raw["FunctionName"]] = FunctionConfig.from_api(raw)
    return functions


def list_kinesis_mappings(lambda_client: Any) -> list[KinesisMapping]:
    """Every enabled event source mapping whose source is a Kinesis stream."""
    mappings = []
    for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
        for raw in page["EventSourceMappings"]:
            if raw.get("EventSourceArn", "").startswith("arn:aws:kinesis:"):
                mapping = KinesisMapping.from_api(raw)
                if mapping.enabled:
                    mappings.append(mapping)
    return mappings


# Defaults of CreateEventSourceMapping for SQS sources, used when the API omits a field.
# Source: docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html
DEFAULT_SQS_BATCH_SIZE = 10


@dataclass(frozen=True, slots=True)
class SqsMapping:
    """An SQS event source mapping as the Lambda API reports it."""

    uuid: str
    function_arn: str
    queue_arn: str
    batch_size: int = DEFAULT_SQS_BATCH_SIZE
    batching_window_s: float = 0.0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None  # ScalingConfig.MaximumConcurrency
    enabled: bool = True

    @property
    def region(self) -> str:
        return self.queue_arn.split(":")[3]

    @property
    def queue_name(self) -> str:
        return self.queue_arn.split(":")[5]

    @property
    def account(self) -> str:
        return self.queue_arn.split(":")[4]

    @property
    def function_name(self) -> str:
        return self.function_arn.split(":function:", 1)[1].split(":", 1)[0]

    @classmethod
    def from_api(cls, raw: dict[str, Any]) -> SqsMapping:
        scaling = (raw.get("ScalingConfig") or {}).get("MaximumConcurrency")
        return cls(
            uuid=raw["UUID"],
            function_arn=raw["FunctionArn"],
            queue_arn=raw["EventSourceArn"],
            batch_size=int(raw.get("BatchSize") or DEFAULT_SQS_BATCH_SIZE),
            batching_window_s=float(raw.get("MaximumBatchingWindowInSeconds") or 0),
            report_batch_item_failures="ReportBatchItemFailures" in (raw.get("FunctionResponseTypes") or []),
            maximum_concurrency=int(scaling) if scaling else None,
            enabled=raw.get("State", "Enabled") in ("Enabled", "Enabling", "Creating", "Updating"),
        )


def list_sqs_mappings(lambda_client: Any) -> list[SqsMapping]:
    """Every enabled event source mapping whose source is an SQS queue."""
    mappings = []
    for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
        for raw in page["EventSourceMappings"]:
            if raw.get("EventSourceArn", "").startswith("arn:aws:sqs:"):
                mapping = SqsMapping.from_api(raw)
                if mapping.enabled:
                    mappings.append(mapping)
    return mappings
