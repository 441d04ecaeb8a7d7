"""AWS IoT Events alarm models -> sensorflow rules (version 2), with a report of what did not carry over.

Pure: documents in, rules and findings out (``cli.rules_import_command`` reads the files). Two inputs:

- what ``aws iotevents describe-alarm-model`` returns (camelCase), one model, a list of them, or
  ``{"alarmModels": [...]}``;
- a CloudFormation/SAM template with ``AWS::IoTEvents::AlarmModel`` resources (PascalCase), already
  parsed (the YAML short forms ``!Ref``/``!Sub``/... arrive as their long forms ``{"Ref": ...}``).
  ``Ref``/``Fn::Sub`` of a template parameter resolve to its ``Default``; anything else stays
  ``Unresolved`` and is reported where a value was needed.

What maps to what (see the README, "Migrating from AWS IoT Events"):

- ``alarmRule.simpleRule`` -> one severity level in the comparison form ``{"op", "threshold"}``;
  a threshold that is not a numeric literal (``$input.Limits.max``, an expression) is not convertible.
- ``inputProperty`` -> ``sensor_type``: ``--map`` (the exact property), else its last path segment if
  that is a sensor type.
- ``severity`` (IoT Events documents only "a non-negative integer that reflects the severity level",
  0..2147483647; we read lower as more severe) -> ``critical`` at or below the cut-off, else ``warning``.
- ``alarmCapabilities.acknowledgeFlow.enabled`` -> ``latch``;
  ``initializationConfiguration.disabledOnInitialization`` -> ``disabled_on_initialization``.
- ``key`` and every notification / alarm action -> a report line naming the sensorflow counterpart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sensorflow.core.rules import RULE_ID, RULES_VERSION

# Finding statuses. Only NOT_CONVERTIBLE makes the import incomplete (exit 1 without --allow-partial).
CONVERTED = "converted"
REPLACE = "replace"  # an IoT Events action whose job a sensorflow consumer does: set that up
NOTE = "note"
NOT_CONVERTIBLE = "not convertible"
STATUSES = (CONVERTED, REPLACE, NOTE, NOT_CONVERTIBLE)

# IoT Events SimpleRule.comparisonOperator -> the rules file's comparison form.
OPERATORS = {
    "GREATER": ">",
    "GREATER_OR_EQUAL": ">=",
    "LESS": "<",
    "LESS_OR_EQUAL": "<=",
    "EQUAL": "==",
    "NOT_EQUAL": "!=",
}
# Lower IoT Events severity = more severe; at or below this it is "critical".
DEFAULT_CRITICAL_SEVERITY = 1
ALARM_MODEL_TYPE = "AWS::IoTEvents::AlarmModel"
DETECTOR_MODEL_TYPE = "AWS::IoTEvents::DetectorModel"
INPUT_TYPE = "AWS::IoTEvents::Input"

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


@dataclass(frozen=True, slots=True)
class Unresolved:
    """A CloudFormation intrinsic the importer cannot evaluate (no parameter Default, ``GetAtt``, ...)."""

    expression: str

    def __str__(self) -> str:
        return self.expression


@dataclass(frozen=True, slots=True)
class AlarmModel:
    name: str  # alarmModelName, or the template's logical id when the name is not given or not resolved
    source: str  # "<file>" or "<file>#<LogicalId>"
    spec: Mapping[str, Any]  # the describe-alarm-model shape (camelCase)


@dataclass(frozen=True, slots=True)
class Finding:
    model: str
    source: str
    item: str  # "rule", "key", "severity", "action sns", "notification email", ...
    status: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {
            "model": self.model,
            "source": self.source,
            "item": self.item,
            "status": self.status,
            "detail": self.detail,
        }


@dataclass(frozen=True, slots=True)
class Conversion:
    rules: list[dict[str, Any]]
    findings: list[Finding] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not any(f.status == NOT_CONVERTIBLE for f in self.findings)

    def document(self) -> dict[str, Any]:
        return {"version": RULES_VERSION, "rules": self.rules}


class ImportInputError(ValueError):
    """The document is not something the importer reads (the CLI turns it into a usage error)."""


# --- reading documents ------------------------------------------------------------------------------


def alarm_models(doc: Any, source: str) -> tuple[list[AlarmModel], list[Finding]]:
    """The alarm models in one parsed document, and findings about what else it holds."""
    if isinstance(doc, Mapping) and isinstance(doc.get("Resources"), Mapping):
        return _from_template(doc, source)
    if isinstance(doc, Mapping) and "alarmModelSummaries" in doc:
        raise ImportInputError(
            f"{source} is `list-alarm-models` output (names only); run `aws iotevents describe-alarm-model "
            "--alarm-model-name NAME` for each and pass those files"
        )
    if isinstance(doc, Mapping) and "detectorModel" in doc:
        name = str(doc["detectorModel"].get("detectorModelConfiguration", {}).get("detectorModelName", "?"))
        return [], [_detector_model(name, source)]
    if isinstance(doc, Mapping) and isinstance(doc.get("alarmModels"), list):
        doc = doc["alarmModels"]
    items = doc if isinstance(doc, list) else [doc]
    models = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or not isinstance(item.get("alarmModelName"), str):
            where = source if not isinstance(doc, list) else f"{source} item {i}"
            raise ImportInputError(
                f"{where} is neither `describe-alarm-model` output (no 'alarmModelName') "
                "nor a CloudFormation template (no 'Resources')"
            )
        models.append(AlarmModel(item["alarmModelName"], source, item))
    return models, []


def _from_template(doc: Mapping[str, Any], source: str) -> tuple[list[AlarmModel], list[Finding]]:
    params = {
        name: p.get("Default")
        for name, p in (doc.get("Parameters") or {}).items()
        if isinstance(p, Mapping) and p.get("Default") is not None
    }
    models, findings = [], []
    for logical_id, resource in doc["Resources"].items():
        kind = resource.get("Type") if isinstance(resource, Mapping) else None
        where = f"{source}#{logical_id}"
        if kind == ALARM_MODEL_TYPE:
            spec = _camel(_resolve(resource.get("Properties") or {}, params))
            name = spec.get("alarmModelName")
            if not isinstance(name, str):
                if name is not None:
                    findings.append(
                        Finding(
                            logical_id,
                            where,
                            "name",
                            NOTE,
                            f"AlarmModelName {name} is not resolvable here; the logical id names the rule",
                        )
                    )
                name = logical_id
            models.append(AlarmModel(name, where, spec))
        elif kind == DETECTOR_MODEL_TYPE:
            findings.append(_detector_model(logical_id, where))
        elif kind == INPUT_TYPE:
            findings.append(
                Finding(
                    logical_id,
                    where,
                    "input",
                    NOTE,
                    "not needed: sensorflow reads Avro readings from its Kinesis stream (see Architecture)",
                )
            )
    return models, findings


def _detector_model(name: str, source: str) -> Finding:
    return Finding(
        name,
        source,
        "detector model",
        NOT_CONVERTIBLE,
        "detector models (states, timers, variables) are not converted; express each condition as a "
        "rule (for_seconds, m_of_n, rate_of_change, stale_after_seconds) or a consumer of the alerts bus",
    )


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    """Evaluate ``Ref``/``Fn::Sub`` of parameters that have a Default; leave other intrinsics Unresolved."""
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    if not isinstance(value, Mapping):
        return value
    if len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return params.get(arg, Unresolved(f"!Ref {arg}")) if isinstance(arg, str) else Unresolved("!Ref")
        if fn == "Fn::Sub":
            return _sub(arg, params)
        if fn.startswith("Fn::") or fn == "Condition":
            return Unresolved(f"!{fn.removeprefix('Fn::')} {arg!r}")
    return {k: _resolve(v, params) for k, v in value.items()}


def _sub(arg: Any, params: Mapping[str, Any]) -> Any:
    template, local = (arg[0], arg[1] if len(arg) > 1 else {}) if isinstance(arg, list) else (arg, {})
    if not isinstance(template, str) or not isinstance(local, Mapping):
        return Unresolved(f"!Sub {arg!r}")
    values = {**params, **local}
    names = _SUB_VAR.findall(template)
    if any(n not in values or not isinstance(values[n], str | int | float) for n in names):
        return Unresolved(f"!Sub {template!r}")
    return _SUB_VAR.sub(lambda m: str(values[m.group(1)]), template).replace("${!", "${")


def _camel(value: Any) -> Any:
    """CloudFormation's PascalCase property names -> the API's camelCase (``DynamoDBv2``: ``dynamoDBv2``)."""
    if isinstance(value, list):
        return [_camel(v) for v in value]
    if isinstance(value, Mapping):
        return {(k[:1].lower() + k[1:]) if isinstance(k, str) else k: _camel(v) for k, v in value.items()}
    return value


# --- converting ---------------------------------------------------------------------------------------


def convert(
    models: Iterable[AlarmModel],
    *,
    sensor_types: Iterable[str],
    sensor_map: Mapping[str, str] | None = None,
    critical_severity: int = DEFAULT_CRITICAL_SEVERITY,
    taken_ids: Iterable[str] = (),
) -> Conversion:
    """Every model as a rule where it converts, plus a finding for each part of it, in input order."""
    known = frozenset(sensor_types)
    sensor_map = dict(sensor_map or {})
    used_map: set[str] = set()
    taken = set(taken_ids)
    rules: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for model in models:
        rule, found = _convert_one(model, known, sensor_map, critical_severity, used_map)
        if rule is not None:
            rule["id"] = _rule_id(model.name, taken)
            taken.add(rule["id"])
            rules.append(_ordered(rule))
            found.insert(0, Finding(model.name, model.source, "rule", CONVERTED, _summary(rule)))
        findings.extend(found)
    for prop in sorted(set(sensor_map) - used_map):
        findings.append(Finding("-", "-", "--map", NOTE, f"{prop!r} matched no alarm model's inputProperty"))
    return Conversion(rules, findings)


def _convert_one(
    model: AlarmModel,
    known: frozenset[str],
    sensor_map: Mapping[str, str],
    critical_severity: int,
    used_map: set[str],
) -> tuple[dict[str, Any] | None, list[Finding]]:
    spec = model.spec

    def finding(item: str, status: str, detail: str) -> Finding:
        return Finding(model.name, model.source, item, status, detail)

    findings: list[Finding] = []
    blockers: list[Finding] = []
    simple = (
        (spec.get("alarmRule") or {}).get("simpleRule")
        if isinstance(spec.get("alarmRule"), Mapping)
        else None
    )
    if not isinstance(simple, Mapping):
        blockers.append(finding("alarmRule", NOT_CONVERTIBLE, "no alarmRule.simpleRule to convert"))
        simple = {}
    else:
        operator = simple.get("comparisonOperator")
        if operator not in OPERATORS:
            blockers.append(
                finding(
                    "comparisonOperator",
                    NOT_CONVERTIBLE,
                    f"{operator} is not one of {', '.join(OPERATORS)}",
                )
            )
        threshold, why = _threshold(simple.get("threshold"))
        if why:
            blockers.append(finding("threshold", NOT_CONVERTIBLE, why))
        sensor_type, why = _sensor_type(simple.get("inputProperty"), known, sensor_map, used_map)
        if why:
            blockers.append(finding("inputProperty", NOT_CONVERTIBLE, why))
    severity, note = _severity(spec.get("severity"), critical_severity)
    if note:
        findings.append(finding("severity", NOTE, note))
    latch, note = _latch(spec.get("alarmCapabilities"))
    if note:
        findings.append(finding("acknowledgeFlow", NOTE, note))
    findings.append(finding("key", NOTE, _key(spec.get("key"))))
    findings.extend(finding(item, status, detail) for item, status, detail in _actions(spec))
    if blockers:
        return None, blockers + findings
    rule = {
        "sensor_type": sensor_type,
        "description": _description(model, simple),
        severity: {"op": OPERATORS[simple["comparisonOperator"]], "threshold": threshold},
        "latch": latch,
        "disabled_on_initialization": _disabled(spec.get("alarmCapabilities")),
    }
    return rule, findings


def _threshold(raw: Any) -> tuple[int | float | None, str | None]:
    """The threshold as a number, or why not. IoT Events stores it as a string expression."""
    if isinstance(raw, bool) or raw is None:
        return None, f"threshold {raw!r} is not a number"
    if isinstance(raw, int | float):
        text = repr(raw)
    elif isinstance(raw, str):
        text = raw.strip()
    else:  # an Unresolved intrinsic, or a structure
        return (
            None,
            f"threshold {raw} is a CloudFormation value the importer cannot evaluate; give it a literal",
        )
    if not _NUMBER.fullmatch(text):
        return None, (
            f"threshold {text!r} is an expression, not a numeric literal; a sensorflow rule has one fixed "
            "threshold: pick a number, and put per-device values in the registry (thresholds.<rule id>)"
        )
    value = int(text) if _INTEGER.fullmatch(text) else float(text)
    if not math.isfinite(value):
        return None, f"threshold {text!r} is not finite"
    return value, None


def _sensor_type(
    prop: Any, known: frozenset[str], sensor_map: Mapping[str, str], used_map: set[str]
) -> tuple[str | None, str | None]:
    if not isinstance(prop, str) or not prop:
        return None, f"inputProperty {prop} is not a string the importer can read"
    if prop in sensor_map:
        used_map.add(prop)
        return sensor_map[prop], None
    segment = prop.rsplit(".", 1)[-1].strip("`")
    if segment in known:
        return segment, None
    return None, (
        f"inputProperty {prop!r} names no sensor type (last segment {segment!r}); "
        f"pass --map '{prop}=SENSOR_TYPE' with one of {', '.join(sorted(known))}"
    )


def _severity(raw: Any, critical_severity: int) -> tuple[str, str | None]:
    if raw is None:
        return "warning", "no severity: imported as warning"
    if isinstance(raw, str) and raw.strip().isdigit():  # a template parameter's Default is a string
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        return "warning", f"severity {raw} is not a non-negative integer: imported as warning"
    if raw <= critical_severity:
        return "critical", f"severity {raw} <= {critical_severity} (--critical-severity): critical"
    return "warning", f"severity {raw} > {critical_severity} (--critical-severity): warning"


def _latch(capabilities: Any) -> tuple[bool, str | None]:
    flow = capabilities.get("acknowledgeFlow") if isinstance(capabilities, Mapping) else None
    enabled = flow.get("enabled") if isinstance(flow, Mapping) else None
    if isinstance(enabled, bool):
        if enabled:
            return True, "acknowledge flow on: latch true (a cleared alarm stays LATCHED until acknowledged)"
        return False, "acknowledge flow off: latch false (the alarm clears by itself)"
    return False, (
        "acknowledgeFlow not set (IoT Events documents no default for it): imported as latch false; "
        "set latch true if these alarms waited for an acknowledge"
    )


def _disabled(capabilities: Any) -> bool:
    init = capabilities.get("initializationConfiguration") if isinstance(capabilities, Mapping) else None
    return isinstance(init, Mapping) and init.get("disabledOnInitialization") is True


def _key(key: Any) -> str:
    if key is None:
        return (
            "no key: IoT Events kept one alarm for the whole model; sensorflow keeps one alarm per device "
            "(device_id) per rule"
        )
    return f"key {key}: sensorflow keys every alarm by device_id (one per device and rule); nothing to set"


# Alarm action type -> (status, what replaces it). "{target}" is the action's destination.
_ACTIONS: dict[str, tuple[str, str]] = {
    "sns": (
        REPLACE,
        "subscribe what {target} fed to the alerts topic (stack output AlertsTopicArn) with a filter "
        "policy on the message attributes transition, severity, sensor_type, site, device_id",
    ),
    "lambda": (
        REPLACE,
        "EventBridge rule on the alerts bus (stack output AlertsEventBusName, source sensorflow.alarms, "
        "detail-type = the transition) targeting {target}; the detail is the transition document "
        "(schemas/sensorflow.TransitionEvent.avsc), not the IoT Events payload",
    ),
    "sqs": (
        REPLACE,
        "subscribe {target} to the alerts topic (raw delivery, a filter policy) as the stack's "
        "CriticalTransitionsQueue does, or an EventBridge rule on the alerts bus with an SQS target",
    ),
    "firehose": (REPLACE, "EventBridge rule on the alerts bus with {target} as a Firehose target"),
    "dynamoDB": (
        REPLACE,
        "the incidents function records critical transitions in the incidents table (stack output "
        "IncidentsTableName); to keep writing {target}, an EventBridge rule on the alerts bus to a Lambda",
    ),
    "iotTopicPublish": (
        NOT_CONVERTIBLE,
        "no counterpart: sensorflow does not publish to AWS IoT Core topics; if something listens on "
        "{target}, an EventBridge rule on the alerts bus to a Lambda calling iot-data Publish",
    ),
    "iotEvents": (
        NOT_CONVERTIBLE,
        "no counterpart: sensorflow has no detector models to feed ({target}); express the follow-up as "
        "a rule or a consumer of the alerts bus",
    ),
    "iotSiteWise": (
        NOT_CONVERTIBLE,
        "no counterpart: sensorflow does not write alarm state to AWS IoT SiteWise ({target}); a Lambda "
        "on the alerts bus could call BatchPutAssetPropertyValue",
    ),
}
_ACTIONS["dynamoDBv2"] = _ACTIONS["dynamoDB"]
_TARGET_FIELDS = (
    "targetArn",
    "functionArn",
    "queueUrl",
    "deliveryStreamName",
    "tableName",
    "mqttTopic",
    "inputName",
    "propertyAlias",
    "assetId",
)


def _actions(spec: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    events = spec.get("alarmEventActions")
    for action in (events.get("alarmActions") if isinstance(events, Mapping) else None) or []:
        for kind, body in action.items() if isinstance(action, Mapping) else []:
            status, text = _ACTIONS.get(kind, (NOT_CONVERTIBLE, "unknown action type: no counterpart known"))
            out.append((f"action {kind}", status, text.format(target=_target(body))))
    notification = spec.get("alarmNotification")
    for action in (
        notification.get("notificationActions") if isinstance(notification, Mapping) else None
    ) or []:
        if isinstance(action, Mapping):
            out.extend(_notification(action))
    return out


def _notification(action: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    target = action.get("action")
    function = target.get("lambdaAction") if isinstance(target, Mapping) else None
    if function is not None:
        out.append(
            (
                "notification lambda",
                REPLACE,
                f"the notify function replaces {_target(function)}: one message per transition, posted to "
                "the webhook whose URL is in SSM /sensorflow/<stage>/webhook-url",
            )
        )
    for config in action.get("emailConfigurations") or []:
        to = (config.get("recipients") or {}).get("to") if isinstance(config, Mapping) else None
        out.append(
            (
                "notification email",
                REPLACE,
                f"email to {len(to or [])} AWS SSO recipient(s): set the stage parameter alertEmail (an SNS "
                "email subscription filtered to Raised/Escalated/Cleared/Device Stale) or subscribe each "
                "address to the alerts topic",
            )
        )
    for config in action.get("smsConfigurations") or []:
        to = config.get("recipients") if isinstance(config, Mapping) else None
        out.append(
            (
                "notification sms",
                REPLACE,
                f"SMS to {len(to or [])} AWS SSO recipient(s): subscribe each phone number to the alerts "
                "topic (protocol sms) with a filter policy",
            )
        )
    return out


def _target(body: Any) -> str:
    if isinstance(body, Mapping):
        for name in _TARGET_FIELDS:
            if body.get(name) is not None:
                return f"{name} {body[name]}"
    return "the action's target"


def _description(model: AlarmModel, simple: Mapping[str, Any]) -> str:
    text = model.spec.get("alarmModelDescription")
    origin = (
        f"IoT Events alarm model {model.name}: {simple.get('inputProperty')} "
        f"{simple.get('comparisonOperator')} {simple.get('threshold')}"
    )
    return f"{text} ({origin})" if isinstance(text, str) and text else origin


def _rule_id(name: str, taken: set[str]) -> str:
    """The alarm model name as a rule id (lower case, only [a-z0-9_-], 63 characters), unique."""
    base = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).lstrip("_-")[:63].rstrip("-") or "iotevents-alarm"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        suffix = f"-{n}"
        candidate = base[: 63 - len(suffix)] + suffix
    assert RULE_ID.fullmatch(candidate), candidate
    return candidate


def _ordered(rule: dict[str, Any]) -> dict[str, Any]:
    order = ("id", "sensor_type", "description", "critical", "warning")
    return {k: rule[k] for k in (*order, *rule) if k in rule}


def _summary(rule: Mapping[str, Any]) -> str:
    severity = "critical" if "critical" in rule else "warning"
    level = rule[severity]
    extras = [
        x
        for x, on in (("latched", rule["latch"]), ("starts disabled", rule["disabled_on_initialization"]))
        if on
    ]
    return f"{rule['id']}: {rule['sensor_type']} {level['op']} {level['threshold']} -> {severity}" + "".join(
        f", {x}" for x in extras
    )
