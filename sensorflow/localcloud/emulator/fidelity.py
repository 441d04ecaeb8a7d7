# ruff: noqa: E501  (a table: one behaviour per line reads better than wrapped rows)
"""What the local runtime emulates, behaviour by behaviour, against the AWS documentation: one list.

The README's "What the local runtime emulates" table is generated from it (``scripts/emulation_table.py``;
a test fails when the README is stale), and ``unemulated`` refuses at deploy the settings marked refused.
``before`` is how the behaviour stood at the start of issue 11's second pass, so the before/after counts come
from the same list.

Statuses: ``emulated`` (as the document says, with a test), ``divergent`` (runs, but differs as the note says),
``refused`` (detected in what is deployed and refused by ``sensorflow local up`` unless
``--allow-unemulated``), ``missing`` (neither emulated nor detected).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

EMULATED, DIVERGENT, REFUSED, MISSING = "emulated", "divergent", "refused", "missing"
STATUSES = (EMULATED, DIVERGENT, REFUSED, MISSING)

_DG = "docs.aws.amazon.com/lambda/latest/dg/"
_EB = "docs.aws.amazon.com/eventbridge/latest/userguide/"


@dataclass(frozen=True, slots=True)
class Behaviour:
    area: str
    behaviour: str
    source: str
    status: str
    before: str
    note: str = ""


BEHAVIOURS: tuple[Behaviour, ...] = (
    # -- Kinesis event source mappings -------------------------------------------------------------------
    Behaviour(
        "Kinesis",
        "BatchSize cut, and the 6 MB invoke payload cut",
        _DG + "with-kinesis.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "Batching window: invoke when the window ends or BatchSize is reached",
        _DG + "with-kinesis.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "Batching window: invoke as soon as the batch reaches 6 MB",
        _DG + "with-kinesis.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Kinesis",
        "Partial batch response: checkpoint and retry from the lowest failed sequence number",
        _DG + "services-kinesis-batchfailurereporting.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "An empty, null or unknown itemIdentifier fails the whole batch",
        _DG + "services-kinesis-batchfailurereporting.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "BisectBatchOnFunctionError splits without using a retry",
        _DG + "services-kinesis-parameters.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "MaximumRetryAttempts, then the batch's metadata to the on-failure destination",
        _DG + "kinesis-on-failure-destination.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "MaximumRecordAgeInSeconds discards without invoking",
        _DG + "services-kinesis-parameters.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "A timeout is a function error; the execution environment is replaced",
        _DG + "with-kinesis.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "One batch in flight per shard (per lane), in sequence order",
        _DG + "with-kinesis.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "ParallelizationFactor: concurrent lanes, order kept per partition key",
        _DG + "with-kinesis.html",
        EMULATED,
        EMULATED,
        "now tested with concurrent lanes",
    ),
    Behaviour(
        "Kinesis",
        "StartingPosition TRIM_HORIZON and LATEST",
        _DG + "services-kinesis-parameters.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Kinesis",
        "StartingPosition AT_TIMESTAMP",
        _DG + "services-kinesis-parameters.html",
        REFUSED,
        DIVERGENT,
        "moto stores StartingPositionTimestamp but does not report it, so the runtime cannot know it (before: "
        "GetShardIterator failed forever); the mapping's AT_TIMESTAMP reading is tested in process",
    ),
    Behaviour(
        "Kinesis",
        "FilterCriteria on data (JSON only); filtered records count as processed",
        _DG + "with-kinesis-filtering.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "Kinesis",
        "A mapping on an enhanced fan-out consumer ARN",
        _DG + "with-kinesis.html",
        DIVERGENT,
        DIVERGENT,
        "reads the consumer's stream by polling: records, order and checkpoints as on AWS; EFO's own 2 MiB/s per shard and push latency are not modelled (before: the whole local cloud aborted at start)",
    ),
    Behaviour(
        "Kinesis",
        "Disable, update or add a mapping on the running runtime (applied within seconds)",
        _DG + "services-kinesis-parameters.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "Kinesis",
        "A mapping restarted by an update carries on from its checkpoint",
        _DG + "with-kinesis.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "Kinesis",
        "Checkpoints survive `local down` / `local up`",
        _DG + "with-kinesis.html",
        MISSING,
        MISSING,
        "moto keeps no state across restarts: the stream itself is new after `local up`",
    ),
    Behaviour(
        "Kinesis",
        "After a reshard, a parent shard is finished before its children",
        _DG + "with-kinesis.html",
        EMULATED,
        DIVERGENT,
        "moto's SplitShard re-puts the parent's records into the children (a moto divergence); tested over a stream with AWS's semantics",
    ),
    Behaviour(
        "Kinesis",
        "A child shard created after the start is read from its first record (LATEST loses nothing)",
        _DG + "with-kinesis.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Kinesis",
        "Reserved concurrency 0 throttles; throttles use no retry attempt",
        _DG + "kinesis-on-failure-destination.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Kinesis",
        "Reserved concurrency above 0 caps concurrent invocations",
        _DG + "configuration-concurrency.html",
        MISSING,
        MISSING,
        "a function gets an execution environment per concurrent batch, unbounded",
    ),
    Behaviour(
        "Kinesis",
        "IteratorAge: the age of the batch's last record when it finishes, as a CloudWatch metric",
        _DG + "monitoring-metrics-types.html",
        EMULATED,
        DIVERGENT,
        "AWS/Lambda IteratorAge, dimension FunctionName, put to the local CloudWatch per batch",
    ),
    Behaviour(
        "Kinesis",
        "An unreachable on-failure destination: the batch is discarded and the shard moves on",
        _DG + "kinesis-on-failure-destination.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Kinesis",
        "TumblingWindowInSeconds (stateful windows)",
        _DG + "services-kinesis-windows.html",
        REFUSED,
        MISSING,
    ),
    Behaviour(
        "Kinesis",
        "An S3 bucket as the on-failure destination",
        _DG + "kinesis-on-failure-destination.html",
        REFUSED,
        MISSING,
    ),
    # -- SQS event source mappings ----------------------------------------------------------------------
    Behaviour(
        "SQS",
        "Long poll, BatchSize and MaximumBatchingWindowInSeconds",
        _DG + "services-sqs-configure.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "SQS",
        "A failed batch's messages come back after the visibility timeout",
        _DG + "with-sqs.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "SQS", "ReportBatchItemFailures for SQS", _DG + "services-sqs-errorhandling.html", EMULATED, MISSING
    ),
    Behaviour(
        "SQS",
        "The queue's redrive policy moves a message to its DLQ after maxReceiveCount",
        _DG + "services-sqs-errorhandling.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "SQS",
        "Pollers scale out up to ScalingConfig.MaximumConcurrency",
        _DG + "services-sqs-scaling.html",
        DIVERGENT,
        MISSING,
        "one poller per mapping",
    ),
    Behaviour("SQS", "FilterCriteria on an SQS mapping", _DG + "with-sqs-filtering.html", REFUSED, MISSING),
    # -- Asynchronous invocation ------------------------------------------------------------------------
    Behaviour(
        "Async",
        "MaximumRetryAttempts 0-2 from the function's EventInvokeConfig",
        _DG + "invocation-async.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Async",
        "Retries about 1 and 2 minutes after the failure",
        _DG + "invocation-async.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "Async", "The request id is kept across retries", _DG + "invocation-async.html", EMULATED, DIVERGENT
    ),
    Behaviour("Async", "MaximumEventAgeInSeconds", _DG + "invocation-async.html", EMULATED, MISSING),
    Behaviour(
        "Async",
        "On-failure destination (SQS, SNS, Lambda, EventBridge) with the invocation record",
        _DG + "invocation-async-retain-records.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "Async", "On-success destination", _DG + "invocation-async-retain-records.html", EMULATED, MISSING
    ),
    Behaviour(
        "Async",
        "A throttled event stays queued until it can run or ages out",
        _DG + "invocation-async.html",
        EMULATED,
        MISSING,
    ),
    # -- SNS ----------------------------------------------------------------------------------------------
    Behaviour(
        "SNS",
        "Lambda subscription with its filter policy, in Lambda's SNS event shape",
        _DG + "with-sns.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "SNS",
        "SQS subscription as declared (raw delivery, filter policy)",
        "docs.aws.amazon.com/sns/latest/dg/sns-sqs-as-subscriber.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "SNS",
        "Email, SMS and HTTP(S) subscriptions",
        "docs.aws.amazon.com/sns/latest/dg/sns-create-subscribe-endpoint-to-topic.html",
        REFUSED,
        MISSING,
    ),
    # -- EventBridge ----------------------------------------------------------------------------------
    Behaviour(
        "EventBridge",
        "Rule patterns to a Lambda target, in EventBridge's event shape",
        _EB + "eb-event-patterns.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "EventBridge",
        "A rule target's Input, InputPath and InputTransformer",
        _EB + "eb-transform-target-input.html",
        EMULATED,
        EMULATED,
        "applied by moto on the tap queue",
    ),
    Behaviour(
        "EventBridge",
        "A schedule target's constant Input",
        _EB + "eb-scheduled-rule-pattern.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "EventBridge",
        "A schedule target's InputPath / InputTransformer",
        _EB + "eb-transform-target-input.html",
        REFUSED,
        DIVERGENT,
    ),
    Behaviour(
        "EventBridge",
        "A target's RetryPolicy and DeadLetterConfig",
        _EB + "eb-rule-dlq.html",
        REFUSED,
        DIVERGENT,
        "delivery to a local Lambda never fails, so neither would ever act",
    ),
    Behaviour(
        "EventBridge",
        "rate() and cron() including L, W and #",
        _EB + "eb-scheduled-rule-pattern.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "EventBridge",
        "Expressions AWS refuses are refused (rate(5 minute), day-of-month with day-of-week)",
        _EB + "eb-scheduled-rule-pattern.html",
        EMULATED,
        DIVERGENT,
    ),
    Behaviour(
        "EventBridge",
        "Late runs are not fired back to back; a slow run doesn't delay the next",
        _EB + "eb-scheduled-rule-pattern.html",
        EMULATED,
        DIVERGENT,
    ),
    # -- Execution environment and sources -----------------------------------------------------------
    Behaviour(
        "Runtime",
        "Handler, environment, timeout, memory and context from the deployed function",
        _DG + "lambda-runtime-environment.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Runtime",
        "Warm execution environments reused between invocations",
        _DG + "lambda-runtime-environment.html",
        EMULATED,
        EMULATED,
    ),
    Behaviour(
        "Runtime",
        "A function whose configuration changed gets new environments",
        _DG + "lambda-runtime-environment.html",
        EMULATED,
        MISSING,
    ),
    Behaviour(
        "Runtime",
        "Event sources other than Kinesis and SQS (DynamoDB Streams, MSK, Kafka, MQ)",
        _DG + "invocation-eventsourcemapping.html",
        REFUSED,
        MISSING,
    ),
    Behaviour(
        "Runtime",
        "CloudWatch alarms of the stack",
        "docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html",
        MISSING,
        MISSING,
        "moto's CloudFormation skips AWS::CloudWatch::Alarm; the metrics they read are there",
    ),
)


def counts(field: str = "status") -> dict[str, int]:
    """How many behaviours have each status, now (``status``) or before the second pass (``before``)."""
    tally = Counter(getattr(b, field) for b in BEHAVIOURS)
    return {status: tally.get(status, 0) for status in STATUSES}


def markdown_table() -> str:
    """The README table: one row per behaviour, with its document and status."""
    lines = ["| Area | Behaviour | AWS document | Local runtime |", "|---|---|---|---|"]
    for b in BEHAVIOURS:
        status = b.status + (f": {b.note}" if b.note else "")
        lines.append(
            f"| {b.area} | {b.behaviour} | [{b.source.rsplit('/', 1)[-1]}](https://{b.source}) | {status} |"
        )
    now, before = counts(), counts("before")
    summary = ", ".join(f"{now[s]} {s}" for s in STATUSES)
    was = ", ".join(f"{before[s]} {s}" for s in STATUSES)
    lines.append("")
    lines.append(f"{len(BEHAVIOURS)} behaviours: {summary} (before issue 11's second pass: {was}).")
    return "\n".join(lines)
