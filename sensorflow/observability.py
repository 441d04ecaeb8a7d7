"""Logger, metrics and tracer, defined once. Creating them makes no network call and needs no env var."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from sensorflow.services.ingest import BatchOutcome

SERVICE = "sensorflow"
NAMESPACE = "sensorflow"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)


def record_batch(outcome: BatchOutcome) -> None:
    """EMF metrics for one batch; per-reason and per-severity counts carry their own dimension."""
    metrics.add_metric(name="RecordsReceived", unit=MetricUnit.Count, value=outcome.received)
    metrics.add_metric(name="RecordsEnriched", unit=MetricUnit.Count, value=len(outcome.enriched))
    metrics.add_metric(name="RecordsQuarantined", unit=MetricUnit.Count, value=len(outcome.quarantined))
    metrics.add_metric(
        name="BatchItemFailures", unit=MetricUnit.Count, value=len(outcome.failed_sequence_numbers)
    )
    _by_dimension("RecordsQuarantinedByReason", "reason", outcome.quarantined_by_reason)
    transitions = [t.attributes() for t in outcome.transitions]
    _by_dimension("AlarmTransitions", "transition", Counter(a["transition"] for a in transitions))
    _by_dimension(
        "Alerts",
        "severity",
        Counter(a["severity"] for a in transitions if a["transition"] != "Alarm Cleared"),
    )
    logger.info(
        "batch processed",
        received=outcome.received,
        enriched=len(outcome.enriched),
        quarantined=len(outcome.quarantined),
        transitions=len(outcome.transitions),
        replayed=outcome.replayed,
        failed=len(outcome.failed_sequence_numbers),
        failure_cause=outcome.failure_cause,
    )


def _by_dimension(name: str, dimension: str, counts: Counter[str]) -> None:
    for value, count in sorted(counts.items()):
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=count,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as metric:
            metric.add_dimension(name=dimension, value=value)
