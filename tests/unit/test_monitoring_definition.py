"""sensorflow/monitoring: what it reads from serverless.yml and from the code, and the committed file.

GIVEN a serverless.yml or a code tree WHEN the monitoring reads it THEN ... (no packaging, no AWS).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from scripts import monitoring as generator
from sensorflow.monitoring import Emitted, alarms, emitted_metrics, read_stack
from sensorflow.monitoring.alarm_definitions import GENERIC_ERROR_EFFECT, not_running_alarm
from sensorflow.monitoring.stack_facts import Function, logical_id

ROOT = Path(__file__).resolve().parents[2]

SERVERLESS = """
service: demo
provider:
  name: aws
  environment: {POWERTOOLS_METRICS_NAMESPACE: ns, POWERTOOLS_SERVICE_NAME: svc}
functions:
  ingest:
    handler: handlers/ingest.handler
    events:
      - stream:
          type: kinesis
          arn: !GetAtt Stream.Arn
          destinations: {onFailure: {arn: !GetAtt OnFailure.Arn, type: sqs}}
  notify-team:
    handler: handlers/notify.handler
    destinations: {onFailure: {type: sqs, arn: !Sub "${AsyncFailures.Arn}"}}
    onError: !GetAtt FunctionDlq.Arn
    events:
      - sns: {arn: !Ref Topic, redrivePolicy: {deadLetterTargetArn: !GetAtt SubscriptionDlq.Arn}}
  tick:
    handler: handlers/tick.handler
    events:
      - schedule: rate(10 minutes)
      - schedule: rate(3 minutes)
resources:
- ${file(resources/monitoring.yml)}
-
  Resources:
    Stream: {Type: AWS::Kinesis::Stream}
    OnFailure:
      Type: AWS::SQS::Queue
      Properties: {RedrivePolicy: {deadLetterTargetArn: !GetAtt OnFailureDlq.Arn, maxReceiveCount: 5}}
    OnFailureDlq: {Type: AWS::SQS::Queue}
    AsyncFailures: {Type: AWS::SQS::Queue}
    FunctionDlq: {Type: AWS::SQS::Queue}
    SubscriptionDlq: {Type: AWS::SQS::Queue}
    Unrelated: {Type: AWS::SQS::Queue}
    Topic: {Type: AWS::SNS::Topic}
    Devices: {Type: AWS::DynamoDB::Table}
