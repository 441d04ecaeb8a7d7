"""The pipeline's health: ingest's iterator age, the failure queues' depths, the heartbeat's last run.

- Iterator age: CloudWatch ``AWS/Lambda`` ``IteratorAge`` (Maximum, 1-minute periods, the newest in the
  last ``ITERATOR_AGE_WINDOW_MIN`` minutes) of function ``sensorflow-<stage>-ingest``; on the local cloud,
  which publishes no Lambda metrics, its own stream lag (``sensorflow local status``) when given.
- Queues: SQS ``GetQueueAttributes`` ``ApproximateNumberOfMessages`` (and ``...NotVisible``) of the on-failure
  and consumer-failure queues the stack outputs name.
- Heartbeat: the checkpoint item (``adapters.dynamodb_heartbeat``), the newest minute it has checked.
Each part that cannot be read becomes a note on the page, not an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.adapters.dynamodb_heartbeat import DynamoHeartbeatCheckpoint
from sensorflow.cli.console.model import Health, QueueDepth
from sensorflow.cli.errors import UsageError, aws_error_message
from sensorflow.cli.stack_outputs import stack_name
from sensorflow.core.errors import TransientError

ITERATOR_AGE_WINDOW_MIN = 15
# What a part of the page may fail with and still leave the rest readable (shown as a note).
READ_FAILURES = (ClientError, BotoCoreError, TransientError, UsageError, OSError, KeyError, ValueError)
QUEUE_OUTPUTS = (("on-failure (ingest)", "FailureQueueUrl"), ("consumer failures", "ConsumerFailureQueueUrl"))


def ingest_function_name(stage: str) -> str:
    return f"{stack_name(stage)}-ingest"  # osls names functions <service>-<stage>-<function>


class StageHealth:
    def __init__(
        self,
        stage: str,
        outputs: Mapping[str, str],
        clients: Mapping[str, Any],
        local_status: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self._stage = stage
        self._outputs = outputs
        self._clients = clients
        self._local_status = local_status

    def read(self, now_ms: int) -> Health:
        notes: list[str] = []
        age, source = self._iterator_age(now_ms, notes)
        queues = [self._queue(label, key, notes) for label, key in QUEUE_OUTPUTS if key in self._outputs]
        heartbeat = None
        table = self._outputs.get("AlarmsTableName")
        if table:
            try:
                minute = DynamoHeartbeatCheckpoint(table, self._clients["dynamodb"]).get()
                heartbeat = None if minute is None else minute * 60_000
            except READ_FAILURES as exc:
                notes.append(f"heartbeat checkpoint: {aws_error_message(exc) or exc}")
        return Health(age, source, queues, heartbeat, tuple(notes))

    def _iterator_age(self, now_ms: int, notes: list[str]) -> tuple[float | None, str]:
        if self._local_status is not None:
            try:
                streams = self._local_status().get("streams", {})
                return max((float(s["iterator_age_ms"]) for s in streams.values()), default=0.0), (
                    "the local cloud's stream lag"
                )
            except READ_FAILURES as exc:
                notes.append(f"local cloud status: {exc}")
        name = ingest_function_name(self._stage)
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        try:
            points = (
                self._clients["cloudwatch"]
                .get_metric_statistics(
                    Namespace="AWS/Lambda",
                    MetricName="IteratorAge",
                    Dimensions=[{"Name": "FunctionName", "Value": name}],
                    StartTime=now - timedelta(minutes=ITERATOR_AGE_WINDOW_MIN),
                    EndTime=now,
                    Period=60,
                    Statistics=["Maximum"],
                )
                .get("Datapoints", [])
            )
        except READ_FAILURES as exc:
            notes.append(f"IteratorAge of {name}: {aws_error_message(exc) or exc}")
            return None, "CloudWatch"
        if not points:
            return None, f"CloudWatch: no IteratorAge datapoint for {name} in {ITERATOR_AGE_WINDOW_MIN} min"
        newest = max(points, key=lambda p: p["Timestamp"])
        return float(newest["Maximum"]), f"CloudWatch IteratorAge Maximum of {name}"

    def _queue(self, label: str, output: str, notes: list[str]) -> QueueDepth:
        sqs = self._clients["sqs"]
        try:
            # By name, as the local cloud's status does: a URL output may name another host than the endpoint.
            url = sqs.get_queue_url(QueueName=self._outputs[output].rsplit("/", 1)[-1])["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
        except READ_FAILURES as exc:
            notes.append(f"queue {label}: {aws_error_message(exc) or exc}")
            return QueueDepth(label, None)
        return QueueDepth(
            label,
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )
