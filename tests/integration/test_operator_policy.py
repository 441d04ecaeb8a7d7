"""The stack's ``OperatorPolicy`` is exactly what the operator CLIs call: nothing missing, nothing spare.

moto does not enforce IAM, so the check is by recording: every command of ``sensorflow alarms``,
``sensorflow silences`` and ``sensorflow quarantine`` runs in-process against moto, botocore's
``before-parameter-build`` event noting each operation and the resource it names; the policy comes from the
packaged template. Each call must be allowed by a statement naming that resource, and each statement's
action on its resource must have been called (an S3 object call is recorded against its bucket and the
key's first segment, ``QuarantineBucket/redrives/*``). KMS is called by DynamoDB, SNS, S3 and Kinesis on the
caller's behalf, so the calls on a resource the template encrypts with a key require that key, through
that service (``kms:ViaService``) for that resource (its encryption context), and no other.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

import sensorflow
from sensorflow.adapters.s3_quarantine import S3QuarantineSink
from sensorflow.cli import alarms_command, quarantine_command, silences_command
from sensorflow.cli import main as cli
from sensorflow.cli.operator import aws_session
from sensorflow.core.decode import encode_reading
from sensorflow.core.ports import QuarantineEntry
from tests.factories import reading
from tests.integration.conftest import REGION, STAGE, Stack
from tests.integration.packaged import packaged_template
from tests.integration.test_alarms import ALARM, raise_alarm

pytestmark = pytest.mark.packaging

POLICY = "OperatorPolicy"
TEMPLATE_STAGE = "ci"  # packaged_template()'s stage; the moto stack below is STAGE's
# Operations whose IAM action has another name. Source: the Service Authorization Reference,
# docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html (PublishBatch -> Publish).
# docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html (ListObjectsV2 -> ListBucket).
IAM_ACTION = {"sns:PublishBatch": "sns:Publish", "s3:ListObjectsV2": "s3:ListBucket"}
# No permission is checked: docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
NO_PERMISSION = {"sts:GetCallerIdentity"}
# What a service calls KMS for, on the caller's behalf, to read and write data under a customer key.
# Sources: docs.aws.amazon.com/sns/latest/dg/sns-key-management.html (publishers need GenerateDataKey*
# and Decrypt); docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html.
KMS_ACTIONS = {"kms:Decrypt", "kms:GenerateDataKey"}
# Calls that need less: S3 reads decrypt and writes generate a data key, listing uses no key
# (docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html); a Kinesis producer only
# generates (docs.aws.amazon.com/streams/latest/dev/permissions-user-key-KMS.html).
KMS_FOR_CALL = {
    "s3:ListBucket": set(),
    "s3:GetObject": {"kms:Decrypt"},
    "s3:PutObject": {"kms:GenerateDataKey"},
    "kinesis:PutRecord": {"kms:GenerateDataKey"},
}
# The encryption context each service passes to KMS, which names the resource (conditions-kms.html).
ENCRYPTION_CONTEXT = {
    "dynamodb": "kms:EncryptionContext:aws:dynamodb:tableName",
    "sns": "kms:EncryptionContext:aws:sns:topicArn",
    "s3": "kms:EncryptionContext:aws:s3:arn",  # the bucket ARN: the buckets use S3 Bucket Keys
    "kinesis": "kms:EncryptionContext:aws:kinesis:arn",
}
ACCOUNT = "123456789012"  # moto's
STACK = "AWS::StackId"
STREAM = f"sensorflow-{STAGE}-readings"
QUARANTINED = "quarantine/year=2026/month=11/day=29/shardId-000000000000/1.jsonl"
RULES_FILE = Path(sensorflow.__file__).parent / "rules.json"


@dataclass(frozen=True, slots=True)
class Call:
    action: str  # the IAM action, e.g. dynamodb:GetItem
    resource: str  # the template's logical id of what it names, or STACK


def _names(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """``(service, physical name on the moto stage) -> logical id`` for the template's named resources."""
    name_property = {
        "AWS::DynamoDB::Table": ("dynamodb", "TableName"),
        "AWS::SNS::Topic": ("sns", "TopicName"),
        "AWS::Events::EventBus": ("events", "Name"),
        "AWS::S3::Bucket": ("s3", "BucketName"),
        "AWS::Kinesis::Stream": ("kinesis", "Name"),
    }
    out = {("cloudformation", f"sensorflow-{STAGE}"): STACK}
    for logical, resource in template["Resources"].items():
        if resource["Type"] in name_property:
            service, prop = name_property[resource["Type"]]
            name = resource["Properties"].get(prop)
            if isinstance(name, dict) and isinstance(name.get("Fn::Sub"), str):
                name = name["Fn::Sub"].replace("${AWS::AccountId}", ACCOUNT).replace("${AWS::Region}", REGION)
            if isinstance(name, str):
                out[(service, name.replace(f"sensorflow-{TEMPLATE_STAGE}-", f"sensorflow-{STAGE}-"))] = (
                    logical
                )
    return out


