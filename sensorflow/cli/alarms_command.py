"""``sensorflow alarms list|ack|snooze|disable|enable``: operator actions against a stage's stack.

The alarms table, topic and bus come from the outputs of CloudFormation stack ``sensorflow-<stage>``
(``AlarmsTableName``, ``AlertsTopicArn``, ``AlertsEventBusName``, read by ``cli.stack_outputs``); the local
cloud is reached through ``AWS_ENDPOINT_URL``. Actions use the same conditional-write transitions as the
ingest path (optimistic ``version``, the event kept in the alarm's outbox until published), and record who,
when and a note.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensorflow import bootstrap
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.stack_outputs import check_stage, read_outputs, require_output
from sensorflow.core import alarms as am
from sensorflow.core.clock import iso
from sensorflow.core.errors import ConfigError
from sensorflow.core.rules import RuleBook

TABLE_OUTPUT, TOPIC_OUTPUT, BUS_OUTPUT = "AlarmsTableName", "AlertsTopicArn", "AlertsEventBusName"
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alarms",
        help="list, acknowledge, snooze, disable or enable alarms of a stage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stage", required=True, help="the stage whose stack sensorflow-STAGE to use")
        p.add_argument("--region", help="AWS region (default: the standard boto3 resolution)")
        p.add_argument("--rules", type=Path, help="rules file (default: the packaged sensorflow/rules.json)")

    lst = sub.add_parser("list", help="list alarms (all states but NORMAL unless --all)")
    common(lst)
    lst.add_argument("--state", action="append", choices=am.STATES, help="only these states (repeatable)")
    lst.add_argument("--device", help="only this device id")
    lst.add_argument("--all", action="store_true", help="include NORMAL alarms")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(func=run)

    for name, text in (
        ("ack", "acknowledge an ACTIVE alarm (emits Alarm Acknowledged)"),
        ("snooze", "silence raises until a time (--for 30m or --until ISO)"),
        ("disable", "stop evaluating an alarm"),
        ("enable", "evaluate a disabled alarm again, from NORMAL"),
    ):
        p = sub.add_parser(name, help=text)
        common(p)
        p.add_argument("alarm_id", help="<device_id>#<sensor_type>#<rule_id>, as `alarms list` shows it")
        p.add_argument("--by", default=os.environ.get("USER") or "", help="who acts (default: $USER)")
        p.add_argument("--note", help="a note recorded on the alarm and carried by the event")
        if name == "snooze":
            when = p.add_mutually_exclusive_group(required=True)
            when.add_argument("--for", dest="duration", help="a duration: 30m, 2h, 1h30m, 1d, 90s")
            when.add_argument("--until", help="an ISO-8601 time with a zone, e.g. 2026-11-29T18:00:00Z")
        p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class StackTargets:
    table: str
    topic_arn: str | None
    bus_name: str | None


def run(args: argparse.Namespace, now_ms: int | None = None) -> int:
    check_stage(args.stage)
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    until = _snooze_until(args, now) if args.action == "snooze" else None
    if args.action != "list" and not args.by:
        raise UsageError("--by is empty and $USER is not set: say who acts with --by NAME")
    rules = _rules(args.rules)
    session = _session(args.region)
    targets = resolve_stack(session.client("cloudformation"), args.stage)
    if args.action == "list":
        return _list(bootstrap.build_alarm_store(targets.table, session.client("dynamodb")), args)
    clients = {name: session.client(name) for name in ("dynamodb", "sns", "events")}
    actions = bootstrap.build_alarm_actions(
        targets.table, targets.topic_arn, targets.bus_name, rules, clients
    )
    with aws_errors(f"update alarm {args.alarm_id}"):
        try:
            outcome = actions.apply(args.action, args.alarm_id, args.by, args.note, now, until)
        except am.ActionNotAllowedError as exc:
            raise UsageError(str(exc)) from None
    alarm = outcome.alarm
    if outcome.undelivered:
        raise UsageError(
            f"alarm {alarm.alarm_id} is {alarm.state}, but {outcome.undelivered} event(s) could not be "
            "published; they stay in its outbox, owed only to the targets that missed them, and go out "
            "with its next transition"
        )
    sys.stdout.write(
        f"{alarm.alarm_id}: {alarm.state}" + "".join(f" ({e.transition})" for e in outcome.events) + "\n"
    )
    return 0


def _list(store: Any, args: argparse.Namespace) -> int:
    states = set(args.state) if args.state else (None if args.all else set(am.STATES) - {am.NORMAL})
    with aws_errors("list alarms"):
        alarms = store.list_alarms(states, args.device)
    if args.json:
        for a in alarms:
            sys.stdout.write(json.dumps(a.snapshot(), separators=(",", ":")) + "\n")
        return 0
    if not alarms:
        sys.stdout.write("no alarms\n")
        return 0
    header = ("ALARM", "STATE", "SEVERITY", "SINCE", "BY", "SNOOZED UNTIL", "NOTE")
    rows = [
        (
            a.alarm_id,
            a.state,
            a.severity or "-",
            iso(a.since_ms) or "-",
            a.acknowledged_by or a.updated_by or "-",
            iso(a.snoozed_until_ms) or "-",
            a.note or "",
        )
        for a in alarms
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0


def parse_duration(text: str) -> int:
    """``30m``, ``2h``, ``1h30m``, ``1d``, ``90s`` -> milliseconds."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise UsageError(f"--for {text!r} is not a duration; use e.g. 30m, 2h, 1h30m, 1d or 90s")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    ms = ((d * 24 + h) * 60 + mi) * 60_000 + s * 1000
    if ms <= 0:
        raise UsageError(f"--for {text!r} must be longer than zero")
    return ms


def _snooze_until(args: argparse.Namespace, now_ms: int) -> int:
    if args.duration is not None:
        return now_ms + parse_duration(args.duration)
    try:
        when = datetime.fromisoformat(args.until.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--until {args.until!r} is not an ISO-8601 time, e.g. 2026-11-29T18:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise UsageError(f"--until {args.until!r} has no time zone; add Z for UTC or an offset like +01:00")
    until = int(when.astimezone(UTC).timestamp() * 1000)
    if until <= now_ms:
        raise UsageError(f"--until {args.until!r} is not in the future")
    return until


def _rules(path: Path | None) -> RuleBook:
    from sensorflow.config import load_rule_book

    try:
        return load_rule_book(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def _session(region: str | None) -> Any:
    import boto3

    with aws_errors("connect to AWS"):
        return boto3.session.Session(region_name=region)


def resolve_stack(cloudformation: Any, stage: str) -> StackTargets:
    outputs = read_outputs(cloudformation, stage)
    table = require_output(outputs, TABLE_OUTPUT, stage, "deploy a version with the alarms table")
    return StackTargets(table, outputs.get(TOPIC_OUTPUT), outputs.get(BUS_OUTPUT))
