"""The stage's CloudWatch dashboard: its widgets, and the JSON body (one ``Fn::Sub``) they make.

From top to bottom: every alarm's state; records in / enriched / quarantined and quarantined by reason;
ingest's iterator age and batch item failures; alarm transitions by kind; notifications delivered,
failed, skipped and suppressed; every function's duration and errors; DynamoDB throttles; the failure
queues. Body structure:
docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sensorflow.monitoring.alarm_definitions import ITERATOR_AGE_PARAM, Alarm
from sensorflow.monitoring.cloudwatch_metrics import DYNAMODB, LAMBDA, SQS, Metric, Ref, Search, emf, emf_by
from sensorflow.monitoring.stack_facts import StackFacts

GRID_WIDTH = 24  # the dashboard grid is 24 columns wide
WIDTH, HEIGHT = 12, 6
STATUS_HEIGHT = 4  # the alarm-state widget across the top
PERIOD = 60
REGION = "${AWS::Region}"
ALARM_ARN = "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:"

type Line = Metric | Search


@dataclass(frozen=True, slots=True)
class Graph:
    title: str
    lines: tuple[Line, ...]
    annotation: tuple[str, str] | None = None  # (label, value): a horizontal line, e.g. a threshold


def graphs(facts: StackFacts) -> list[Graph]:
    ns, svc = facts.namespace, facts.service_dimension

    def ours(name: str, label: str = "") -> Metric:
        return emf(ns, svc, name, label=label)

    streams = [f for f in facts.functions if f.reads_stream]
    return [
        Graph(
            "Records in / enriched / quarantined",
            (
                ours("RecordsReceived", "in"),
                ours("RecordsEnriched", "enriched"),
                ours("RecordsQuarantined", "quarantined"),
            ),
        ),
        Graph("Quarantined by reason", (emf_by(ns, svc, "RecordsQuarantinedByReason", "reason"),)),
        Graph(
            "Iterator age (max, ms)",
            tuple(
                Metric(LAMBDA, "IteratorAge", (("FunctionName", Ref(f.logical_id)),), "Maximum", f.name)
                for f in streams
            ),
            ("alarm threshold", ITERATOR_AGE_PARAM),
        ),
        Graph(
            "Batch item failures, late and replayed readings",
            (
                ours("BatchItemFailures", "batch item failures"),
                ours("ReadingsLate", "late"),
                ours("ReadingsSkippedByReplayGuard", "replayed"),
            ),
        ),
        Graph("Alarm transitions by kind", (emf_by(ns, svc, "AlarmTransitions", "transition"),)),
        Graph(
            "Notifications",
            (
                ours("NotificationsSent", "delivered"),
                ours("NotificationsFailed", "failed"),
                ours("NotificationsSkipped", "skipped (duplicate)"),
                emf_by(ns, svc, "NotificationsSuppressed", "reason"),
            ),
        ),
        Graph(
            "Failed batches re-read from the stream",
            (
                ours("FailedBatchesRecovered", "recovered"),
                ours("FailedBatchesGone", "gone (past retention)"),
                ours("FailureMessagesUnreadable", "unreadable"),
                ours("FailureMessagesRetried", "retried"),
            ),
        ),
        Graph(
            "Function duration (p99, ms)",
            tuple(
                Metric(LAMBDA, "Duration", (("FunctionName", Ref(f.logical_id)),), "p99", f.name)
                for f in facts.functions
            ),
        ),
        Graph(
            "Function errors and throttles",
            tuple(
                Metric(
                    LAMBDA, name, (("FunctionName", Ref(f.logical_id)),), "Sum", f"{f.name} {name.lower()}"
                )
                for f in facts.functions
                for name in ("Errors", "Throttles")
            ),
        ),
        Graph(
            "DynamoDB throttled reads and writes",
            tuple(
                Metric(DYNAMODB, name, (("TableName", Ref(t)),), "Sum", f"{t} {kind}")
                for t in facts.tables
                for name, kind in (("ReadThrottleEvents", "reads"), ("WriteThrottleEvents", "writes"))
            ),
        ),
        Graph(
            "Failure queues: messages waiting",
            tuple(
                Metric(
                    SQS,
                    "ApproximateNumberOfMessagesVisible",
                    (("QueueName", Ref(q, "QueueName")),),
                    "Maximum",
                    q,
                )
                for q in facts.failure_queues
            ),
        ),
    ]


def _value(value: str | Ref) -> str:
    return value.sub() if isinstance(value, Ref) else value


def _line(line: Line, index: int) -> list[Any]:
    if isinstance(line, Search):
        return [{"expression": line.expression(PERIOD), "id": f"e{index}", "label": line.label}]
    dims = [part for name, value in line.dimensions for part in (name, _value(value))]
    return [line.namespace, line.name, *dims, {"stat": line.stat, "label": line.label}]


def _graph(graph: Graph) -> dict[str, Any]:
    props: dict[str, Any] = {
        "title": graph.title,
        "view": "timeSeries",
        "stacked": False,
        "region": REGION,
        "period": PERIOD,
        "metrics": [_line(line, i) for i, line in enumerate(graph.lines, 1)],
    }
    if graph.annotation is not None:
        label, value = graph.annotation
        props["annotations"] = {"horizontal": [{"label": label, "value": value}]}
    return {"type": "metric", "width": WIDTH, "height": HEIGHT, "properties": props}


def body(facts: StackFacts, alarms: list[Alarm]) -> str:
    """The dashboard body: JSON text with ``${...}`` for ``Fn::Sub`` (names of the stack's resources,
    the region) and stage params osls resolves (a threshold: a number, unquoted)."""
    status = {
        "type": "alarm",
        "width": GRID_WIDTH,
        "height": STATUS_HEIGHT,
        "properties": {
            "title": "Alarms",
            "alarms": [f"{ALARM_ARN}{facts.service}-${{sls:stage}}-{a.suffix}" for a in alarms],
            "sortBy": "stateUpdatedTimestamp",
        },
    }
    widgets = [status]
    for i, graph in enumerate(graphs(facts)):
        widget = _graph(graph)
        widget.update(x=(i % 2) * WIDTH, y=STATUS_HEIGHT + (i // 2) * HEIGHT)
        widgets.append(widget)
    status.update(x=0, y=0)
    text = json.dumps({"widgets": widgets}, indent=1)
    # a threshold param must be a JSON number once osls resolves it: unquote its placeholder
    for graph in graphs(facts):
        if graph.annotation is not None:
            text = text.replace(json.dumps(graph.annotation[1]), graph.annotation[1])
    return text
