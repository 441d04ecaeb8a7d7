"""`npx sls package` works offline with no AWS credentials, and the template has what we rely on."""

from __future__ import annotations

import copy
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.integration.packaged import packaged_dir, packaged_template

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging

REQUIRED_OUTPUTS = {
    "SensorStreamName",
    "SensorStreamArn",
    "AlertsTopicArn",
    "AlertsEventBusName",
    "DeviceTableName",
    "ReadingsBucketName",
    "QuarantineBucketName",
    "FailureQueueUrl",
    "AlarmsTableName",
    "IncidentsTableName",
}


@pytest.fixture(scope="module")
def packaged() -> Path:
    return packaged_dir("ci")


@pytest.fixture(scope="module")
def template() -> dict:
    return copy.deepcopy(packaged_template("ci"))


def resources_of(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def test_stream_event_settings_are_explicit_and_bounded(template: dict):
    [esm] = [
        m
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if "StartingPosition" in m["Properties"]  # the stream's; the failure queue's is below
    ]
    assert esm["Properties"]["FunctionName"] == {"Fn::GetAtt": ["IngestLambdaFunction", "Arn"]}
    p = esm["Properties"]
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["BisectBatchOnFunctionError"] is True
    assert p["StartingPosition"] == "TRIM_HORIZON"
    assert 1 <= p["BatchSize"] <= 10_000
    assert 0 <= p["MaximumBatchingWindowInSeconds"] <= 300
    assert 0 <= p["MaximumRetryAttempts"] <= 10_000  # never -1 (infinite)
    assert 60 <= p["MaximumRecordAgeInSeconds"] <= 604_800
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["IngestFailureQueue", "Arn"]}


def test_ingest_function_runtime(template: dict):
    fn = template["Resources"]["IngestLambdaFunction"]["Properties"]
    assert (fn["Runtime"], fn["Architectures"], fn["Handler"]) == (
        "python3.12",
        ["arm64"],
        "handlers/ingest.handler",
    )
    assert fn["FunctionName"] == "sensorflow-ci-ingest"


