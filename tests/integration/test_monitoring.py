"""The packaged template's CloudWatch monitoring (resources/monitoring.yml, from sensorflow/monitoring).

Each property is checked over every resource of a kind found in the template, independently of how the
generator found them: every function has Errors and Throttles alarms; every queue that something sends
failures to (on-failure destinations, dead-letter queues, redrive targets) has a depth alarm; every one
of our metrics an alarm or the dashboard shows is one the code emits (name and dimension names, read
from the source); every alarm says what it means and what to do first, and notifies the ops topic.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorflow import observability
from sensorflow.monitoring import OPS_TOPIC, emitted_metrics
from sensorflow.monitoring.stack_facts import load_serverless
from tests.integration.packaged import packaged_template

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]
OURS = observability.NAMESPACE
SEARCH = re.compile(r"SEARCH\('\{([^}]*)\} MetricName=\"([^\"]+)\"")
SUB_REF = re.compile(r"^\$\{([A-Za-z0-9]+)(?:\.([A-Za-z]+))?\}$")
DASHBOARD_TITLES = {
    "Records in / enriched / quarantined",
    "Quarantined by reason",
    "Iterator age (max, ms)",
    "Batch item failures, late and replayed readings",
    "Alarm transitions by kind",
    "Notifications",
    "Function duration (p99, ms)",
    "Function errors and throttles",
    "DynamoDB throttled reads and writes",
}

type Shown = tuple[str, str, frozenset[str]]  # namespace, metric name, dimension names


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return packaged_template("ci")


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def alarms_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources_of(template, "AWS::CloudWatch::Alarm").items()}


def dimension_ref(value: Any) -> str | None:
    """The logical id an alarm dimension value or a dashboard ``${Id}`` / ``${Id.Attr}`` names."""
    if isinstance(value, dict):
        return value.get("Ref") or value.get("Fn::GetAtt", [None])[0]
    match = SUB_REF.match(str(value))
    return match.group(1) if match else None


def alarm_metrics(props: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    if "MetricName" in props:
        yield props["Namespace"], props["MetricName"], {d["Name"]: d["Value"] for d in props["Dimensions"]}
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            m = query["MetricStat"]["Metric"]
            yield m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m["Dimensions"]}


def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    [board] = resources_of(template, "AWS::CloudWatch::Dashboard").values()
    parsed: dict[str, Any] = json.loads(board["Properties"]["DashboardBody"]["Fn::Sub"])
    return parsed


def dashboard_metrics(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(namespace, name, dimensions) of every line; a SEARCH gives its schema's dimension names."""
    for widget in dashboard(template)["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):
                match = SEARCH.match(line[0]["expression"])
                assert match, line
                namespace, *keys = match.group(1).split(",")
                yield namespace, match.group(2), dict.fromkeys(keys, "*")
            else:
                fields = [f for f in line if not isinstance(f, dict)]
                yield fields[0], fields[1], dict(zip(fields[2::2], fields[3::2], strict=True))


def shown(template: dict[str, Any]) -> set[Shown]:
    everything = [m for props in alarms_of(template).values() for m in alarm_metrics(props)]
    everything += list(dashboard_metrics(template))
    return {(ns, name, frozenset(dims)) for ns, name, dims in everything}


def not_emitted(template: dict[str, Any]) -> set[Shown]:
    emitted = {(e.namespace, e.name, e.dimensions) for e in emitted_metrics(ROOT)}
    return {m for m in shown(template) if m[0] == OURS} - emitted


def failure_receivers(template: dict[str, Any]) -> set[str]:
    """Queues the template sends failures to, by the CloudFormation property that does it."""
    targets: list[Any] = []
    for r in template["Resources"].values():
        p = r.get("Properties", {})
        if r["Type"] in ("AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig"):
            targets.append(p.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"))
        elif r["Type"] == "AWS::Lambda::Function":
            targets.append(p.get("DeadLetterConfig", {}).get("TargetArn"))
        elif r["Type"] in ("AWS::SQS::Queue", "AWS::SNS::Subscription"):
            targets.append((p.get("RedrivePolicy") or {}).get("deadLetterTargetArn"))
        elif r["Type"] == "AWS::Events::Rule":
            targets += [t.get("DeadLetterConfig", {}).get("Arn") for t in p.get("Targets", [])]
    ids = {dimension_ref(t) for t in targets if t}
    return {i for i in ids if i and template["Resources"].get(i, {}).get("Type") == "AWS::SQS::Queue"}


def test_every_function_has_errors_and_throttles_alarms(template: dict[str, Any]):
    functions = set(resources_of(template, "AWS::Lambda::Function"))
    assert {"IngestLambdaFunction", "NotifyLambdaFunction", "HeartbeatLambdaFunction"} <= functions
    alarmed = {
        (name, dimension_ref(dims["FunctionName"]))
        for props in alarms_of(template).values()
        if props["ComparisonOperator"] == "GreaterThanThreshold" and props["Threshold"] == 0
        for ns, name, dims in alarm_metrics(props)
        if ns == "AWS/Lambda"
    }
    missing = {(m, f) for f in functions for m in ("Errors", "Throttles")} - alarmed
    assert missing == set()


def test_every_queue_that_receives_failures_has_a_depth_alarm(template: dict[str, Any]):
    receivers = failure_receivers(template)
    assert {"IngestFailureQueue", "ConsumerFailureQueue"} <= receivers
    alarmed = {
        dimension_ref(props["Dimensions"][0]["Value"])
        for props in alarms_of(template).values()
        if props.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and (props["Statistic"], props["ComparisonOperator"], props["Threshold"])
        == ("Maximum", "GreaterThanThreshold", 0)
        and props["Dimensions"][0]["Name"] == "QueueName"
    }
    assert receivers - alarmed == set()


def test_every_metric_shown_is_one_the_code_emits(template: dict[str, Any]):
    ours = {m for m in shown(template) if m[0] == OURS}
    # not vacuous: plain metrics and per-dimension ones, from alarms and the dashboard
    assert (OURS, "RecordsQuarantinedByReason", frozenset({"service", "reason"})) in ours
    assert (OURS, "NotificationsFailed", frozenset({"service"})) in ours
    assert len(ours) >= 12
    assert not_emitted(template) == set()


def test_a_misspelt_metric_or_dimension_is_caught(template: dict[str, Any]):
    # GIVEN the template with one dashboard metric misspelt and one alarm dimension renamed
    changed = copy.deepcopy(template)
    board = next(iter(resources_of(changed, "AWS::CloudWatch::Dashboard").values()))["Properties"]
    board["DashboardBody"]["Fn::Sub"] = board["DashboardBody"]["Fn::Sub"].replace(
        '"RecordsEnriched"', '"RecordsEnrichd"'
    )
    rate = changed["Resources"]["QuarantineRateAlarm"]["Properties"]["Metrics"][0]["MetricStat"]["Metric"]
    rate["Dimensions"] = [{"Name": "Service", "Value": observability.SERVICE}]
    # THEN both are reported as not emitted by the code
    assert not_emitted(changed) == {
        (OURS, "RecordsEnrichd", frozenset({"service"})),
        (OURS, rate["MetricName"], frozenset({"Service"})),
    }


def test_our_metrics_are_where_powertools_puts_them(template: dict[str, Any]):
    # the functions' environment names the namespace and service the code's Metrics object uses
    for name, fn in resources_of(template, "AWS::Lambda::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == OURS, name
        assert env["POWERTOOLS_SERVICE_NAME"] == observability.SERVICE, name
    services = {
        dims["service"]
        for props in alarms_of(template).values()
        for ns, _, dims in alarm_metrics(props)
        if ns == OURS
    }
    assert services == {observability.SERVICE}
    body = dashboard(template)
    lines = [line for w in body["widgets"] for line in w["properties"].get("metrics", [])]
    assert all(
        f'service="{observability.SERVICE}"' in line[0]["expression"]
        for line in lines
        if isinstance(line[0], dict)
    )


def test_aws_metrics_name_resources_of_the_stack(template: dict[str, Any]):
    kinds = {
        "AWS/Lambda": ("FunctionName", "AWS::Lambda::Function"),
        "AWS/SQS": ("QueueName", "AWS::SQS::Queue"),
        "AWS/DynamoDB": ("TableName", "AWS::DynamoDB::Table"),
    }
    everything = [m for props in alarms_of(template).values() for m in alarm_metrics(props)]
    everything += list(dashboard_metrics(template))
    for ns, name, dims in everything:
        if ns in kinds:
            dimension, type_ = kinds[ns]
            assert template["Resources"][dimension_ref(dims[dimension])]["Type"] == type_, (ns, name, dims)
    tables = set(resources_of(template, "AWS::DynamoDB::Table"))
    throttled = {
        dimension_ref(d["TableName"]) for ns, n, d in dashboard_metrics(template) if ns == "AWS/DynamoDB"
    }
    assert throttled == tables


def test_every_alarm_says_what_to_do_and_notifies_the_ops_topic(template: dict[str, Any]):
    alarms = alarms_of(template)
    assert len(alarms) >= 15
    names = [p["AlarmName"] for p in alarms.values()]
    assert len(set(names)) == len(names) and all(n.startswith("sensorflow-ci-") for n in names)
    for name, props in alarms.items():
        assert props["ActionsEnabled"] is True, name
        assert props["AlarmActions"] == [{"Ref": OPS_TOPIC}], name
        assert props.get("OKActions", [{"Ref": OPS_TOPIC}]) == [{"Ref": OPS_TOPIC}], name
        description = props["AlarmDescription"]
        assert 80 < len(description) <= 1024 and "First:" in description, name  # AlarmDescription max 1024
        assert "${" not in description, name  # every variable resolved by osls
    # the states worth hearing about the end of send OK too
    with_ok = {k for k, p in alarms.items() if "OKActions" in p}
    assert {"IngestIteratorAgeAlarm", "QuarantineRateAlarm", "HeartbeatNotRunningAlarm"} <= with_ok


def test_stream_lag_quarantine_rate_and_heartbeat_alarms(template: dict[str, Any]):
    params = load_serverless(ROOT / "serverless.yml")["params"]
    alarms = alarms_of(template)
    age = alarms["IngestIteratorAgeAlarm"]
    assert (age["MetricName"], age["Statistic"]) == ("IteratorAge", "Maximum")
    assert age["Threshold"] == params["default"]["iteratorAgeAlarmMs"] > params["prod"]["iteratorAgeAlarmMs"]
    rate = alarms["QuarantineRateAlarm"]
    [expression] = [q for q in rate["Metrics"] if q["ReturnData"]]
    assert expression["Expression"] == "IF(received > 0, 100 * quarantined / received, 0)"
    assert {
        q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in rate["Metrics"] if "MetricStat" in q
    } == {
        "received": "RecordsReceived",
        "quarantined": "RecordsQuarantined",
    }
    assert rate["Threshold"] == params["default"]["quarantineRateAlarmPercent"]
    beat = alarms["HeartbeatNotRunningAlarm"]
    assert (beat["MetricName"], beat["Statistic"], beat["Period"]) == ("Invocations", "Sum", 300)
    assert (beat["ComparisonOperator"], beat["Threshold"], beat["TreatMissingData"]) == (
        "LessThanThreshold",
        1,
        "breaching",
    )
    failed = alarms["NotificationsFailedAlarm"]
    assert (failed["Namespace"], failed["MetricName"]) == (OURS, "NotificationsFailed")


def test_the_ops_topic_is_encrypted_tls_only_and_for_this_stages_alarms(template: dict[str, Any]):
    r = template["Resources"]
    assert r[OPS_TOPIC]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert r[OPS_TOPIC]["Properties"]["TopicName"] == "sensorflow-ci-ops"
    [policy] = [
        p["Properties"]
        for p in resources_of(template, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": OPS_TOPIC}]
    ]
    allow, deny = policy["PolicyDocument"]["Statement"]
    source = {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:sensorflow-ci-*"
    }
    assert (allow["Effect"], allow["Principal"], allow["Action"]) == (
        "Allow",
        {"Service": "cloudwatch.amazonaws.com"},
        "sns:Publish",
    )
    assert allow["Condition"]["ArnLike"] == {"aws:SourceArn": source}
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})
    # CloudWatch may use the key for the same alarms only
    [grant] = [
        s
        for s in r["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert grant["Condition"]["ArnLike"] == {"aws:SourceArn": source}
    assert set(grant["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    # the email subscription only when the stage sets opsEmail
    email = r[f"{OPS_TOPIC}EmailSubscription"]
    assert (email["Condition"], email["Properties"]["Endpoint"]) == ("HasOpsEmail", {"Ref": "OpsEmail"})
    assert template["Parameters"]["OpsEmail"]["Default"] == ""
    assert template["Conditions"]["HasOpsEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OpsEmail"}, ""]}]}


def test_the_dashboard_shows_every_alarm_and_the_pipeline(template: dict[str, Any]):
    body = dashboard(template)
    [status] = [w for w in body["widgets"] if w["type"] == "alarm"]
    shown_alarms = {arn.rsplit(":", 1)[1] for arn in status["properties"]["alarms"]}
    assert shown_alarms == {p["AlarmName"] for p in alarms_of(template).values()}
    titles = {w["properties"]["title"] for w in body["widgets"] if w["type"] == "metric"}
    assert titles >= DASHBOARD_TITLES
    # every function's duration and errors
    functions = set(resources_of(template, "AWS::Lambda::Function"))
    for metric in ("Duration", "Errors"):
        lines = {dimension_ref(d["FunctionName"]) for ns, n, d in dashboard_metrics(template) if n == metric}
        assert lines == functions, metric
    # widgets do not overlap on the 24-column grid
    cells = [
        (x, y)
        for w in body["widgets"]
        for x in range(w["x"], w["x"] + w["width"])
        for y in range(w["y"], w["y"] + w["height"])
    ]
    assert len(cells) == len(set(cells)) and all(x < 24 for x, _ in cells)
