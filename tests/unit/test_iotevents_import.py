"""``sensorflow rules import-iotevents``: IoT Events alarm models become rules that pass ``rules check``.

Hand-written ``describe-alarm-model`` documents and CloudFormation templates go through the real CLI;
the output is parsed by the function's own rule parser (``parse_rule_book``) and by ``rules check``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sensorflow.cli import iotevents
from sensorflow.cli import main as cli
from sensorflow.config import SENSOR_TYPES
from sensorflow.core.rules import parse_rule_book

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "iotevents"
EXAMPLE_ARGS = [
    str(EXAMPLES / "alarm-models.json"),
    str(EXAMPLES / "template.yaml"),
    "--map",
    "$input.PumpInput.payload.vib_rms=vibration",
    "--allow-partial",
]


def model(
    name: str = "BoilerTempHigh",
    *,
    operator: str = "GREATER",
    threshold: str = "80",
    prop: str = "$input.TemperatureInput.sensorData.temperature",
    severity: int | str | None = 1,
    ack: bool | None = True,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "alarmModelName": name,
        "alarmModelArn": f"arn:aws:iotevents:eu-west-1:123456789012:alarmModel/{name}",
        "alarmModelVersion": "1",
        "status": "ACTIVE",
        "roleArn": "arn:aws:iam::123456789012:role/iotevents",
        "key": "$input.TemperatureInput.sensorData.deviceId",
        "alarmRule": {
            "simpleRule": {"inputProperty": prop, "comparisonOperator": operator, "threshold": threshold}
        },
        **extra,
    }
    if severity is not None:
        doc["severity"] = severity
    if ack is not None:
        doc["alarmCapabilities"] = {"acknowledgeFlow": {"enabled": ack}}
    return doc


def write(tmp_path: Path, name: str, doc: Any) -> str:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], dict]:
    """Run the import with ``--out`` and ``--json``: (exit code, the rules document, the JSON report)."""
    out = tmp_path / "rules.json"
    code = cli.main(["rules", "import-iotevents", *args, "--out", str(out), "--json"])
    report = json.loads(capsys.readouterr().out)
    return code, json.loads(out.read_text(encoding="utf-8")), report


def by_item(report: dict, model_name: str) -> dict[str, dict]:
    return {f["item"]: f for f in report["findings"] if f["model"] == model_name}


# --- the simple rule ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operator", "op"),
    [
        ("GREATER", ">"),
        ("GREATER_OR_EQUAL", ">="),
        ("LESS", "<"),
        ("LESS_OR_EQUAL", "<="),
        ("EQUAL", "=="),
        ("NOT_EQUAL", "!="),
    ],
)
def test_each_comparison_operator_becomes_its_comparison_level(tmp_path, capsys, operator, op):
    # GIVEN an alarm model with that operator
    path = write(tmp_path, "m.json", model(operator=operator, threshold="42.5"))
    # WHEN it is imported
    code, doc, report = run(tmp_path, capsys, path)
    # THEN the one rule raises at the comparison, and the function's parser accepts it
    assert code == 0 and report["complete"] is True
    assert doc == {
        "version": 2,
        "rules": [
            {
                "id": "boilertemphigh",
                "sensor_type": "temperature",
                "description": (
                    "IoT Events alarm model BoilerTempHigh: $input.TemperatureInput.sensorData.temperature "
                    f"{operator} 42.5"
                ),
                "critical": {"op": op, "threshold": 42.5},
                "latch": True,
                "disabled_on_initialization": False,
            }
        ],
    }
    book = parse_rule_book(doc, set(SENSOR_TYPES))
    assert [r.rule_id for r in book] == ["boilertemphigh"]


def test_an_integer_threshold_stays_an_integer_and_a_description_is_kept(tmp_path, capsys):
    path = write(
        tmp_path, "m.json", model(threshold=" 80 ", alarmModelDescription="Boiler room over temperature")
    )
    code, doc, _ = run(tmp_path, capsys, path)
    rule = doc["rules"][0]
    assert code == 0
    assert rule["critical"] == {"op": ">", "threshold": 80}
    assert rule["description"].startswith(
        "Boiler room over temperature (IoT Events alarm model BoilerTempHigh:"
    )


@pytest.mark.parametrize(("ack", "latch"), [(True, True), (False, False)])
def test_acknowledge_flow_on_latches_and_off_does_not(tmp_path, capsys, ack, latch):
    code, doc, report = run(tmp_path, capsys, write(tmp_path, "m.json", model(ack=ack)))
    assert code == 0
    assert doc["rules"][0]["latch"] is latch
    assert by_item(report, "BoilerTempHigh")["acknowledgeFlow"]["detail"].startswith(
        "acknowledge flow on" if ack else "acknowledge flow off"
    )
    assert parse_rule_book(doc, set(SENSOR_TYPES)).get("boilertemphigh").latch is latch


def test_absent_acknowledge_flow_is_imported_unlatched_and_said_so(tmp_path, capsys):
    code, doc, report = run(tmp_path, capsys, write(tmp_path, "m.json", model(ack=None)))
    assert code == 0
    assert doc["rules"][0]["latch"] is False
    assert by_item(report, "BoilerTempHigh")["acknowledgeFlow"]["detail"].startswith(
        "acknowledgeFlow not set (IoT Events documents no default for it): imported as latch false"
    )


def test_disabled_on_initialization_carries_over(tmp_path, capsys):
    doc_in = model()
    doc_in["alarmCapabilities"]["initializationConfiguration"] = {"disabledOnInitialization": True}
    code, doc, _ = run(tmp_path, capsys, write(tmp_path, "m.json", doc_in))
    assert code == 0
    assert doc["rules"][0]["disabled_on_initialization"] is True
    assert parse_rule_book(doc, set(SENSOR_TYPES)).get("boilertemphigh").disabled_on_initialization is True


# --- severity -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "flag", "expected"),
    [
        (0, [], "critical"),
        (1, [], "critical"),  # the default cut-off is 1
        (2, [], "warning"),
        (3, ["--critical-severity", "3"], "critical"),
        (4, ["--critical-severity", "3"], "warning"),
        (1, ["--critical-severity", "0"], "warning"),
        (None, [], "warning"),
        ("0", [], "critical"),  # !Ref of a template parameter: its Default is a string
    ],
)
def test_severity_at_or_below_the_cut_off_is_critical(tmp_path, capsys, severity, flag, expected):
    code, doc, _ = run(tmp_path, capsys, write(tmp_path, "m.json", model(severity=severity)), *flag)
    rule = doc["rules"][0]
    assert code == 0
    assert rule[expected] == {"op": ">", "threshold": 80}
    assert {"warning", "critical"} & set(rule) == {expected}


def test_a_negative_cut_off_is_a_usage_error(tmp_path, capsys):
    path = write(tmp_path, "m.json", model())
    assert cli.main(["rules", "import-iotevents", path, "--critical-severity", "-1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "sensorflow rules: error: --critical-severity must be a non-negative integer, got -1"
    )


# --- what does not convert ------------------------------------------------------------------------------


def test_an_expression_threshold_is_reported_and_exits_1(tmp_path, capsys):
    # GIVEN one convertible model and one whose threshold is an input attribute
    path = write(
        tmp_path,
        "m.json",
        [model(), model("Co2OverSiteLimit", prop="$input.Air.co2", threshold="$input.Air.limits.co2Max")],
    )
    # WHEN it is imported without --allow-partial
    code, doc, report = run(tmp_path, capsys, path)
    # THEN the convertible rule is written, the other is reported with the reason, and the exit is 1
    assert code == 1 and report["complete"] is False
    assert [r["id"] for r in doc["rules"]] == ["boilertemphigh"]
    threshold = by_item(report, "Co2OverSiteLimit")["threshold"]
    assert threshold["status"] == "not convertible"
    assert threshold["detail"].startswith(
        "threshold '$input.Air.limits.co2Max' is an expression, not a numeric literal"
    )
    assert "rule" not in by_item(report, "Co2OverSiteLimit")


def test_allow_partial_accepts_an_expression_threshold(tmp_path, capsys):
    path = write(tmp_path, "m.json", [model(), model("Co2", threshold="$input.Air.limits.co2Max * 2")])
    code, doc, report = run(tmp_path, capsys, path, "--allow-partial")
    assert code == 0 and report["complete"] is False
    assert [r["id"] for r in doc["rules"]] == ["boilertemphigh"]


@pytest.mark.parametrize("threshold", ["'80'", "1_000", "inf", "nan", "0x50", "80 + 5"])
def test_only_a_numeric_literal_is_a_threshold(tmp_path, capsys, threshold):
    code, doc, report = run(tmp_path, capsys, write(tmp_path, "m.json", model(threshold=threshold)))
    assert code == 1
    assert doc["rules"] == []
    assert by_item(report, "BoilerTempHigh")["threshold"]["status"] == "not convertible"


def test_an_unknown_input_property_needs_map(tmp_path, capsys):
    path = write(tmp_path, "m.json", model(prop="$input.PumpInput.payload.vib_rms"))
    code, _, report = run(tmp_path, capsys, path)
    assert code == 1
    detail = by_item(report, "BoilerTempHigh")["inputProperty"]["detail"]
    assert detail.startswith(
        "inputProperty '$input.PumpInput.payload.vib_rms' names no sensor type (last segment 'vib_rms'); "
        "pass --map '$input.PumpInput.payload.vib_rms=SENSOR_TYPE'"
    )


def test_map_names_the_sensor_type_of_an_exact_input_property(tmp_path, capsys):
    prop = "$input.PumpInput.payload.vib_rms"
    path = write(tmp_path, "m.json", model(prop=prop))
    code, doc, report = run(tmp_path, capsys, path, "--map", f"{prop}=vibration", "--map", "$input.X.y=co2")
    assert code == 0
    assert doc["rules"][0]["sensor_type"] == "vibration"
    unused = [f for f in report["findings"] if f["item"] == "--map"]
    assert [f["detail"] for f in unused] == ["'$input.X.y' matched no alarm model's inputProperty"]


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("vib_rms", "--map 'vib_rms': expected INPUT_PROPERTY=SENSOR_TYPE"),
        ("$input.P.v=noise", "--map '$input.P.v=noise': sensor type must be one of "),
    ],
)
def test_a_bad_map_is_a_usage_error(tmp_path, capsys, pair, message):
    assert cli.main(["rules", "import-iotevents", write(tmp_path, "m.json", model()), "--map", pair]) == 2
    assert capsys.readouterr().err.startswith(f"sensorflow rules: error: {message}")


# --- key, notifications and actions ---------------------------------------------------------------------


def test_key_notifications_and_actions_are_reported_with_their_counterpart(tmp_path, capsys):
    # GIVEN a model with a notification (Lambda, email, SMS) and every alarm action type
    actions = [
        {"sns": {"targetArn": "arn:aws:sns:eu-west-1:123456789012:t"}},
        {"iotTopicPublish": {"mqttTopic": "site/alarms"}},
        {"lambda": {"functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:f"}},
        {"sqs": {"queueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/q"}},
        {"firehose": {"deliveryStreamName": "s"}},
        {"dynamoDB": {"tableName": "t1", "hashKeyField": "k", "hashKeyValue": "v"}},
        {"dynamoDBv2": {"tableName": "t2"}},
        {"iotEvents": {"inputName": "Next"}},
        {"iotSiteWise": {"propertyAlias": "/plant/alarm"}},
    ]
    notification = {
        "notificationActions": [
            {
                "action": {
                    "lambdaAction": {"functionArn": "arn:aws:lambda:eu-west-1:123456789012:function:n"}
                },
                "emailConfigurations": [{"from": "a@example.com", "recipients": {"to": [{}, {}]}}],
                "smsConfigurations": [{"recipients": [{}]}],
            }
        ]
    }
    doc_in = model(alarmEventActions={"alarmActions": actions}, alarmNotification=notification)
    # WHEN it is imported
    code, doc, report = run(tmp_path, capsys, write(tmp_path, "m.json", doc_in))
    # THEN the rule converts; each action is a consumer to set up, or has no counterpart (exit 1)
    assert code == 1 and len(doc["rules"]) == 1
    items = by_item(report, "BoilerTempHigh")
    status = {item: f["status"] for item, f in items.items() if item.startswith(("action", "notification"))}
    assert status == {
        "action sns": "replace",
        "action iotTopicPublish": "not convertible",
        "action lambda": "replace",
        "action sqs": "replace",
        "action firehose": "replace",
        "action dynamoDB": "replace",
        "action dynamoDBv2": "replace",
        "action iotEvents": "not convertible",
        "action iotSiteWise": "not convertible",
        "notification lambda": "replace",
        "notification email": "replace",
        "notification sms": "replace",
    }
    assert "alerts topic (stack output AlertsTopicArn)" in items["action sns"]["detail"]
    assert "EventBridge rule on the alerts bus" in items["action lambda"]["detail"]
    assert "incidents table" in items["action dynamoDBv2"]["detail"]
    assert items["action iotTopicPublish"]["detail"].startswith("no counterpart:")
    assert "the notify function replaces" in items["notification lambda"]["detail"]
    assert items["notification email"]["detail"].startswith("email to 2 AWS SSO recipient(s)")
    assert items["key"]["detail"].startswith(
        "key $input.TemperatureInput.sensorData.deviceId: sensorflow keys every alarm by device_id"
    )


# --- inputs ---------------------------------------------------------------------------------------------


def test_a_list_of_models_and_the_alarm_models_wrapper_give_unique_ids(tmp_path, capsys):
    # GIVEN names that collide once lower-cased, in a plain list and in {"alarmModels": [...]}
    first = write(tmp_path, "a.json", [model("TempHigh"), model("ColdRoom", operator="LESS", threshold="2")])
    second = write(tmp_path, "b.json", {"alarmModels": [model("temphigh", severity=5)]})
    code, doc, _ = run(tmp_path, capsys, first, second)
    assert code == 0
    assert [(r["id"], "critical" in r) for r in doc["rules"]] == [
        ("temphigh", True),
        ("coldroom", True),
        ("temphigh-2", False),
    ]
    parse_rule_book(doc, set(SENSOR_TYPES))


CFN_YAML = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Site: {Type: String, Default: plant-a}
  HumidityMax: {Type: String, Default: "85"}
  TopicArn: {Type: String}
Resources:
  Input:
    Type: AWS::IoTEvents::Input
    Properties: {InputName: Env, InputDefinition: {Attributes: [{JsonPath: humidity}]}}
  HumidityHigh:
    Type: AWS::IoTEvents::AlarmModel
    Properties:
      AlarmModelName: !Sub "${Site}-Humidity-High"
      RoleArn: !GetAtt Role.Arn
      Severity: 2
      AlarmRule:
        SimpleRule:
          InputProperty: $input.Env.humidity
          ComparisonOperator: GREATER_OR_EQUAL
          Threshold: !Ref HumidityMax
      AlarmEventActions:
        AlarmActions:
          - Sns: {TargetArn: !Ref TopicArn}
      AlarmCapabilities:
        AcknowledgeFlow: {Enabled: true}
        InitializationConfiguration: {DisabledOnInitialization: true}
  PressureLow:
    Type: AWS::IoTEvents::AlarmModel
    Properties:
      AlarmModelName: !Sub "${AWS::StackName}-pressure"
      Severity: 0
      AlarmRule:
        SimpleRule: {InputProperty: $input.Env.pressure, ComparisonOperator: LESS, Threshold: 950}
  LimitFromParameter:
    Type: AWS::IoTEvents::AlarmModel
    Properties:
      AlarmModelName: co2-limit
      AlarmRule:
        SimpleRule: {InputProperty: $input.Env.co2, ComparisonOperator: GREATER, Threshold: !Ref TopicArn}
  Detector:
    Type: AWS::IoTEvents::DetectorModel
    Properties: {DetectorModelName: d}
"""


