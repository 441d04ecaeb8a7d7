"""``sensorflow alarms list|ack|snooze|disable|enable|reset``: operator actions against a stage's stack.

The alarms table, topic and bus come from the outputs of CloudFormation stack ``sensorflow-<stage>``
(``AlarmsTableName``, ``AlertsTopicArn``, ``AlertsEventBusName``, read by ``cli.stack_outputs``); the local
cloud is reached through ``AWS_ENDPOINT_URL``. Actions use the same conditional-write transitions as the
ingest path (optimistic ``version``, the event kept in the alarm's outbox until published), and record who
(``--by`` and the caller's AWS ARN, ``cli.operator``), when and a note; ``disable`` requires a ``--reason``
and may end by itself (``--for`` / ``--until``).

``list`` also says whether an alarm's notifications are suppressed: silenced (by which silence,
``sensorflow silences``) or inhibited (a value alarm of a device whose ``Device Stale`` is open).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorflow import bootstrap
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.operator import aws_session, check_by, end_time, identify
from sensorflow.cli.stack_outputs import add_stage_arguments, check_stage, read_outputs, require_output
from sensorflow.core import alarms as am
from sensorflow.core import staleness
from sensorflow.core.clock import iso
from sensorflow.core.errors import ConfigError
from sensorflow.core.limits import NOTE_MAX_CHARS, TooLargeError, check_operator_text
from sensorflow.core.rules import RuleBook
from sensorflow.core.silences import Silence, active_silence

TABLE_OUTPUT, TOPIC_OUTPUT, BUS_OUTPUT = "AlarmsTableName", "AlertsTopicArn", "AlertsEventBusName"
ACTIONS = (
    ("ack", "acknowledge an ACTIVE alarm (emits Alarm Acknowledged)"),
    ("snooze", "silence raises until a time (--for 30m or --until ISO)"),
    ("disable", "stop evaluating an alarm; --reason required, --for/--until to end it by itself"),
    ("enable", "evaluate a disabled alarm again, from NORMAL"),
    ("reset", "force an alarm back to NORMAL (emits Alarm Reset; ends its episode like a clear)"),
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alarms",
        help="list, acknowledge, snooze, disable, enable or reset alarms of a stage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        add_stage_arguments(p)
        p.add_argument("--rules", type=Path, help="rules file (default: the packaged sensorflow/rules.json)")

    lst = sub.add_parser("list", help="list alarms (all states but NORMAL unless --all)")
    common(lst)
    lst.add_argument("--state", action="append", choices=am.STATES, help="only these states (repeatable)")
    lst.add_argument("--device", help="only this device id")
    lst.add_argument("--all", action="store_true", help="include NORMAL alarms")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(func=run)

    for name, text in ACTIONS:
        p = sub.add_parser(name, help=text)
        common(p)
        p.add_argument("alarm_id", help="<device_id>#<sensor_type>#<rule_id>, as `alarms list` shows it")
        p.add_argument("--by", help="who acts (default: $USER, else your AWS identity's name)")
        if name == "disable":
            p.add_argument(
                "--reason", help="why it is disabled (required; recorded and carried by the event)"
            )
        else:
            p.add_argument("--note", help="a note recorded on the alarm and carried by the event")
        if name in ("snooze", "disable"):
            until = "until then" if name == "snooze" else "then enable it again by itself"
            p.add_argument("--for", dest="duration", help=f"a duration: 30m, 2h, 1h30m, 1d ({until})")
            p.add_argument("--until", help="an ISO-8601 time with a zone, e.g. 2026-11-29T18:00:00Z")
        p.set_defaults(func=run)


@dataclass(frozen=True, slots=True)
class StackTargets:
    table: str
    topic_arn: str | None
    bus_name: str | None


@dataclass(frozen=True, slots=True)
class Request:
    """An operator action, checked before anything touches AWS."""

    action: str
    alarm_id: str
    note: str | None  # for disable: the reason
    until_ms: int | None  # snooze end, or when a disable ends by itself


def check_request(args: argparse.Namespace, now_ms: int) -> Request:
    """The action ``args`` ask for, or a ``UsageError`` that says what to fix."""
    until = None
    if args.action in ("snooze", "disable"):
        until = end_time(args.duration, args.until, now_ms, now_ms, needed=args.action == "snooze")
    if args.action == "disable":
        if not (args.reason or "").strip():
            raise UsageError(
                "disable needs --reason TEXT: say why the alarm stops being evaluated (it is recorded and "
                "carried by Alarm Disabled); add --for/--until to enable it again by itself"
            )
        note = args.reason.strip()
    else:
        note = args.note
    try:
        check_operator_text("--reason" if args.action == "disable" else "--note", note, NOTE_MAX_CHARS)
    except TooLargeError as exc:
        raise UsageError(f"{exc}; shorten it") from None
    check_by(args.by)
    return Request(args.action, args.alarm_id, note, until)


def run(args: argparse.Namespace, now_ms: int | None = None) -> int:
    check_stage(args.stage)
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    request = None if args.action == "list" else check_request(args, now)
    rules = _rules(args.rules)
    session = aws_session(args.region)
    targets = resolve_stack(session.client("cloudformation"), args.stage)
    if request is None:
        dynamodb = session.client("dynamodb")
        silences = bootstrap.build_silence_store(targets.table, dynamodb)
        return _list(bootstrap.build_alarm_store(targets.table, dynamodb), silences, args, now)
    operator = identify(session.client("sts"), args.by)
    clients = {name: session.client(name) for name in ("dynamodb", "sns", "events")}
    actions = bootstrap.build_alarm_actions(
        targets.table, targets.topic_arn, targets.bus_name, rules, clients
    )
    sys.stdout.write(apply_request(actions, request, operator, now) + "\n")
    return 0


def apply_request(actions: Any, request: Request, operator: Any, now_ms: int) -> str:
    """One checked operator action through ``AlarmActions``, as the CLI and the console both run it:
    the line to show, or a ``UsageError`` saying why it was refused or what is still owed."""
    with aws_errors(f"update alarm {request.alarm_id}"):
        try:
            outcome = actions.apply(
                request.action,
                request.alarm_id,
                operator.by,
                request.note,
                now_ms,
                request.until_ms,
                caller_arn=operator.caller_arn,
            )
        except am.ActionNotAllowedError as exc:
            raise UsageError(str(exc)) from None
    alarm = outcome.alarm
    if outcome.undelivered:
        raise UsageError(
            f"alarm {alarm.alarm_id} is {alarm.state}, but {outcome.undelivered} event(s) could not be "
            "published; they stay in its outbox, owed only to the targets that missed them, and go out "
            "with its next transition"
        )
    return f"{alarm.alarm_id}: {alarm.state}" + "".join(f" ({e.transition})" for e in outcome.events)


@dataclass(frozen=True, slots=True)
class Listed:
    alarm: am.Alarm
    silence: Silence | None  # the silence its notifications would be suppressed by now
    inhibited: bool  # a value alarm of a device whose Device Stale is open: it notifies nothing

    def to_json(self) -> dict[str, Any]:
        return {
            **self.alarm.snapshot(),
            "silenced_by": None if self.silence is None else self.silence.silence_id,
            "inhibited": self.inhibited,
        }

    @property
    def suppressed(self) -> str:
        parts = [] if self.silence is None else [f"silenced by {self.silence.silence_id}"]
        return ", ".join([*parts, *(["inhibited (device stale)"] if self.inhibited else [])]) or "-"


def suppression(
    store: Any, silences: Sequence[Silence], alarms: Sequence[am.Alarm], now_ms: int
) -> list[Listed]:
    """Each alarm with what would suppress its notifications now, from its device item's context (site,
    owner team) and staleness."""
    devices = store.load(sorted({a.device_id for a in alarms})) if alarms else {}
    out = []
    for a in alarms:
        stored = devices.get(a.device_id)
        context = stored.state.context if stored is not None else {}
        stale = stored is not None and stored.state.stale_since_ms is not None
        value_alarm = a.alarm_id != staleness.stale_alarm_id(a.device_id)
        silence = active_silence(silences, context, a.sensor_type, a.device_id, now_ms)
        out.append(Listed(a, silence, stale and value_alarm))
    return out


def _list(store: Any, silences: Any, args: argparse.Namespace, now_ms: int) -> int:
    states = set(args.state) if args.state else (None if args.all else set(am.STATES) - {am.NORMAL})
    with aws_errors("list alarms"):
        listed = suppression(store, silences.active(now_ms), store.list_alarms(states, args.device), now_ms)
    if args.json:
        for row in listed:
            sys.stdout.write(json.dumps(row.to_json(), separators=(",", ":")) + "\n")
        return 0
    if not listed:
        sys.stdout.write("no alarms\n")
        return 0
    header = ("ALARM", "STATE", "SEVERITY", "SINCE", "BY", "SNOOZED UNTIL", "SUPPRESSED", "NOTE")
    rows = [
        (
            a.alarm_id,
            a.state,
            a.severity or "-",
            iso(a.since_ms) or "-",
            a.acknowledged_by or a.updated_by or "-",
            iso(a.snoozed_until_ms) or "-",
            row.suppressed,
            a.note or "",
        )
        for row in listed
        for a in [row.alarm]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0


def _rules(path: Path | None) -> RuleBook:
    from sensorflow.config import load_rule_book

    try:
        return load_rule_book(path)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None


def resolve_stack(cloudformation: Any, stage: str) -> StackTargets:
    outputs = read_outputs(cloudformation, stage)
    table = require_output(outputs, TABLE_OUTPUT, stage, "deploy a version with the alarms table")
    return StackTargets(table, outputs.get(TOPIC_OUTPUT), outputs.get(BUS_OUTPUT))