def test_alarm_functions_and_their_triggers(template: dict):
    r = template["Resources"]
    handlers = {
        v["Properties"]["FunctionName"]: v["Properties"]["Handler"]
        for v in resources_of(template, "AWS::Lambda::Function").values()
    }
    assert handlers == {
        "sensorflow-ci-ingest": "handlers/ingest.handler",
        "sensorflow-ci-notify": "handlers/notify.handler",
        "sensorflow-ci-incidents": "handlers/incidents.handler",
        "sensorflow-ci-heartbeat": "handlers/heartbeat.handler",
        "sensorflow-ci-failures": "handlers/failures.handler",
    }
    [notify_sub] = [
        v["Properties"]
        for v in resources_of(template, "AWS::SNS::Subscription").values()
        if v["Properties"]["Protocol"] == "lambda"
    ]
    assert notify_sub["Endpoint"] == {"Fn::GetAtt": ["NotifyLambdaFunction", "Arn"]}
    assert r["HeartbeatEventsRuleSchedule1"]["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    [gsi] = r["AlarmsTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert (gsi["IndexName"], gsi["Projection"]) == ("stale-due", {"ProjectionType": "KEYS_ONLY"})
    for fn in ("Notify", "Incidents"):
        conf = r[f"{fn}LambdaEvConf"]["Properties"]
        assert conf["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["ConsumerFailureQueue", "Arn"]
        }
    # the webhook URL is never in the environment: only the name of its SSM parameter
    env = r["NotifyLambdaFunction"]["Properties"]["Environment"]["Variables"]
    assert env["WEBHOOK_URL_PARAMETER"] == "/sensorflow/ci/webhook-url"
    assert not any("hooks." in str(v) or "http" in str(v) for v in env.values())


def test_the_failures_function_consumes_the_ingest_failure_queue(template: dict):
    r = template["Resources"]
    [esm] = [
        m["Properties"]
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["IngestFailureQueue", "Arn"]}
    ]
    assert esm["FunctionName"] == {"Fn::GetAtt": ["FailuresLambdaFunction", "Arn"]}
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (esm["BatchSize"], esm.get("MaximumBatchingWindowInSeconds", 0)) == (10, 0)
    queue = r["IngestFailureQueue"]["Properties"]
    # Lambda wants the queue's visibility timeout >= the function's timeout (6x advised)
    assert queue["VisibilityTimeout"] >= 6 * r["FailuresLambdaFunction"]["Properties"]["Timeout"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["IngestFailureDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert actions_of(template, "FailuresRole") == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
        "s3:PutObject",
        "kms:Decrypt",
        "kms:GenerateDataKey",
    }
    [put] = [
        st
        for st in r["FailuresRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        if st["Action"] == "s3:PutObject"
    ]
    assert put["Resource"]["Fn::Join"][1][1] == "/quarantine/retries_exhausted/*"


def actions_of(template: dict, role: str) -> set[str]:
    [policy] = template["Resources"][role]["Properties"]["Policies"]
    out: set[str] = set()
    for statement in policy["PolicyDocument"]["Statement"]:
        actions = statement["Action"]
        out |= {actions} if isinstance(actions, str) else set(actions)
    return out


def test_each_function_has_its_own_least_privilege_role(template: dict):
    r = template["Resources"]
    roles = {
        name: r[f"{name}LambdaFunction"]["Properties"]["Role"]
        for name in ("Ingest", "Notify", "Incidents", "Heartbeat", "Failures")
    }
    assert roles == {name: {"Fn::Sub": f"${{{name}Role.Arn}}"} for name in roles}
    assert "IamRoleLambdaExecution" not in r  # no shared role with the union of permissions
    assert "kinesis:GetRecords" in actions_of(template, "IngestRole")
    assert "s3:PutObject" in actions_of(template, "IngestRole")
    for name in ("NotifyRole", "IncidentsRole", "HeartbeatRole"):
        assert not {a for a in actions_of(template, name) if a.startswith("kinesis:")}
    for name in ("NotifyRole", "IncidentsRole"):
        assert not {a for a in actions_of(template, name) if a.startswith("s3:")}
    # heartbeat writes only transitions too large to publish, and only under quarantine/transitions/
    [statement] = [
        st
        for st in template["Resources"]["HeartbeatRole"]["Properties"]["Policies"][0]["PolicyDocument"][
            "Statement"
        ]
        if str(st["Action"]).startswith("s3:")
    ]
    assert (statement["Action"], statement["Resource"]["Fn::Join"][1][1]) == (
        "s3:PutObject",
        "/quarantine/transitions/*",
    )
    assert "ssm:GetParameter" in actions_of(template, "NotifyRole")
    assert not any(
        a.startswith("ssm:")
        for a in actions_of(template, "IngestRole") | actions_of(template, "HeartbeatRole")
    )
    assert {"dynamodb:Query"} & actions_of(template, "HeartbeatRole") == {"dynamodb:Query"}
    assert not any(
        a.endswith("*") and a.split(":")[1] == "*"
        for role in roles
        for a in actions_of(template, f"{role}Role")
    )


def test_data_at_rest_is_encrypted(template: dict):
    r = template["Resources"]
    assert r["SensorStream"]["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"
    assert "KmsMasterKeyId" in r["AlertsTopic"]["Properties"]
    for q in resources_of(template, "AWS::SQS::Queue").values():
        assert "KmsMasterKeyId" in q["Properties"]
    for table in resources_of(template, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["SSESpecification"]["SSEEnabled"] is True
    for name in ("ReadingsBucket", "QuarantineBucket"):
        props = r[name]["Properties"]
        assert (
            props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
                "ServerSideEncryptionByDefault"
            ]["SSEAlgorithm"]
            == "aws:kms"
        )
        assert all(props["PublicAccessBlockConfiguration"].values())
        policy = r[f"{name}Policy"]["Properties"]["PolicyDocument"]["Statement"][0]
        assert policy["Effect"] == "Deny" and policy["Condition"] == {
            "Bool": {"aws:SecureTransport": "false"}
        }


def test_outputs_other_tools_rely_on(template: dict):
    assert set(template["Outputs"]) >= REQUIRED_OUTPUTS


def test_names_derive_from_service_and_stage(template: dict):
    r = template["Resources"]
    assert r["SensorStream"]["Properties"]["Name"] == "sensorflow-ci-readings"
    assert r["DeviceTable"]["Properties"]["TableName"] == "sensorflow-ci-devices"
    assert r["AlertsEventBus"]["Properties"]["Name"] == "sensorflow-ci-alerts"


def test_zip_holds_only_what_runs_in_lambda(packaged: Path):
    names = zipfile.ZipFile(packaged / "sensorflow.zip").namelist()
    assert "handlers/ingest.py" in names and "sensorflow/core/decode.py" in names
    assert "schemas/sensorflow.SensorReading.avsc" in names and "sensorflow/rules.json" in names
    leaked = [
        n
        for n in names
        if n.startswith(
            (
                "tests/",
                "node_modules/",
                "events/",
                ".venv/",
                "sensorflow/simulate/",
                "sensorflow/localcloud/",
                "sensorflow/cli/",
                "sensorflow/planner/",
                "sensorflow/monitoring/",
                "boto3/",
                "botocore/",
                "moto/",
            )
        )
    ]
    assert leaked == []
    # every product module is there: the zip is the product package minus the tool folders
    product = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "sensorflow").rglob("*.py")
        if not str(p.relative_to(ROOT)).startswith(
            (
                "sensorflow/cli/",
                "sensorflow/simulate/",
                "sensorflow/localcloud/",
                "sensorflow/planner/",
                "sensorflow/monitoring/",
            )
        )
    }
    assert sorted(product - set(names)) == []
    # Linux arm64 wheels, not the build machine's
    so = [n for n in names if n.endswith(".so")]
    assert so and all("aarch64" in n for n in so)


def test_template_passes_cfn_lint(packaged: Path):
    proc = subprocess.run(
        [str(ROOT / ".venv/bin/cfn-lint"), str(packaged / "cloudformation-template-update-stack.json")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_names_line_up_from_the_template_to_the_code_and_the_samples(template: dict):
    # function <name> -> handlers/<name>.py -> sensorflow/services/<name>.py -> events/<name>-*.json
    functions = resources_of(template, "AWS::Lambda::Function").values()
    handlers = sorted(f["Properties"]["Handler"] for f in functions)
    assert handlers == [
        f"handlers/{n}.handler" for n in ("failures", "heartbeat", "incidents", "ingest", "notify")
    ]
    for handler in handlers:
        name = handler.split("/")[1].split(".")[0]
        assert (ROOT / "handlers" / f"{name}.py").is_file()
        assert (ROOT / "sensorflow" / "services" / f"{name}.py").is_file()
        assert sorted((ROOT / "events").glob(f"{name}-*.json")), f"no sample event events/{name}-*.json"
