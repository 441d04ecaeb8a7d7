"""The silence store on the real adapter under moto (one ``__silences__`` item in the alarms table), and the
``sensorflow silences`` / ``alarms`` operator commands in-process against it, with moto's STS identity."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore
from sensorflow.adapters.dynamodb_silences import SILENCES_KEY, DynamoSilenceStore
from sensorflow.cli import main as cli
from sensorflow.core import silences as sl
from sensorflow.core.alarms import Alarm, DeviceState
from sensorflow.core.clock import iso_to_ms
from sensorflow.core.ports import VersionConflictError
from sensorflow.core.silences import Silence, SilenceLimitError, UnknownSilenceError
from tests.integration.conftest import REGION, STAGE, Stack, create_alarms_table
from tests.integration.test_alarms import ALARM, raise_alarm, sns_transitions

TABLE = f"sensorflow-{STAGE}-alarms"
HOUR = 3_600_000
MOTO_ARN = "arn:aws:sts::123456789012:user/moto"  # what moto's GetCallerIdentity answers


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_alarms_table(client, TABLE)
        yield client


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def silence(silence_id: str, at: int, matchers: dict[str, str] | None = None, **times: int) -> Silence:
    return Silence(
        silence_id=silence_id,
        matchers=matchers or {"site": "site-a"},
        starts_at_ms=times.get("starts", at),
        ends_at_ms=times.get("ends", at + HOUR),
        created_by="ana",
        caller_arn=MOTO_ARN,
        comment="boiler maintenance",
        created_at_ms=times.get("created", at),
    )


def stored_item(ddb: Any) -> dict[str, Any]:
    return ddb.get_item(TableName=TABLE, Key={"alarm_id": {"S": SILENCES_KEY}}, ConsistentRead=True)["Item"]


def seed(ddb: Any, silences: list[Silence], version: int = 7) -> None:
    """The item as an earlier writer left it (no pruning, no cap)."""
    ddb.put_item(
        TableName=TABLE,
        Item={
            "alarm_id": {"S": SILENCES_KEY},
            "item_type": {"S": "silences"},
            "silences": {"S": json.dumps([s.to_doc() for s in silences])},
            "version": {"N": str(version)},
        },
    )


# --- the store ------------------------------------------------------------------------------------------


def test_add_list_and_expire_round_trip_through_one_versioned_item(ddb: Any):
    store, t = DynamoSilenceStore(TABLE, ddb), 1_790_000_000_000
    assert store.list_all(t) == [] and store.active(t) == []
    store.add(silence("s-now", t))
    store.add(silence("s-window", t, starts=t + HOUR, ends=t + 2 * HOUR))
    assert [s.silence_id for s in store.list_all(t)] == ["s-window", "s-now"]
    assert [s.silence_id for s in store.active(t)] == ["s-now"]
    assert [s.silence_id for s in store.active(t + HOUR)] == ["s-window"]
    ended = store.expire("s-now", t + 10, "bo", "arn:aws:iam::123456789012:user/bo")
    assert (ended.ends_at_ms, ended.expired_by) == (t + 10, "bo")
    assert store.active(t + 10) == []
    assert store.list_all(t + 10) == [store.list_all(t + 10)[0], ended]  # kept for `list --all`
    item = stored_item(ddb)
    assert (item["item_type"]["S"], item["version"]["N"]) == ("silences", "3")
    with pytest.raises(UnknownSilenceError):
        store.expire("s-now", t + 20, "bo")
    # the alarm listing (a Scan of device items) never sees the silences item
    assert DynamoAlarmStore(TABLE, ddb).list_alarms() == []


def test_a_write_that_loses_a_race_rereads_and_keeps_both_silences(ddb: Any):
    t = 1_790_000_000_000
    ours, theirs = DynamoSilenceStore(TABLE, ddb), DynamoSilenceStore(TABLE, boto3.client("dynamodb", REGION))
    puts: list[str] = []

    def other_operator_first(params: dict[str, Any], **_: Any) -> None:
        puts.append(params["Item"]["version"]["N"])
        if len(puts) == 1:
            theirs.add(silence("s-theirs", t))

    ddb.meta.events.register("before-parameter-build.dynamodb.PutItem", other_operator_first)
    ours.add(silence("s-ours", t))
    # our first put (version 1) lost to theirs; the re-read applied ours on top: version 2
    assert puts == ["1", "2"]
    assert sorted(s.silence_id for s in ours.list_all(t)) == ["s-ours", "s-theirs"]
    assert stored_item(ddb)["version"]["N"] == "2"


def test_a_store_that_keeps_losing_gives_up_with_a_version_conflict(ddb: Any):
    t = 1_790_000_000_000
    ours, theirs = (
        DynamoSilenceStore(TABLE, ddb, max_conflict_retries=2),
        DynamoSilenceStore(TABLE, boto3.client("dynamodb", REGION)),
    )
    n = iter(range(100))
    ddb.meta.events.register(
        "before-parameter-build.dynamodb.PutItem", lambda **_: theirs.add(silence(f"s-{next(n)}", t))
    )
    with pytest.raises(VersionConflictError, match=r"the silences kept changing \(2 retries\)"):
        ours.add(silence("s-ours", t))
    assert "s-ours" not in {s.silence_id for s in theirs.list_all(t)}


def test_a_write_prunes_silences_expired_past_the_retention(ddb: Any):
    t = 1_790_000_000_000
    old = silence("s-old", t - 30 * HOUR, ends=t - 25 * HOUR)
    recent = silence("s-recent", t - 3 * HOUR, ends=t - HOUR)
    seed(ddb, [old, recent])
    store = DynamoSilenceStore(TABLE, ddb)
    store.add(silence("s-new", t))
    raw = json.loads(stored_item(ddb)["silences"]["S"])
    assert [d["silence_id"] for d in raw] == ["s-new", "s-recent"]
    assert stored_item(ddb)["version"]["N"] == "8"


def test_the_501st_active_silence_is_refused_and_nothing_is_written(ddb: Any):
    t = 1_790_000_000_000
    seed(ddb, [silence(f"s-{i:03d}", t) for i in range(sl.MAX_ACTIVE_SILENCES)])
    store = DynamoSilenceStore(TABLE, ddb)
    with pytest.raises(SilenceLimitError, match="already has 500 active or scheduled silences"):
        store.add(silence("s-500", t))
    assert stored_item(ddb)["version"]["N"] == "7"


SSO_ARN = (
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_0123456789abcdef/"
    "ana@example.com"
)


def test_500_silences_with_the_longest_comments_fit_and_expired_ones_make_room(ddb: Any):
    # GIVEN 100 recently expired silences and 499 live ones, each with a 280-character comment
    t = 1_790_000_000_000
    long = {"comment": "c" * sl.MAX_COMMENT_CHARS, "caller_arn": SSO_ARN, "created_by": "ana@example.com"}
    matchers = {"site": "plant-a-building-7", "sensor_type": "temperature"}
    expired = [
        replace(
            silence(f"s-x{i:03d}", t - HOUR, matchers, ends=t - 1),
            **long,
            expired_by="bo",
            expired_by_arn=SSO_ARN,
        )
        for i in range(sl.MAX_EXPIRED_KEPT)
    ]
    seed(ddb, [*expired, *(replace(silence(f"s-{i:03d}", t, matchers), **long) for i in range(499))])
    # WHEN the 500th is added THEN it is stored, and the expired ones kept
    DynamoSilenceStore(TABLE, ddb).add(replace(silence("s-499", t, matchers), **long))
    stored = json.loads(stored_item(ddb)["silences"]["S"])
    assert (sum(1 for d in stored if d["ends_at_ms"] > t), len(stored)) == (500, 600)
    assert len(stored_item(ddb)["silences"]["S"].encode()) < 400 * 1024


def test_a_malformed_entry_is_skipped_by_readers(ddb: Any):
    t = 1_790_000_000_000
    good = silence("s-good", t)
    ddb.put_item(
        TableName=TABLE,
        Item={
            "alarm_id": {"S": SILENCES_KEY},
            "silences": {"S": json.dumps([{"silence_id": "bad"}, good.to_doc()])},
            "version": {"N": "1"},
        },
    )
    assert DynamoSilenceStore(TABLE, ddb).active(t) == [good]


# --- the operator CLI, with moto's STS identity -----------------------------------------------------------


@pytest.fixture
def deployed(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"AlarmsTableName": {"Value": TABLE}},
            }
        ),
    )
    monkeypatch.setenv("USER", "ana")
    return ddb


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert cli.main([*argv, "--stage", STAGE, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_cli_silence_lifecycle_records_who_and_the_callers_arn(
    deployed: Any, capsys: pytest.CaptureFixture[str]
):
    # WHEN an operator silences plant A's CO2 sensors for 2 h, and schedules a window for tomorrow
    argv = ["silences", "add", "--stage", STAGE, "--match", "site=site-a", "--match", "sensor_type=co2"]
    assert cli.main([*argv, "--for", "2h", "--comment", "calibration"]) == 0
    out = capsys.readouterr().out
    silence_id = out.split(":", 1)[0]
    assert out.startswith(f"{silence_id}: silences sensor_type=co2 site=site-a until ")
    window = ["silences", "add", "--stage", STAGE, "--match", "device_id=dev-00002", "--comment", "swap"]
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86_400))
    assert cli.main([*window, "--starts", start, "--for", "1h", "--by", "bo"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("(scheduled)")
    # THEN both are listed with who created them: --by (default $USER) and STS's ARN
    rows = listed(capsys, "silences", "list")
    assert [(r["status"], r["created_by"], r["caller_arn"]) for r in rows] == [
        ("scheduled", "bo", MOTO_ARN),
        ("active", "ana", MOTO_ARN),
    ]
    assert rows[1]["matchers"] == {"sensor_type": "co2", "site": "site-a"}
    assert rows[1]["ends_at_ms"] - rows[1]["starts_at_ms"] == 2 * HOUR
    assert rows[0]["starts_at"] == start.replace("Z", ".000Z")
    # WHEN it is expired THEN the list no longer shows it, but --all does, with who ended it
    assert cli.main(["silences", "expire", silence_id, "--stage", STAGE]) == 0
    assert capsys.readouterr().out == f"{silence_id}: expired (sensor_type=co2 site=site-a)\n"
    assert [r["silence_id"] for r in listed(capsys, "silences", "list")] == [rows[0]["silence_id"]]
    ended = listed(capsys, "silences", "list", "--all")[-1]
    assert (ended["status"], ended["expired_by"], ended["expired_by_arn"]) == ("expired", "ana", MOTO_ARN)
    # and expiring it again is one line that says what to do
    assert cli.main(["silences", "expire", silence_id, "--stage", STAGE]) == 2
    assert capsys.readouterr().err == (
        f"sensorflow silences: error: silence {silence_id!r} is already expired; `sensorflow silences "
        "list` shows the active and scheduled ones\n"
    )


def test_cli_list_table(deployed: Any, capsys: pytest.CaptureFixture[str]):
    assert cli.main(["silences", "list", "--stage", STAGE]) == 0
    assert capsys.readouterr().out == "no silences\n"
    add = ["silences", "add", "--stage", STAGE, "--match", "owner_team=plant-ops", "--for", "30m"]
    assert cli.main([*add, "--comment", "noisy", "--by", "bo"]) == 0
    capsys.readouterr()
    assert cli.main(["silences", "list", "--stage", STAGE]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == ["ID", "STATUS", "MATCH", "STARTS", "ENDS", "BY", "COMMENT"]
    assert row.split()[1:3] == ["active", "owner_team=plant-ops"] and row.split()[-2:] == ["bo", "noisy"]


def put_alarms(ddb: Any, stale: bool) -> None:
    """dev-00001 (site-a, plant-ops) with an ACTIVE temperature alarm, stale or not."""
    store = DynamoAlarmStore(TABLE, ddb)
    ctx = {"device_id": "dev-00001", "site": "site-a", "owner_team": "plant-ops"}
    state = DeviceState("dev-00001", context=ctx)
    if stale:
        state = replace(state, stale_since_ms=now_ms() - 60_000, stale_event_id="e-stale")
    alarm = replace(Alarm.new("dev-00001", "temperature", "temperature-range"), state="ACTIVE")
    alarm = replace(alarm, severity="warning", raised=True, announced=True, since_ms=now_ms())
    store.put_device(state, {alarm.alarm_id: alarm})


def test_alarms_list_shows_silenced_and_inhibited(deployed: Any, capsys: pytest.CaptureFixture[str]):
    # GIVEN an active alarm of a device that is not stale, and no silence
    put_alarms(deployed, stale=False)
    [row] = listed(capsys, "alarms", "list")
    assert (row["silenced_by"], row["inhibited"]) == (None, False)
    # WHEN plant-ops silences site-a's temperature alarms THEN the alarm is listed as silenced by it
    add = [
        "silences",
        "add",
        "--stage",
        STAGE,
        "--match",
        "site=site-a",
        "--match",
        "sensor_type=temperature",
    ]
    assert cli.main([*add, "--for", "1h", "--comment", "oven test"]) == 0
    silence_id = capsys.readouterr().out.split(":", 1)[0]
    [row] = listed(capsys, "alarms", "list")
    assert (row["alarm_id"], row["silenced_by"], row["inhibited"]) == (
        "dev-00001#temperature#temperature-range",
        silence_id,
        False,
    )
    assert cli.main(["alarms", "list", "--stage", STAGE]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert "SUPPRESSED" in header.split() and f"silenced by {silence_id}" in line


def test_alarms_list_shows_the_value_alarms_of_a_stale_device_inhibited(
    deployed: Any, capsys: pytest.CaptureFixture[str]
):
    put_alarms(deployed, stale=True)
    rows = {r["alarm_id"]: r for r in listed(capsys, "alarms", "list")}
    # the value alarm notifies nothing while Device Stale is open; Device Stale itself does
    assert rows["dev-00001#temperature#temperature-range"]["inhibited"] is True
    assert rows["dev-00001#device#device-stale"]["inhibited"] is False
    assert cli.main(["alarms", "list", "--stage", STAGE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [("inhibited (device stale)" in line) for line in lines[1:]] == [False, True]


# --- operator identity on alarm actions -----------------------------------------------------------------


@pytest.fixture
def alarm_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The conftest stack (table, topic, bus, queues) behind a CloudFormation stack the CLI can read."""
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName=f"sensorflow-{STAGE}",
        TemplateBody=json.dumps(
            {
                "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {
                    "AlarmsTableName": {"Value": stack.settings.alarms_table},
                    "AlertsTopicArn": {"Value": stack.settings.alerts_topic_arn},
                    "AlertsEventBusName": {"Value": stack.settings.alerts_event_bus},
                },
            }
        ),
    )
    monkeypatch.setenv("USER", "ana")
    return stack