def test_a_cloudformation_yaml_template_with_short_form_intrinsics(tmp_path, capsys):
    # GIVEN a YAML template using !Sub, !Ref (with and without a parameter Default) and !GetAtt
    path = write(tmp_path, "template.yaml", CFN_YAML)
    # WHEN it is imported
    code, doc, report = run(tmp_path, capsys, path, "--allow-partial")
    # THEN parameters with a Default resolve; an unresolvable name falls back to the logical id; the
    # threshold with no Default and the detector model are reported
    assert code == 0
    assert [{k: r[k] for k in ("id", "sensor_type")} for r in doc["rules"]] == [
        {"id": "plant-a-humidity-high", "sensor_type": "humidity"},
        {"id": "pressurelow", "sensor_type": "pressure"},
    ]
    humidity, pressure = doc["rules"]
    assert humidity["warning"] == {"op": ">=", "threshold": 85}
    assert (humidity["latch"], humidity["disabled_on_initialization"]) == (True, True)
    assert pressure["critical"] == {"op": "<", "threshold": 950}
    assert by_item(report, "PressureLow")["name"]["detail"] == (
        "AlarmModelName !Sub '${AWS::StackName}-pressure' is not resolvable here; "
        "the logical id names the rule"
    )
    assert by_item(report, "co2-limit")["threshold"]["detail"].startswith(
        "threshold !Ref TopicArn is a CloudFormation value the importer cannot evaluate"
    )
    assert by_item(report, "Detector")["detector model"]["status"] == "not convertible"
    assert by_item(report, "Input")["input"]["status"] == "note"
    assert "targetArn !Ref TopicArn" in by_item(report, "plant-a-Humidity-High")["action sns"]["detail"]
    parse_rule_book(doc, set(SENSOR_TYPES))


