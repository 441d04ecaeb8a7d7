"""The metrics alarms and widgets show: a metric with its dimensions, or a SEARCH over one dimension.

A dimension value is text or a ``Ref`` to a resource of the stack (a function's name, a queue's name),
written ``{"Ref": ...}`` / ``{"Fn::GetAtt": ...}`` in an alarm and ``${Id}`` / ``${Id.Attr}`` in the
dashboard body, which is one ``Fn::Sub``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Our own metrics: Powertools EMF from the functions (sensorflow.observability); AWS's by service.
LAMBDA = "AWS/Lambda"
SQS = "AWS/SQS"
DYNAMODB = "AWS/DynamoDB"


@dataclass(frozen=True, slots=True)
class Ref:
    logical_id: str
    attribute: str | None = None

    def cfn(self) -> dict[str, Any]:
        if self.attribute is None:
            return {"Ref": self.logical_id}
        return {"Fn::GetAtt": [self.logical_id, self.attribute]}

    def sub(self) -> str:
        return (
            f"${{{self.logical_id}}}"
            if self.attribute is None
            else f"${{{self.logical_id}.{self.attribute}}}"
        )


type DimensionValue = str | Ref


@dataclass(frozen=True, slots=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, DimensionValue], ...] = ()
    stat: str = "Sum"
    label: str = ""

    def with_stat(self, stat: str, label: str = "") -> Metric:
        return Metric(self.namespace, self.name, self.dimensions, stat, label or self.label)


@dataclass(frozen=True, slots=True)
class Search:
    """Every metric ``name`` whose dimension names are exactly ``keys``: one line per value of the keys
    not fixed (e.g. one per quarantine ``reason``), so a new value appears without a template change."""

    namespace: str
    name: str
    keys: tuple[str, ...]
    fixed: tuple[tuple[str, str], ...]
    stat: str = "Sum"
    label: str = ""

    def expression(self, period: int) -> str:
        # docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/search-expression-syntax.html
        schema = "{" + ",".join([self.namespace, *sorted(self.keys)]) + "}"
        terms = [schema, f'MetricName="{self.name}"', *(f'{k}="{v}"' for k, v in self.fixed)]
        return f"SEARCH('{' '.join(terms)}', '{self.stat}', {period})"


def emf(namespace: str, service: str, name: str, *, stat: str = "Sum", label: str = "") -> Metric:
    """One of our EMF metrics: Powertools adds the ``service`` dimension to every one."""
    return Metric(namespace, name, (("service", service),), stat, label or name)


def emf_by(namespace: str, service: str, name: str, dimension: str, *, label: str = "") -> Search:
    """One of our EMF metrics emitted with one more dimension (``single_metric`` + ``add_dimension``)."""
    return Search(namespace, name, ("service", dimension), (("service", service),), "Sum", label or name)
