"""``sensorflow alarms list|ack|snooze|disable|enable``: operator actions against a stage's stack.

The alarms table, topic and bus come from the outputs of CloudFormation stack ``sensorflow-<stage>``
(``AlarmsTableName``, ``AlertsTopicArn``, ``AlertsEventBusName``, read by ``cli.stack_outputs``); the local
cloud is reached through ``AWS_ENDPOINT_URL``. Actions use the same conditional-write transitions as the
ingest path (optimistic ``version``, the event kept in the alarm's outbox until published), and record who,
when and a note.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.stack_outputs import check_stage, read_outputs, require_output
from sensorflow.core import alarms as am
from sensorflow.core.clock import iso
from sensorflow.core.errors import ConfigError, TransientError
from sensorflow.core.ports import TransitionPublisher, VersionConflictError
from sensorflow.core.records import Device
from sensorflow.core.rules import AlarmRule, RuleBook
from sensorflow.core.thresholds import Levels

TABLE_OUTPUT, TOPIC_OUTPUT, BUS_OUTPUT = "AlarmsTableName", "AlertsTopicArn", "AlertsEventBusName"
MAX_CONFLICT_RETRIES = 3
_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
PUBLISH_BUDGET_MS = 30_000

ACTIONS: dict[str, Callable[..., tuple[am.Alarm, list[am.TransitionEvent]]]] = {
    "ack": am.acknowledge,
    "disable": am.disable,
    "enable": am.enable,
}


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
    from sensorflow.adapters.dynamodb_alarms import DynamoAlarmStore

    store = DynamoAlarmStore(targets.table, session.client("dynamodb"))
    if args.action == "list":
        return _list(store, args)
    publishers = _publishers(session, targets)
    with aws_errors(f"update alarm {args.alarm_id}"):
        alarm, events = apply_action(
            store, rules, publishers, args.action, args.alarm_id, args.by, args.note, now, until
        )
    sys.stdout.write(
        f"{alarm.alarm_id}: {alarm.state}" + "".join(f" ({e.transition})" for e in events) + "\n"
    )
    return 0


def apply_action(
    store: Any,
    rules: RuleBook,
    publishers: list[TransitionPublisher],
    action: str,
    alarm_key: str,
    who: str,
    note: str | None,
    now_ms: int,
    until_ms: int | None = None,
) -> tuple[am.Alarm, list[am.TransitionEvent]]:
    """Read, transition, write conditionally (retrying a lost race), publish, clear the outbox."""
    parts = alarm_key.split("#")
    if len(parts) != 3 or not all(parts):
        raise UsageError(f"{alarm_key!r} is not an alarm id; expected <device_id>#<sensor_type>#<rule_id>")
    device_id, sensor_type, rule_id = parts
    for _ in range(MAX_CONFLICT_RETRIES + 1):
        stored_alarms, devices = store.load([alarm_key], [device_id])
        rule = rules.get(rule_id)
        stored = stored_alarms.get(alarm_key)
        if stored is None and (rule is None or rule.sensor_type != sensor_type):
            raise UsageError(
                f"unknown alarm id {alarm_key!r}: no such alarm; `sensorflow alarms list` shows them"
            )
        if stored is None and action in ("ack", "enable"):
            raise UsageError(f"alarm {alarm_key!r} has never been raised; nothing to {action}")
        alarm = stored.alarm if stored else am.Alarm.new(device_id, sensor_type, rule_id)
        rule = rule or AlarmRule(rule_id, sensor_type, {}, Levels())
        device = _device(devices.get(device_id), device_id)
        try:
            if action == "snooze":
                assert until_ms is not None
                new, events = am.snooze(alarm, until_ms, who, note, now_ms, rule, device)
            else:
                new, events = ACTIONS[action](alarm, who, note, now_ms, rule, device)
        except am.ActionNotAllowedError as exc:
            raise UsageError(str(exc)) from None
        leftovers = list(stored.outbox) if stored else []
        try:
            written = store.put_alarm(new, [*leftovers, *events])
        except VersionConflictError:
            continue  # someone wrote it in between (ingest, another operator): re-read and re-decide
        failed: set[str] = set()
        for publisher in publishers:
            failed |= publisher.publish([*leftovers, *events], lambda: PUBLISH_BUDGET_MS)
        if failed:
            raise UsageError(
                f"alarm {alarm_key} is {new.state}, but {len(failed)} event(s) could not be published; "
                "they stay in its outbox and go out with its next transition"
            )
        with contextlib.suppress(TransientError):
            store.clear_outbox(written)  # else republished later with the same event id
        return written, events
    raise UsageError(f"alarm {alarm_key} kept changing under us ({MAX_CONFLICT_RETRIES} retries); try again")


def _device(stored: Any, device_id: str) -> Device | None:
    ctx = stored.state.context if stored else {}
    if not ctx:
        return None
    return Device(
        device_id=device_id,
        site=ctx.get("site") or "unknown",
        location=ctx.get("location") or "unknown",
        model=ctx.get("model") or "unknown",
        owner_team=ctx.get("owner_team") or "unknown",
    )


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


def _publishers(session: Any, targets: StackTargets) -> list[TransitionPublisher]:
    from sensorflow.adapters.eventbridge_transitions import EventBridgeTransitionPublisher
    from sensorflow.adapters.sns_transitions import SnsTransitionPublisher

    out: list[TransitionPublisher] = []
    if targets.topic_arn:
        out.append(SnsTransitionPublisher(targets.topic_arn, session.client("sns")))
    if targets.bus_name:
        out.append(EventBridgeTransitionPublisher(targets.bus_name, session.client("events")))
    return out