def test_a_cloudformation_json_template(tmp_path, capsys):
    template = {
        "Resources": {
            "Co2High": {
                "Type": "AWS::IoTEvents::AlarmModel",
                "Properties": {
                    "AlarmModelName": "Co2High",
                    "Severity": 3,
                    "Key": "$input.Air.deviceId",
                    "AlarmRule": {
                        "SimpleRule": {
                            "InputProperty": "$input.Air.co2",
                            "ComparisonOperator": "GREATER",
                            "Threshold": "1200",
                        }
                    },
                    "AlarmEventActions": {"AlarmActions": [{"DynamoDBv2": {"TableName": "history"}}]},
                    "AlarmCapabilities": {"AcknowledgeFlow": {"Enabled": False}},
                },
            }
        }
    }
    code, doc, report = run(tmp_path, capsys, write(tmp_path, "template.json", template))
    assert code == 0
    assert doc["rules"] == [
        {
            "id": "co2high",
            "sensor_type": "co2",
            "description": "IoT Events alarm model Co2High: $input.Air.co2 GREATER 1200",
            "warning": {"op": ">", "threshold": 1200},
            "latch": False,
            "disabled_on_initialization": False,
        }
    ]
    assert by_item(report, "Co2High")["action dynamoDBv2"]["status"] == "replace"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "missing.json", "does not exist"),
        ("{not json", "bad.json", "is not valid JSON: line 1 column 2"),
        ("a: [b", "bad.yaml", "is neither JSON nor YAML: line 1 column 6: expected ',' or ']'"),
        ('{"alarmModelSummaries": []}', "list.json", "is `list-alarm-models` output (names only)"),
        ('{"hello": 1}', "other.json", "is neither `describe-alarm-model` output"),
        (
            "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n",
            "empty.yaml",
            "no IoT Events alarm models in",
        ),
    ],
)
def test_a_bad_file_is_one_line_exit_2(tmp_path, capsys, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert cli.main(["rules", "import-iotevents", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("sensorflow rules: error: ") and message in err[0]


# --- output ---------------------------------------------------------------------------------------------


def test_without_out_the_rules_go_to_stdout_and_the_report_to_stderr(tmp_path, capsys):
    assert cli.main(["rules", "import-iotevents", write(tmp_path, "m.json", model())]) == 0
    captured = capsys.readouterr()
    assert [r["id"] for r in json.loads(captured.out)["rules"]] == ["boilertemphigh"]
    lines = captured.err.splitlines()
    assert lines[0].split() == ["MODEL", "ITEM", "STATUS", "DETAIL"]
    assert lines[1].split()[:3] == ["BoilerTempHigh", "rule", "converted"]
    assert lines[-1] == "1 rule(s) written to stdout; 0 action(s) to replace with a sensorflow consumer"


def test_merge_keeps_existing_rules_and_refuses_a_colliding_id(tmp_path, capsys):
    existing = tmp_path / "existing.json"
    existing.write_text(json.dumps({"version": 2, "rules": [
        {"id": "co2-level", "sensor_type": "co2", "warning": {"max": 1000}},
    ]}), encoding="utf-8")  # fmt: skip
    code, doc, _ = run(tmp_path, capsys, write(tmp_path, "m.json", model()), "--merge", str(existing))
    assert code == 0
    assert [r["id"] for r in doc["rules"]] == ["co2-level", "boilertemphigh"]
    clash = write(tmp_path, "clash.json", model("CO2-Level", prop="$input.Air.co2"))
    assert cli.main(["rules", "import-iotevents", clash, "--merge", str(existing)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"sensorflow rules: error: rule id 'co2-level' is already in {existing}; "
        "rename the alarm model or that rule and import again"
    )


def test_the_output_passes_rules_check(tmp_path, capsys):
    # GIVEN the worked example converted to a file
    out = tmp_path / "rules.json"
    assert cli.main(["rules", "import-iotevents", *EXAMPLE_ARGS, "--out", str(out)]) == 0
    capsys.readouterr()
    # WHEN `rules check` reads it THEN it is valid, with the same parser the functions use at start
    assert cli.main(["rules", "check", str(out)]) == 0
    book = parse_rule_book(json.loads(out.read_text(encoding="utf-8")), set(SENSOR_TYPES))
    assert len(list(book)) == 5


def test_regenerating_the_worked_example_gives_the_same_bytes(tmp_path, capsys):
    out = tmp_path / "rules.json"
    assert cli.main(["rules", "import-iotevents", *EXAMPLE_ARGS, "--out", str(out)]) == 0
    assert out.read_bytes() == (EXAMPLES / "rules.json").read_bytes()
    report = capsys.readouterr().out
    assert report.splitlines()[-1] == (
        "5 rule(s) written to " + str(out) + "; 8 action(s) to replace with a sensorflow consumer; "
        "2 item(s) not convertible (accepted: --allow-partial)"
    )


def test_rule_ids_are_valid_and_unique_for_any_names():
    names = ["A" * 200, "__x__", "Temp-High", "temp_high", "TEMP-HIGH", "-", "9lives", "a" * 63, "a" * 64]
    taken: set[str] = set()
    for name in names:
        rule_id = iotevents._rule_id(name, taken)
        assert rule_id not in taken and len(rule_id) <= 63
        taken.add(rule_id)
    assert iotevents._rule_id("temp-high", {"temp-high"}) == "temp-high-2"
    assert iotevents._rule_id("-", set()) == "iotevents-alarm"
