"""Settings in a deployed stack that the local runtime does not emulate, one clear line each.

Rather than store a setting and silently do something else, ``sensorflow local up`` refuses a stack that uses
one (``--allow-unemulated`` runs it anyway, with the same lines as warnings), and the reconcile loop reports
any that a later deploy adds. The behaviours are listed with their AWS documents in ``fidelity.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

EMULATED_SOURCES = ("arn:aws:kinesis:", "arn:aws:sqs:")
EMULATED_PROTOCOLS = {"lambda", "sqs"}
ESM_DESTINATION_SERVICES = {"sqs", "sns"}


@dataclass(frozen=True, slots=True, order=True)
class Unemulated:
    where: str  # the resource or mapping
    setting: str
    why: str

    def line(self) -> str:
        return f"{self.where}: {self.setting} is not emulated locally ({self.why})"


def in_mappings(mappings: Iterable[Mapping[str, Any]]) -> list[Unemulated]:
    """What ``ListEventSourceMappings`` reports that the runtime would not honour."""
    out: list[Unemulated] = []
    for raw in mappings:
        where = f"event source mapping {raw.get('UUID', '?')} ({_function(raw)})"
        source = str(raw.get("EventSourceArn") or "")
        if not source.startswith(EMULATED_SOURCES):
            kind = source.split(":")[2] if source.count(":") > 2 else "self-managed Kafka"
            out.append(
                Unemulated(where, f"event source {kind}", "only Kinesis streams and SQS queues are polled")
            )
            continue
        if raw.get("StartingPosition") == "AT_TIMESTAMP" and not raw.get("StartingPositionTimestamp"):
            out.append(
                Unemulated(where, "StartingPosition AT_TIMESTAMP", "moto does not report the timestamp back")
            )
        if raw.get("TumblingWindowInSeconds"):
            out.append(Unemulated(where, "TumblingWindowInSeconds", "stateful windows are not emulated"))
        destination = ((raw.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination and destination.split(":")[2] not in ESM_DESTINATION_SERVICES:
            out.append(
                Unemulated(
                    where, f"on-failure destination {destination}", "only SQS and SNS destinations are sent"
                )
            )
        if source.startswith("arn:aws:sqs:") and (raw.get("FilterCriteria") or {}).get("Filters"):
            out.append(Unemulated(where, "FilterCriteria", "filters apply to Kinesis mappings only"))
    return out


def in_template(template: Mapping[str, Any], created: set[str] | None = None) -> list[Unemulated]:
    """What the deployed template declares that the runtime would not honour. ``created``: the logical ids
    the stack holds (a resource whose condition was false is not there, so it is not reported)."""
    out: list[Unemulated] = []
    for logical, resource in (template.get("Resources") or {}).items():
        if created is not None and resource.get("Condition") and logical not in created:
            continue
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::SNS::Subscription" and props.get("Protocol") not in EMULATED_PROTOCOLS:
            out.append(
                Unemulated(logical, f"Protocol {props.get('Protocol')}", "nothing is delivered locally")
            )
        elif kind == "AWS::Events::Rule":
            out.extend(_rule_targets(logical, props))
    return out


def _rule_targets(logical: str, props: Mapping[str, Any]) -> list[Unemulated]:
    out = []
    scheduled = bool(props.get("ScheduleExpression"))
    for target in props.get("Targets") or []:
        where = f"{logical} target {target.get('Id', '?')}"
        for key in ("RetryPolicy", "DeadLetterConfig"):
            if key in target:
                out.append(
                    Unemulated(where, key, "delivery to a local Lambda never fails, so it would never act")
                )
        if scheduled:
            for key in ("InputPath", "InputTransformer"):
                if key in target:
                    out.append(
                        Unemulated(where, key, "a schedule target gets its constant Input or the event")
                    )
    return out


def _function(raw: Mapping[str, Any]) -> str:
    arn = str(raw.get("FunctionArn") or "")
    return arn.split(":function:", 1)[-1]


def report(found: Iterable[Unemulated]) -> list[str]:
    return [u.line() for u in sorted(set(found))]


def mapping_settings(lambda_client: Any) -> list[Unemulated]:
    """What every event source mapping the Lambda API lists uses that is not emulated."""
    mappings = [
        raw
        for page in lambda_client.get_paginator("list_event_source_mappings").paginate()
        for raw in page["EventSourceMappings"]
    ]
    return in_mappings(mappings)


def template_settings(cloudformation: Any, stack: str) -> list[Unemulated]:
    """What the deployed stack's template uses that is not emulated (resources it holds only)."""
    body = cloudformation.get_template(StackName=stack)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    created = {
        r["LogicalResourceId"]
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
        for r in page["StackResourceSummaries"]
    }
    return in_template(template, created)


def unemulated_settings(lambda_client: Any, cloudformation: Any, stack: str | None) -> list[str]:
    """One line per unemulated setting in what is deployed: every event source mapping, and the stack."""
    found = mapping_settings(lambda_client)
    if stack:
        found += template_settings(cloudformation, stack)
    return report(found)