def _targets(service: str, params: dict[str, Any]) -> list[str]:
    """The physical names an API call names (a table, a topic, a bus, a stack)."""
    if service == "dynamodb":
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
        return [f"{t}/index/{params['IndexName']}" if "IndexName" in params else t for t in tables]
    if service == "sns":
        return [params["TopicArn"].rsplit(":", 1)[-1]]
    if service == "events":
        return sorted({e.get("EventBusName", "default") for e in params["Entries"]})
    if service == "cloudformation":
        return [params["StackName"]]
    if service == "s3":
        return [f"{params['Bucket']}/{params['Key']}" if "Key" in params else params["Bucket"]]
    if service == "kinesis":
        return [params["StreamName"]]
    return []


class Recorder:
    """Every AWS call made through the sessions it is attached to, as :class:`Call` values."""

    def __init__(self, names: dict[tuple[str, str], str]) -> None:
        self.names = names
        self.calls: set[Call] = set()
        self.free: set[str] = set()

    def attach(self, session: Any) -> Any:
        session.events.register("before-parameter-build", self._before_parameter_build)
        return session

    def _before_parameter_build(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.signing_name
        operation = f"{service}:{model.name}"
        if operation in NO_PERMISSION:
            self.free.add(operation)
            return
        action = IAM_ACTION.get(operation, operation)
        for target in _targets(service, params):
            # an unknown name stays as it is: no statement names it, so the test reports it
            name, _, key = target.partition("/") if service == "s3" else (target, "", "")
            logical = self.names.get((service, name), f"{service}:{name}")
            self.calls.add(Call(action, f"{logical}/{key.split('/')[0]}/*" if key else logical))


def _logical_id(resource: Any) -> str:
    if resource == {"Ref": STACK}:
        return STACK
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    if isinstance(resource, dict) and resource.get("Fn::GetAtt", [None, None])[1] == "Arn":
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Join" in resource:  # [!GetAtt Bucket.Arn, "/prefix/*"]
        sep, (arn, suffix) = resource["Fn::Join"]
        assert sep == "" and isinstance(suffix, str) and suffix.startswith("/"), resource
        return _logical_id(arn) + suffix
    raise AssertionError(f"the operator policy names a resource this test cannot read: {resource}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    policy = template["Resources"][POLICY]
    assert policy["Type"] == "AWS::IAM::ManagedPolicy"
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Effect"] == "Allow" and "NotAction" not in s and "NotResource" not in s for s in statements)
    return statements


def granted(template: dict[str, Any]) -> set[Call]:
    """What the policy allows outside KMS, as ``(action, resource)`` pairs."""
    return {
        Call(action, _logical_id(resource))
        for s in _statements(template)
        for action in _as_list(s["Action"])
        if not action.startswith("kms:")
        for resource in _as_list(s["Resource"])
    }


def kms_grants(template: dict[str, Any]) -> dict[str, set[tuple[str, str, str]]]:
    """``key logical id -> {(KMS action, service of kms:ViaService, resource of its encryption context)}``.
    A grant without both conditions fails the test: it would let the holder use the key for anything."""
    out: dict[str, set[tuple[str, str, str]]] = {}
    for s in _statements(template):
        actions = {a for a in _as_list(s["Action"]) if a.startswith("kms:")}
        if not actions:
            continue
        equals = dict(s.get("Condition", {}).get("StringEquals", {}))
        via = equals.pop("kms:ViaService", None)
        service, _, rest = (via.get("Fn::Sub", "") if isinstance(via, dict) else "").partition(".")
        assert rest == "${AWS::Region}.amazonaws.com", (
            f"{s.get('Sid')}: kms:ViaService {via} is not one service"
        )
        [(context_key, values)] = [
            (k, v) for k, v in equals.items() if k.startswith("kms:EncryptionContext:")
        ]
        assert context_key == ENCRYPTION_CONTEXT[service], f"{s.get('Sid')}: {context_key}"
        for resource in _as_list(s["Resource"]):
            out.setdefault(_logical_id(resource), set()).update(
                (action, service, _logical_id(v)) for action in actions for v in _as_list(values)
            )
    return out


def key_of(template: dict[str, Any], logical: str) -> str | None:
    """The logical id of the KMS key the template encrypts ``logical`` with, if any."""
    props = template["Resources"].get(logical.split("/", 1)[0], {}).get("Properties", {})
    by_default = [
        rule.get("ServerSideEncryptionByDefault", {})
        for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    ]
    ref = (
        props.get("KmsMasterKeyId")
        or props.get("SSESpecification", {}).get("KMSMasterKeyId")
        or props.get("StreamEncryption", {}).get("KeyId")
        or next((d["KMSMasterKeyID"] for d in by_default if "KMSMasterKeyID" in d), None)
    )
    return _logical_id(ref) if ref else None


def kms_needed(template: dict[str, Any], calls: set[Call]) -> dict[str, set[tuple[str, str, str]]]:
    """The KMS use the calls imply: ``key -> {(KMS action, service calling it for us, resource)}``."""
    out: dict[str, set[tuple[str, str, str]]] = {}
    for call in calls:
        key = key_of(template, call.resource)
        actions = KMS_FOR_CALL.get(call.action, KMS_ACTIONS)
        if key is not None and actions:
            service = call.action.split(":", 1)[0]
            resource = call.resource.split("/", 1)[0]  # an object's context is its bucket (Bucket Keys)
            out.setdefault(key, set()).update((a, service, resource) for a in actions)
    return out


# --- running every operator command -----------------------------------------------------------------


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return packaged_template(TEMPLATE_STAGE)


@pytest.fixture
def recorded(stack: Stack, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "AlarmsTableName": {"Value": stack.settings.alarms_table},
                    "AlertsTopicArn": {"Value": stack.settings.alerts_topic_arn},
                    "AlertsEventBusName": {"Value": stack.settings.alerts_event_bus},
                    "QuarantineBucketName": {"Value": stack.settings.quarantine_bucket},
                    "SensorStreamName": {"Value": STREAM},
                },
            }
        ),
    )
    boto3.client("kinesis", region_name=REGION).create_stream(StreamName=STREAM, ShardCount=1)
    monkeypatch.setenv("USER", "ana")
    recorder = Recorder(_names(template))
    for module in (alarms_command, silences_command, quarantine_command):
        monkeypatch.setattr(module, "aws_session", lambda region: recorder.attach(aws_session(region)))
    yield recorder


def run(*argv: str) -> None:
    assert cli.main([*argv, "--stage", STAGE]) == 0, argv


def run_every_operator_command(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    raise_alarm(stack)  # through the ingest path's adapters, not recorded
    run("alarms", "list")
    run("alarms", "list", "--all", "--json")
    run("alarms", "ack", ALARM, "--note", "on my way")
    run("alarms", "snooze", ALARM, "--for", "30m")
    run("alarms", "reset", ALARM)
    run("alarms", "disable", ALARM, "--reason", "sensor swap", "--for", "1d")
    run("alarms", "enable", ALARM)
    run("silences", "add", "--match", "device_id=dev-00001", "--for", "1h", "--comment", "calibration")
    run("silences", "list", "--all", "--json")
    silence_id = json.loads(capsys.readouterr().out.splitlines()[-1])["silence_id"]
    run("silences", "expire", silence_id)
    S3QuarantineSink(stack.settings.quarantine_bucket, stack.clients["s3"]).write(  # as ingest would
        QUARANTINED,
        [
            QuarantineEntry(
                "unknown_device",
                "not registered",
                encode_reading(reading(device_id="ghost-00001")),
                "ghost-00001",
                "1",
                "shardId-000000000000",
                1_796_000_000_000,
            )
        ],
    )
    run("quarantine", "list", "--since", "30d")
    run("quarantine", "redrive", f"{QUARANTINED}#0")
    run("quarantine", "redrive", "--reason", "unknown_device")  # refused: reads the ledger
    run("quarantine", "show", f"{QUARANTINED}#0", "--json")


def test_every_call_of_the_operator_commands_is_allowed_and_every_grant_is_called(
    recorded: Recorder, stack: Stack, template: dict[str, Any], capsys: pytest.CaptureFixture[str]
):
    # WHEN every alarms and silences command runs against the stage
    run_every_operator_command(stack, capsys)
    # THEN they called exactly what the policy grants, on the resources it names
    assert sorted(recorded.calls, key=str) == sorted(granted(template), key=str)
    assert recorded.free == {"sts:GetCallerIdentity"}
    # and the data key only through the services that read and write under it for the caller
    assert kms_grants(template) == kms_needed(template, recorded.calls)


def test_the_calls_are_the_ones_a_reviewer_expects(recorded: Recorder, stack: Stack, capsys):
    # GIVEN / WHEN every operator command
    run_every_operator_command(stack, capsys)
    # THEN (a pinned list, so a new call shows up in review next to the policy change it needs)
    assert sorted((c.action, c.resource) for c in recorded.calls) == [
        ("cloudformation:DescribeStacks", STACK),
        ("dynamodb:BatchGetItem", "AlarmsTable"),
        ("dynamodb:GetItem", "AlarmsTable"),
        ("dynamodb:PutItem", "AlarmsTable"),
        ("dynamodb:Scan", "AlarmsTable"),
        ("dynamodb:UpdateItem", "AlarmsTable"),
        ("events:PutEvents", "AlertsEventBus"),
        ("kinesis:PutRecord", "SensorStream"),
        ("s3:GetObject", "QuarantineBucket/quarantine/*"),
        ("s3:GetObject", "QuarantineBucket/redrives/*"),
        ("s3:ListBucket", "QuarantineBucket"),
        ("s3:PutObject", "QuarantineBucket/redrives/*"),
        ("sns:Publish", "AlertsTopic"),
    ]


def test_rules_check_calls_nothing(recorded: Recorder, monkeypatch: pytest.MonkeyPatch):
    # GIVEN any boto3 session built by the CLI is recorded
    monkeypatch.setattr(boto3.session, "Session", _recording_session(recorded))
    # WHEN the packaged rules are checked
    assert cli.main(["rules", "check", str(RULES_FILE)]) == 0
    # THEN no AWS call was made: the policy needs nothing for it
    assert recorded.calls == set() and recorded.free == set()


def _recording_session(recorder: Recorder) -> Any:
    real = boto3.session.Session

    def session(*args: Any, **kwargs: Any) -> Any:
        return recorder.attach(real(*args, **kwargs))

    return session


def test_the_recorder_sees_a_call_the_policy_does_not_grant(recorded: Recorder, template: dict[str, Any]):
    # GIVEN a recorded session (the check fails when the CLI grows a call the policy lacks)
    session = recorded.attach(boto3.session.Session(region_name=REGION))
    # WHEN something queries the heartbeat's index
    session.client("dynamodb").query(
        TableName=f"sensorflow-{STAGE}-alarms",
        IndexName="stale-due",
        KeyConditionExpression="stale_bucket = :b",
        ExpressionAttributeValues={":b": {"S": "x"}},
    )
    # THEN it is recorded against the index, which the operator policy does not grant
    assert recorded.calls == {Call("dynamodb:Query", f"dynamodb:sensorflow-{STAGE}-alarms/index/stale-due")}
    assert not recorded.calls <= granted(template)