def test_every_alarm_action_carries_the_callers_arn_and_disable_its_reason_and_end(
    alarm_stack: Stack, capsys: pytest.CaptureFixture[str]
):
    # GIVEN a raised temperature alarm
    raise_alarm(alarm_stack)
    # WHEN an operator acknowledges it, resets it, then disables it for a day with a reason
    assert cli.main(["alarms", "ack", ALARM, "--stage", STAGE, "--note", "on my way"]) == 0
    assert cli.main(["alarms", "reset", ALARM, "--stage", STAGE, "--by", "bo"]) == 0
    before = now_ms()
    disable = ["alarms", "disable", ALARM, "--stage", STAGE, "--reason", "sensor swap", "--for", "1d"]
    assert cli.main(disable) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{ALARM}: ACKNOWLEDGED (Alarm Acknowledged)",
        f"{ALARM}: NORMAL (Alarm Reset)",
        f"{ALARM}: DISABLED (Alarm Disabled)",
    ]
    # THEN each event records --by (default $USER) and the STS identity that called
    msgs = sns_transitions(alarm_stack)
    assert [
        (m["transition"], m["alarm"]["updated_by"], m["alarm"]["caller_arn"], m["alarm"]["note"])
        for m in msgs
    ] == [
        ("Alarm Acknowledged", "ana", MOTO_ARN, "on my way"),
        ("Alarm Reset", "bo", MOTO_ARN, None),
        ("Alarm Disabled", "ana", MOTO_ARN, "sensor swap"),
    ]
    until = iso_to_ms(msgs[-1]["alarm"]["disabled_until"])
    assert before + 86_400_000 <= until <= now_ms() + 86_400_000
