"""The packaged template's security properties, over every resource of a kind, so that a new function, role,
queue or bucket is covered without anyone listing it here; and the scan gate's own behaviour (the custom
X-Ray policy, the suppressions file).

GIVEN `npx sls package` (offline, no credentials) WHEN the template is read THEN ...
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.packaged import packaged_template

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging

sys.path.insert(0, str(ROOT / ".ci"))
import checkov_scan  # noqa: E402

# Actions AWS offers no resource-level permission for, so `Resource: "*"` is the only form:
# docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html
WILDCARD_RESOURCE_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})
# Buckets that cannot use the data key, with the reason.
BUCKETS_WITHOUT_THE_KEY = {
    # S3 server access logs can be delivered only to an SSE-S3 bucket.
    "AccessLogsBucket": "AES256",
    # osls creates it in the first deploy, before the stack's key exists; it holds the code zips only.
    "ServerlessDeploymentBucket": "AES256",
}
# Data that outlives its stack; the deployment bucket does not (osls empties and removes it).
RETAINED_TYPES = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::Kinesis::Stream",
    "AWS::KMS::Key",
)
NOT_RETAINED = {"ServerlessDeploymentBucket"}
THE_KEY = ({"Ref": "DataKey"}, {"Fn::GetAtt": ["DataKey", "Arn"]})
PUBLISHERS = {"IngestRole", "HeartbeatRole"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return copy.deepcopy(packaged_template("ci"))


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource, statement) for every statement of every role's inline policies and every managed policy."""
    for name, role in resources_of(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                yield name, statement
    for name, policy in resources_of(template, "AWS::IAM::ManagedPolicy").items():
        for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            yield name, statement


def role_logical_id(role: Any) -> str:
    """IngestRole from {"Fn::Sub": "${IngestRole.Arn}"} or {"Fn::GetAtt": ["IngestRole", "Arn"]}."""
    if "Fn::Sub" in role:
        return role["Fn::Sub"].removeprefix("${").removesuffix(".Arn}")
    return role["Fn::GetAtt"][0]


def test_every_function_has_its_own_role(template: dict[str, Any]):
    functions = resources_of(template, "AWS::Lambda::Function")
    roles = {name: role_logical_id(fn["Properties"]["Role"]) for name, fn in functions.items()}
    assert len(set(roles.values())) == len(functions), roles
    assert all(template["Resources"][r]["Type"] == "AWS::IAM::Role" for r in roles.values())
    assert "IamRoleLambdaExecution" not in template["Resources"]


def test_no_identity_policy_grants_a_wildcard_action(template: dict[str, Any]):
    wildcards = [
        (name, action)
        for name, statement in identity_statements(template)
        for action in as_list(statement.get("Action", []))
        if "*" in action
    ]
    assert wildcards == []
    assert not [name for name, statement in identity_statements(template) if "NotAction" in statement]


def test_wildcard_resources_only_for_actions_without_resource_level_permissions(template: dict[str, Any]):
    offenders = [
        (name, statement.get("Sid"), sorted(set(as_list(statement["Action"])) - WILDCARD_RESOURCE_ACTIONS))
        for name, statement in identity_statements(template)
        if statement["Effect"] == "Allow"
        and "*" in as_list(statement.get("Resource"))
        and not set(as_list(statement["Action"])) <= WILDCARD_RESOURCE_ACTIONS
    ]
    assert offenders == []


def test_every_role_grant_of_the_key_is_limited_by_service_and_encryption_context(template: dict[str, Any]):
    grants = [
        (name, s)
        for name, s in identity_statements(template)
        if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    assert {name for name, _ in grants} >= set(resources_of(template, "AWS::IAM::Role"))
    for name, statement in grants:
        conditions = statement.get("Condition", {})
        assert "kms:ViaService" in conditions.get("StringEquals", {}), (name, statement.get("Sid"))
        if name in resources_of(template, "AWS::IAM::Role"):
            keys = {k for operator in conditions.values() for k in operator}
            assert any(k.startswith("kms:EncryptionContext:") for k in keys), (name, statement["Sid"])


def test_key_policy_service_statements_are_scoped_to_our_resources(template: dict[str, Any]):
    [key] = resources_of(template, "AWS::KMS::Key").values()
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        if "Service" not in statement["Principal"]:
            continue
        keys = {k for operator in statement["Condition"].values() for k in operator}
        assert keys & {"aws:SourceArn", "kms:EncryptionContext:aws:logs:arn"}, statement["Sid"]
    [logs] = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Sid"] == "FunctionLogGroups"]
    assert logs["Principal"] == {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}}
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/sensorflow-ci-*"
    assert logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"] == {"Fn::Sub": arn}


def key_of(type_: str, props: dict[str, Any]) -> Any:
    """The KMS key a data store names (None if it names none)."""
    if type_ == "AWS::DynamoDB::Table":
        return props.get("SSESpecification", {}).get("KMSMasterKeyId")
    if type_ == "AWS::S3::Bucket":
        [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        return default.get("KMSMasterKeyID") or default["SSEAlgorithm"]
    if type_ == "AWS::Kinesis::Stream":
        return props.get("StreamEncryption", {}).get("KeyId")
    if type_ == "AWS::Logs::LogGroup":
        return props.get("KmsKeyId")
    return props.get("KmsMasterKeyId")  # SQS queues, SNS topics


def test_every_data_store_names_the_key(template: dict[str, Any]):
    kinds = (
        "AWS::DynamoDB::Table",
        "AWS::S3::Bucket",
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::Kinesis::Stream",
        "AWS::Logs::LogGroup",
    )
    stores = {name: r for name, r in template["Resources"].items() if r["Type"] in kinds}
    assert len(stores) >= 15
    keys = {name: key_of(r["Type"], r["Properties"]) for name, r in stores.items()}
    assert set(BUCKETS_WITHOUT_THE_KEY) <= set(keys)
    assert {n: k for n, k in keys.items() if k not in THE_KEY and BUCKETS_WITHOUT_THE_KEY.get(n) != k} == {}


def test_every_function_logs_to_its_own_log_group_with_retention_and_the_key(template: dict[str, Any]):
    groups = resources_of(template, "AWS::Logs::LogGroup")
    by_name = {g["Properties"]["LogGroupName"]: g["Properties"] for g in groups.values()}
    for fn in resources_of(template, "AWS::Lambda::Function").values():
        assert f"/aws/lambda/{fn['Properties']['FunctionName']}" in by_name
    for props in by_name.values():
        assert isinstance(props.get("RetentionInDays"), int) and props["RetentionInDays"] > 0
        assert props.get("KmsKeyId") == {"Fn::GetAtt": ["DataKey", "Arn"]}


def test_every_function_has_reserved_concurrency_and_active_tracing(template: dict[str, Any]):
    functions = resources_of(template, "AWS::Lambda::Function")
    for name, fn in functions.items():
        props = fn["Properties"]
        assert isinstance(props.get("ReservedConcurrentExecutions"), int), name
        assert props["ReservedConcurrentExecutions"] >= 1, name
        assert props.get("TracingConfig") == {"Mode": "Active"}, name
    assert functions["HeartbeatLambdaFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    # ingest needs one concurrent execution per shard (x parallelizationFactor)
    shards = template["Resources"]["SensorStream"]["Properties"]["ShardCount"]
    assert functions["IngestLambdaFunction"]["Properties"]["ReservedConcurrentExecutions"] >= shards


def denies_insecure_transport(statement: dict[str, Any], action: str) -> bool:
    secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        statement["Effect"] == "Deny"
        and statement["Principal"] == "*"
        and action in as_list(statement["Action"])
        and str(secure).lower() == "false"
    )


def test_every_queue_and_bucket_refuses_plain_http(template: dict[str, Any]):
    tls_queues = {
        q["Ref"]
        for policy in resources_of(template, "AWS::SQS::QueuePolicy").values()
        if any(
            denies_insecure_transport(s, "sqs:*") for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
        for q in policy["Properties"]["Queues"]
    }
    assert tls_queues == set(resources_of(template, "AWS::SQS::Queue"))
    tls_buckets = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in resources_of(template, "AWS::S3::BucketPolicy").values()
        if any(
            denies_insecure_transport(s, "s3:*") for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert tls_buckets == set(resources_of(template, "AWS::S3::Bucket"))
    tls_topics = {
        t["Ref"]
        for policy in resources_of(template, "AWS::SNS::TopicPolicy").values()
        if any(
            denies_insecure_transport(s, "sns:Publish")
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        )
        for t in policy["Properties"]["Topics"]
    }
    assert tls_topics == set(resources_of(template, "AWS::SNS::Topic"))


def test_every_bucket_but_the_log_target_logs_access_and_none_is_public(template: dict[str, Any]):
    buckets = resources_of(template, "AWS::S3::Bucket")
    logging = {
        name: b["Properties"].get("LoggingConfiguration", {}).get("DestinationBucketName")
        for name, b in buckets.items()
    }
    assert logging == {
        name: (None if name == "AccessLogsBucket" else {"Ref": "AccessLogsBucket"}) for name in buckets
    }
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        ), name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name


def test_data_is_retained_and_tables_are_protected(template: dict[str, Any]):
    retained = {
        name: (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy"))
        for kind in RETAINED_TYPES
        for name, r in resources_of(template, kind).items()
        if name not in NOT_RETAINED
    }
    assert len(retained) >= 9
    assert retained == dict.fromkeys(retained, ("Retain", "Retain"))
    for name, table in resources_of(template, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props.get("DeletionProtectionEnabled") is True, name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name


def principal_roles(statement: dict[str, Any]) -> set[str]:
    return {p["Fn::GetAtt"][0] for p in as_list(statement["Principal"]["AWS"])}


def test_only_the_producing_functions_are_allowed_to_publish_by_resource_policy(template: dict[str, Any]):
    # the alert topic's (the ops topic lets only this stage's CloudWatch alarms publish: test_monitoring.py)
    [topic_policy] = [
        p
        for p in resources_of(template, "AWS::SNS::TopicPolicy").values()
        if p["Properties"]["Topics"] == [{"Ref": "AlertsTopic"}]
    ]
    allows = [s for s in topic_policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [(principal_roles(s), s["Action"]) for s in allows] == [(PUBLISHERS, "sns:Publish")]
    [bus_policy] = resources_of(template, "AWS::Events::EventBusPolicy").values()
    statement = bus_policy["Properties"]["Statement"]
    assert (statement["Effect"], principal_roles(statement), statement["Action"]) == (
        "Allow",
        PUBLISHERS,
        "events:PutEvents",
    )
    assert bus_policy["Properties"]["EventBusName"] == "sensorflow-ci-alerts"
    # and the publishers are exactly the roles whose identity policy publishes
    publishing_roles = {
        name
        for name, s in identity_statements(template)
        if name.endswith("Role") and {"sns:Publish", "events:PutEvents"} & set(as_list(s["Action"]))
    }
    assert publishing_roles == PUBLISHERS


# --- the scan gate itself ------------------------------------------------------------------------------


def function(tracing: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Handler": "handlers/x.handler",
        "Runtime": "python3.12",
        "Role": "arn:aws:iam::123456789012:role/x",
        "Code": {"ZipFile": "def handler(event, context): pass"},
    }
    if tracing:
        props["TracingConfig"] = {"Mode": tracing}
    return {"Type": "AWS::Lambda::Function", "Properties": props}


def test_the_custom_policy_fails_a_function_without_active_tracing(tmp_path: Path, capsys):
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Traced": function("Active"),
            "PassThrough": function("PassThrough"),
            "Bare": function(None),
        },
    }
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    config = tmp_path / "checkov.yaml"
    config.write_text("suppressions: []\n")
    assert checkov_scan.main([str(path), "--config", str(config)]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if "CKV_SF_1" in line]
    assert sorted(line.split()[2].rstrip(":") for line in failed) == [
        "AWS::Lambda::Function.Bare",
        "AWS::Lambda::Function.PassThrough",
    ]


def test_a_suppression_of_a_resource_the_template_lacks_fails_the_scan(tmp_path: Path, capsys):
    path = tmp_path / "template.json"
    path.write_text(json.dumps({"Resources": {"Traced": function("Active")}}))
    config = tmp_path / "checkov.yaml"
    config.write_text("suppressions:\n  - {check: CKV_AWS_116, resources: [Gone], reason: it went}\n")
    assert checkov_scan.main([str(path), "--config", str(config)]) == 1
    assert "names Gone, which the template does not have" in capsys.readouterr().err


def test_every_suppression_has_a_one_line_reason():
    suppressions = checkov_scan.load_suppressions(checkov_scan.DEFAULT_CONFIG)
    assert suppressions and all(s.reason and "\n" not in s.reason for s in suppressions)
    assert len({(s.check, s.resource) for s in suppressions}) == len(suppressions)