"""


def test_the_committed_monitoring_file_is_the_generated_one():
    # GIVEN serverless.yml and sensorflow/monitoring as they are now
    # THEN resources/monitoring.yml holds exactly what scripts/monitoring.py writes
    committed = (ROOT / "resources" / "monitoring.yml").read_text(encoding="utf-8")
    assert committed == generator.generated(), (
        "resources/monitoring.yml is stale: run `.venv/bin/python scripts/monitoring.py`"
    )


def test_the_stack_facts_come_from_serverless_yml(tmp_path: Path):
    # GIVEN a serverless.yml sending failures to queues in every way osls and CloudFormation allow
    path = tmp_path / "serverless.yml"
    path.write_text(SERVERLESS)
    # WHEN it is read
    facts = read_stack(path)
    # THEN every function, every queue that receives failures (and only those) and every table is found
    assert facts.functions == (
        Function("ingest", "IngestLambdaFunction", reads_stream=True, schedule_seconds=None),
        Function("notify-team", "NotifyDashteamLambdaFunction", reads_stream=False, schedule_seconds=None),
        Function("tick", "TickLambdaFunction", reads_stream=False, schedule_seconds=180),
    )
    assert facts.failure_queues == (
        "AsyncFailures",
        "FunctionDlq",
        "OnFailure",
        "OnFailureDlq",
        "SubscriptionDlq",
    )
    assert (facts.tables, facts.namespace, facts.service_dimension) == (("Devices",), "ns", "svc")


def test_a_new_function_and_queue_get_their_alarms(tmp_path: Path):
    # GIVEN the stack above (functions unknown to the definition's per-function texts)
    path = tmp_path / "serverless.yml"
    path.write_text(SERVERLESS)
    by_id = {a.logical_id: a for a in alarms(read_stack(path))}
    # THEN each function has Errors and Throttles, the stream reader its age, the scheduled one "not running"
    for fn in ("Ingest", "NotifyDashteam", "Tick"):
        assert {f"{fn}ErrorsAlarm", f"{fn}ThrottlesAlarm"} <= set(by_id)
    assert GENERIC_ERROR_EFFECT in by_id["NotifyDashteamErrorsAlarm"].description
    assert {"IngestIteratorAgeAlarm", "TickNotRunningAlarm", "SubscriptionDlqDepthAlarm"} <= set(by_id)
    assert "IngestNotRunningAlarm" not in by_id and "UnrelatedDepthAlarm" not in by_id
    assert by_id["TickNotRunningAlarm"].period == 360  # two of its shortest schedule's periods
    assert by_id["SubscriptionDlqDepthAlarm"].suffix == "subscription-dlq-depth"


@given(st.integers(min_value=1, max_value=86_400))
def test_not_running_waits_for_two_runs_and_at_least_five_minutes(every_seconds: int):
    window = not_running_alarm(Function("f", "FLambdaFunction", False, every_seconds), every_seconds).period
    assert window % 60 == 0 and window >= max(300, 2 * every_seconds)
    assert window < max(300, 2 * every_seconds) + 60


def test_logical_ids_follow_osls_naming():
    assert logical_id("ingest") == "IngestLambdaFunction"
    assert logical_id("my-fn_2") == "MyDashfnUnderscore2LambdaFunction"


CODE = {
    "sensorflow/observability.py": """
        NAMESPACE = "ns"
        SERVICE = "svc"
        metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
    """,
    "sensorflow/services/a.py": """
        from sensorflow.observability import NAMESPACE, SERVICE, metrics

        def record(outcome):
            metrics.add_metric(name="Plain", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name=f"Made{outcome}", unit=MetricUnit.Count, value=1)
            with single_metric(name="ByReason", unit="Count", value=1, namespace=NAMESPACE,
                               default_dimensions={"service": SERVICE}) as m:
                m.add_dimension(name="reason", value="x")
            _by("Helped", "kind", {})

        def _by(name, dimension, counts):
            for value, count in counts.items():
                with single_metric(name=name, unit="Count", value=count, namespace=NAMESPACE,
                                   default_dimensions={"service": SERVICE}) as metric:
                    metric.add_dimension(name=dimension, value=value)
    """,
    "handlers/h.py": """
        metrics.add_metric(name="FromHandler", unit="Count", value=1)
    """,
    "sensorflow/cli/tool.py": """
        metrics.add_metric(name="NotShipped", unit="Count", value=1)
    """,
}


def test_the_emitted_metrics_are_read_from_the_shipped_code(tmp_path: Path):
    # GIVEN a code tree emitting every way Powertools allows, and a tool that is not shipped
    for name, text in CODE.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))
    # WHEN its metrics are read
    # THEN each name comes with its namespace and dimension names; the f-string keeps a wildcard
    svc = frozenset({"service"})
    assert emitted_metrics(tmp_path) == {
        Emitted("ns", "Plain", svc),
        Emitted("ns", "Made*", svc),
        Emitted("ns", "FromHandler", svc),
        Emitted("ns", "ByReason", svc | {"reason"}),
        Emitted("ns", "Helped", svc | {"kind"}),
    }


def test_the_real_code_emits_the_ingest_metrics():
    emitted = emitted_metrics(ROOT)
    assert Emitted("sensorflow", "RecordsReceived", frozenset({"service"})) in emitted
    assert Emitted("sensorflow", "RecordsQuarantinedByReason", frozenset({"service", "reason"})) in emitted
