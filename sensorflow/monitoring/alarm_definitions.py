"""Every CloudWatch alarm of the stack, derived from the stack's facts; each says what it means and what
to do first. They all notify the ops topic (``resources_file.OPS_TOPIC``).

- per function: ``Errors`` and ``Throttles`` (AWS/Lambda, Sum over 5 minutes > 0);
- per stream-reading function: ``IteratorAge`` (Maximum over the stage's ``iteratorAgeAlarmMs``);
- per scheduled function: no ``Invocations`` in a window of five minutes (or two schedule periods),
  missing data breaching: a disabled rule or a broken deploy sends no data at all;
- per queue that receives failures: ``ApproximateNumberOfMessagesVisible`` > 0;
- the quarantine rate (our ``RecordsQuarantined`` / ``RecordsReceived``, metric math) over the stage's
  ``quarantineRateAlarmPercent``; and notify's ``NotificationsFailed`` > 0 for ten minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sensorflow.monitoring.cloudwatch_metrics import LAMBDA, SQS, Metric, Ref, emf
from sensorflow.monitoring.stack_facts import Function, StackFacts

ITERATOR_AGE_PARAM = "${param:iteratorAgeAlarmMs}"
QUARANTINE_RATE_PARAM = "${param:quarantineRateAlarmPercent}"
FIVE_MINUTES = 300

# What a function's errors cost, by function; a new function gets the generic sentence until it has one.
ERROR_EFFECTS = {
    "ingest": "Kinesis retries the whole batch (bisected) up to 5 times, then sends its range to the "
    "on-failure queue; the shard does not advance meanwhile.",
    "notify": "Lambda retries the transition twice, then sends it to the consumer-failure queue: "
    "nobody was told of it.",
    "incidents": "Lambda retries the event twice, then sends it to the consumer-failure queue: the "
    "incident record lags behind the alarm.",
    "heartbeat": "There is no retry: the next minute's run resumes from the checkpoint, so stale devices "
    "are raised late until it succeeds.",
    "failures": "The on-failure message is received again per the queue's redrive policy, then "
    "dead-lettered: the stream's records of that range are lost when its retention passes.",
}
GENERIC_ERROR_EFFECT = (
    "Its events are retried as its trigger allows, then sent to its on-failure destination."
)

# What waiting messages mean, by queue; a new queue gets the generic sentence until it has one.
QUEUE_MEANINGS = {
    "IngestFailureQueue": "Stream batches exhausted ingest's retries (a message names a shard and sequence "
    "range, not the records). The failures function re-reads each range into the quarantine (reason "
    "retries_exhausted) while the stream still has it (24 hours). First: why ingest gave up (its Errors "
    "and logs at that time); if messages stay, failures' Errors and logs.",
    "IngestFailureDeadLetterQueue": "The failures function could not recover these ranges after the "
    "queue's maxReceiveCount; nothing consumes this queue, and the records are lost when the stream's "
    "24-hour retention passes. First: read one message and failures' logs, fix the cause, then move them "
    "back (aws sqs start-message-move-task --source-arn <this queue's ARN>).",
    "ConsumerFailureQueue": "Transitions notify or incidents could not process after Lambda's retries "
    "(each message holds the event, the condition and the function's response). First: read one "
    "message's responsePayload, fix the cause (webhook URL, permissions, a bug), then replay its event.",
}
GENERIC_QUEUE_MEANING = (
    "Something failed for good and was dead-lettered here. First: read one message and the logs of the "
    "function that failed it."
)


@dataclass(frozen=True, slots=True)
class Alarm:
    logical_id: str
    suffix: str  # AlarmName <service>-<stage>-<suffix>
    description: str
    comparison: str
    threshold: float | str  # a number, or a stage param osls resolves to one
    period: int
    evaluation_periods: int
    datapoints: int
    missing: str  # TreatMissingData
    ok_actions: bool
    metric: Metric | None = None
    # metric math: ``expression`` over ``inputs`` (id -> metric)
    expression: str = ""
    inputs: tuple[tuple[str, Metric], ...] = ()

    def metrics(self) -> tuple[Metric, ...]:
        return (self.metric,) if self.metric is not None else tuple(m for _, m in self.inputs)


def _short(logical_id: str) -> str:
    return logical_id.removesuffix("LambdaFunction")


def _kebab(name: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def _lambda(fn: Function, name: str, stat: str = "Sum") -> Metric:
    return Metric(LAMBDA, name, (("FunctionName", Ref(fn.logical_id)),), stat, f"{fn.name} {name}")


def _log_group(facts: StackFacts, fn: Function) -> str:
    return f"/aws/lambda/{facts.service}-${{sls:stage}}-{fn.name}"


def function_alarms(facts: StackFacts, fn: Function) -> list[Alarm]:
    effect = ERROR_EFFECTS.get(fn.name, GENERIC_ERROR_EFFECT)
    return [
        Alarm(
            logical_id=f"{_short(fn.logical_id)}ErrorsAlarm",
            suffix=f"{fn.name}-errors",
            description=f"{fn.name} invocations failed as a whole (Errors > 0 in 5 minutes). {effect} "
            f"First: Logs Insights on {_log_group(facts, fn)} for level ERROR and the exception; "
            "then the last deploy.",
            comparison="GreaterThanThreshold",
            threshold=0,
            period=FIVE_MINUTES,
            evaluation_periods=1,
            datapoints=1,
            missing="notBreaching",
            ok_actions=False,
            metric=_lambda(fn, "Errors"),
        ),
        Alarm(
            logical_id=f"{_short(fn.logical_id)}ThrottlesAlarm",
            suffix=f"{fn.name}-throttles",
            description=f"{fn.name} was throttled (Throttles > 0 in 5 minutes): it reached its reserved "
            "concurrency or the account's limit, and its events wait or are retried. First: compare its "
            "ConcurrentExecutions with its reservedConcurrency (serverless.yml params); raise that stage "
            "param, or find what floods it (an alarm storm, a reshard).",
            comparison="GreaterThanThreshold",
            threshold=0,
            period=FIVE_MINUTES,
            evaluation_periods=1,
            datapoints=1,
            missing="notBreaching",
            ok_actions=False,
            metric=_lambda(fn, "Throttles"),
        ),
    ]


def iterator_age_alarm(fn: Function) -> Alarm:
    return Alarm(
        logical_id=f"{_short(fn.logical_id)}IteratorAgeAlarm",
        suffix=f"{fn.name}-iterator-age",
        description=f"{fn.name} is falling behind its stream: the age of the last record of its batches "
        "stayed above the stage's iteratorAgeAlarmMs for 5 minutes. Records older than 1 hour "
        "(maximumRecordAgeInSeconds) go to the on-failure queue unprocessed. First: its Errors, Throttles "
        "and Duration on the dashboard; slow batches need more shards or a higher parallelizationFactor, "
        "failing ones their logs.",
        comparison="GreaterThanThreshold",
        threshold=ITERATOR_AGE_PARAM,
        period=60,
        evaluation_periods=5,
        datapoints=5,
        missing="notBreaching",
        ok_actions=True,
        metric=_lambda(fn, "IteratorAge", "Maximum"),
    )


def not_running_alarm(fn: Function, every_seconds: int) -> Alarm:
    window = max(FIVE_MINUTES, -(-2 * every_seconds // 60) * 60)
    return Alarm(
        logical_id=f"{_short(fn.logical_id)}NotRunningAlarm",
        suffix=f"{fn.name}-not-running",
        description=f"{fn.name} did not run in {window // 60} minutes (no Invocations; it is scheduled "
        f"every {every_seconds} s). What it does is not being done. First: is its EventBridge schedule "
        "rule enabled, and does the stack's last deploy have it; then its Errors and Throttles.",
        comparison="LessThanThreshold",
        threshold=1,
        period=window,
        evaluation_periods=1,
        datapoints=1,
        missing="breaching",
        ok_actions=True,
        metric=_lambda(fn, "Invocations"),
    )


def queue_depth_alarm(queue: str) -> Alarm:
    meaning = QUEUE_MEANINGS.get(queue, GENERIC_QUEUE_MEANING)
    return Alarm(
        logical_id=f"{queue}DepthAlarm",
        suffix=f"{_kebab(queue)}-depth",
        description=f"Messages are waiting in {queue} (ApproximateNumberOfMessagesVisible > 0). {meaning}",
        comparison="GreaterThanThreshold",
        threshold=0,
        period=FIVE_MINUTES,
        evaluation_periods=1,
        datapoints=1,
        missing="notBreaching",  # SQS stops sending metrics for a queue idle for 6 hours
        ok_actions=True,
        metric=Metric(
            SQS, "ApproximateNumberOfMessagesVisible", (("QueueName", Ref(queue, "QueueName")),), "Maximum"
        ),
    )


def quarantine_rate_alarm(facts: StackFacts) -> Alarm:
    received = emf(facts.namespace, facts.service_dimension, "RecordsReceived")
    quarantined = emf(facts.namespace, facts.service_dimension, "RecordsQuarantined")
    return Alarm(
        logical_id="QuarantineRateAlarm",
        suffix="quarantine-rate",
        description="More than the stage's quarantineRateAlarmPercent of the records received were "
        "quarantined, in 2 of the last 3 5-minute periods (RecordsQuarantined / RecordsReceived). A sudden "
        "rise means devices send what we cannot decode or check: a firmware release, a schema not "
        "published to the registry, unregistered devices. First: the dashboard's quarantined-by-reason "
        "widget, then a few objects under that reason in the quarantine bucket.",
        comparison="GreaterThanThreshold",
        threshold=QUARANTINE_RATE_PARAM,
        period=FIVE_MINUTES,
        evaluation_periods=3,
        datapoints=2,
        missing="notBreaching",
        ok_actions=True,
        expression="IF(received > 0, 100 * quarantined / received, 0)",
        inputs=(("received", received), ("quarantined", quarantined)),
    )


def notifications_failed_alarm(facts: StackFacts) -> Alarm:
    return Alarm(
        logical_id="NotificationsFailedAlarm",
        suffix="notifications-failed",
        description="notify could not deliver to a webhook in each of the last two 5-minute periods "
        "(NotificationsFailed > 0): people are not being told of alarms. Lambda retries each transition "
        "twice, then it goes to the consumer-failure queue. First: notify's log 'notification not "
        "delivered' (route and error); check the webhook URL parameter and the receiving service.",
        comparison="GreaterThanThreshold",
        threshold=0,
        period=FIVE_MINUTES,
        evaluation_periods=2,
        datapoints=2,
        missing="notBreaching",
        ok_actions=True,
        metric=emf(facts.namespace, facts.service_dimension, "NotificationsFailed"),
    )


def failed_batches_gone_alarm(facts: StackFacts) -> Alarm:
    return Alarm(
        logical_id="FailedBatchesGoneAlarm",
        suffix="failed-batches-gone",
        description="Readings were lost for good: the failures function found ranges of failed batches "
        "the stream no longer holds (FailedBatchesGone > 0: past its 24-hour retention). First: "
        "failures' log for the shard and range, then why those batches failed and waited (ingest's "
        "Errors, the on-failure queue's depth alarm).",
        comparison="GreaterThanThreshold",
        threshold=0,
        period=FIVE_MINUTES,
        evaluation_periods=1,
        datapoints=1,
        missing="notBreaching",
        ok_actions=False,
        metric=emf(facts.namespace, facts.service_dimension, "FailedBatchesGone"),
    )


def alarms(facts: StackFacts) -> list[Alarm]:
    out: list[Alarm] = []
    for fn in facts.functions:
        out.extend(function_alarms(facts, fn))
        if fn.reads_stream:
            out.append(iterator_age_alarm(fn))
        if fn.schedule_seconds is not None:
            out.append(not_running_alarm(fn, fn.schedule_seconds))
    out.extend(queue_depth_alarm(q) for q in facts.failure_queues)
    out.append(quarantine_rate_alarm(facts))
    out.append(notifications_failed_alarm(facts))
    if any(fn.name == "failures" for fn in facts.functions):
        out.append(failed_batches_gone_alarm(facts))
    return out
