"""What the monitoring needs to know about the stack, read from ``serverless.yml`` itself.

The functions (every one gets Errors and Throttles alarms), the queues that receive failures (every one
gets a depth alarm), the DynamoDB tables, which functions read a stream (iterator age) or run on a
schedule (not running), and the metric namespace and service the functions' Powertools EMF emits under
(``provider.environment``). A function or dead-letter queue added to ``serverless.yml`` is covered by the
next ``scripts/monitoring.py`` run, and ``tests/integration/test_monitoring.py`` fails until then.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# Keys under which serverless.yml (osls function settings) or a CloudFormation resource names where
# failed events, records or messages are sent: on-failure destinations (function and event source
# mapping), a function's dead-letter queue (osls `onError`), redrive policies (SQS queue, SNS
# subscription, osls sns events) and EventBridge targets' dead-letter queues.
FAILURE_KEYS = frozenset(
    {
        "onFailure",
        "OnFailure",
        "onError",
        "DeadLetterConfig",
        "deadLetterTargetArn",
        "deadLetterTargetRef",
        "deadLetterQueueArn",
    }
)
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_SUB_REF = re.compile(r"\$\{([A-Za-z0-9]+)(?:\.[A-Za-z]+)?\}")


@dataclass(frozen=True, slots=True)
class Function:
    """A function of ``serverless.yml`` and its CloudFormation logical id (osls' naming)."""

    name: str
    logical_id: str
    reads_stream: bool
    schedule_seconds: int | None  # the shortest rate(...) schedule, None when it has none


@dataclass(frozen=True, slots=True)
class StackFacts:
    service: str
    namespace: str  # POWERTOOLS_METRICS_NAMESPACE
    service_dimension: str  # POWERTOOLS_SERVICE_NAME: the `service` dimension of every EMF metric
    functions: tuple[Function, ...]
    failure_queues: tuple[str, ...]  # logical ids of the AWS::SQS::Queue resources that receive failures
    tables: tuple[str, ...]  # logical ids of the AWS::DynamoDB::Table resources


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short forms (``!GetAtt A.B`` -> ``{"Fn::GetAtt": [A, B]}``)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}": value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def load_cloudformation_yaml(text: str) -> Any:
    """YAML with CloudFormation's short forms (``!Ref``, ``!Sub``, ``!GetAtt A.B``, ...) as their long forms.
    Raises ``yaml.YAMLError`` on bad YAML. (Also the rules importer's reader of IoT Events templates.)"""
    return yaml.load(text, Loader=_CloudFormationLoader)  # a SafeLoader subclass


def load_serverless(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = load_cloudformation_yaml(path.read_text(encoding="utf-8"))
    return doc


def own_resources(doc: Mapping[str, Any]) -> dict[str, Any]:
    """``resources.Resources``; ``resources`` may be the list osls merges (``${file()}`` strings skipped)."""
    parts = doc.get("resources") or {}
    out: dict[str, Any] = {}
    for part in parts if isinstance(parts, list) else [parts]:
        if isinstance(part, dict):
            out.update(part.get("Resources") or {})
    return out


def logical_id(function_name: str) -> str:
    """osls' ``getNormalizedFunctionName`` + ``LambdaFunction`` (lib/plugins/aws/lib/naming.js)."""
    normalized = function_name.replace("-", "Dash").replace("_", "Underscore")
    return f"{normalized[:1].upper()}{normalized[1:]}LambdaFunction"


def referenced_ids(value: Any) -> Iterator[str]:
    """Logical ids ``value`` refers to: ``Ref``, ``Fn::GetAtt``, ``${Id}`` / ``${Id.Attr}`` in ``Fn::Sub``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield inner
            elif key == "Fn::GetAtt":
                yield (inner if isinstance(inner, list) else str(inner).split("."))[0]
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                yield from _SUB_REF.findall(str(text))
            else:
                yield from referenced_ids(inner)
    elif isinstance(value, list):
        for item in value:
            yield from referenced_ids(item)


def failure_targets(value: Any) -> Iterator[str]:
    """Logical ids found under any ``FAILURE_KEYS`` key, at any depth of ``value``."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in FAILURE_KEYS:
                yield from referenced_ids(inner)
            else:
                yield from failure_targets(inner)
    elif isinstance(value, list):
        for item in value:
            yield from failure_targets(item)


def schedule_seconds(events: list[Any]) -> int | None:
    rates = []
    for event in events:
        schedule = event.get("schedule") if isinstance(event, dict) else None
        rate = schedule.get("rate") if isinstance(schedule, dict) else schedule
        for expression in rate if isinstance(rate, list) else [rate]:
            match = _RATE.fullmatch(str(expression))
            if match:
                rates.append(int(match.group(1)) * _SECONDS[match.group(2).rstrip("s")])
    return min(rates) if rates else None


def read_stack(path: Path) -> StackFacts:
    doc = load_serverless(path)
    resources = own_resources(doc)
    environment = doc["provider"]["environment"]
    functions = tuple(
        Function(
            name=name,
            logical_id=logical_id(name),
            reads_stream=any(isinstance(e, dict) and "stream" in e for e in fn.get("events") or []),
            schedule_seconds=schedule_seconds(fn.get("events") or []),
        )
        for name, fn in doc["functions"].items()
    )
    targets = set(failure_targets(doc["functions"])) | set(failure_targets(resources))
    queues = tuple(sorted(t for t in targets if resources.get(t, {}).get("Type") == "AWS::SQS::Queue"))
    tables = tuple(sorted(n for n, r in resources.items() if r.get("Type") == "AWS::DynamoDB::Table"))
    return StackFacts(
        service=doc["service"],
        namespace=environment["POWERTOOLS_METRICS_NAMESPACE"],
        service_dimension=environment["POWERTOOLS_SERVICE_NAME"],
        functions=functions,
        failure_queues=queues,
        tables=tables,
    )
