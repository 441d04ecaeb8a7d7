"""``sensorflow silences add|list|expire``: silence a stage's alarms by selector, for a while.

A silenced alarm still changes state, is published and recorded (incidents), but notifies nothing: its
transitions carry ``suppressed = {"reason": "silenced", ...}``, which the notify function and the email
filter policy skip. A silence matches when all its ``--match FIELD=VALUE`` hold, over ``site``,
``owner_team`` (the device registry's), ``sensor_type`` and ``device_id``. A maintenance window is a
silence whose ``--starts`` is in the future. Every silence records who (``--by``, and the caller's AWS ARN),
when and why (``--comment``, required).

The silences live in one item of the stage's alarms table (stack output ``AlarmsTableName``); the ingest
and heartbeat functions re-read it at most every 30 s, so an added or expired silence takes effect within
that.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import replace
from typing import Any

from sensorflow import bootstrap
from sensorflow.cli.alarms_command import resolve_stack
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.operator import aws_session, check_by, end_time, identify, parse_time
from sensorflow.cli.stack_outputs import add_stage_arguments, check_stage
from sensorflow.core import silences as sl
from sensorflow.core.clock import iso
from sensorflow.core.silences import Silence


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "silences",
        help="add, list or expire silences (and maintenance windows) of a stage",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        add_stage_arguments(p)

    add = sub.add_parser(
        "add", help="silence matching alarms for a while (--starts later: a maintenance window)"
    )
    common(add)
    add.add_argument(
        "--match",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="site, owner_team, sensor_type or device_id (repeatable; all must hold)",
    )
    add.add_argument("--for", dest="duration", help="how long, from --starts or now: 30m, 2h, 1d")
    add.add_argument("--until", help="when it ends: an ISO-8601 time with a zone, e.g. 2026-11-29T18:00:00Z")
    add.add_argument("--starts", help="when it begins (default: now), an ISO-8601 time with a zone")
    add.add_argument("--comment", help="why (required; goes with every suppressed event)")
    add.add_argument("--by", help="who silences (default: $USER, else your AWS identity's name)")
    add.set_defaults(func=run)

    lst = sub.add_parser("list", help="list active and scheduled silences")
    common(lst)
    lst.add_argument("--all", action="store_true", help="also those expired in the last 24 hours")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    lst.set_defaults(func=run)

    exp = sub.add_parser("expire", help="end a silence now (a scheduled one never starts)")
    common(exp)
    exp.add_argument("silence_id", help="the silence's id, as `silences list` shows it")
    exp.add_argument("--by", help="who ends it (default: $USER, else your AWS identity's name)")
    exp.set_defaults(func=run)


def new_silence_id() -> str:
    return "s-" + secrets.token_hex(5)


def check_new(args: argparse.Namespace, now_ms: int, silence_id: str = "") -> Silence:
    """The silence ``silences add`` asks for, by a yet unknown operator, or a ``UsageError`` saying what to
    fix. ``created_by`` / ``caller_arn`` are filled in once the caller is identified."""
    try:
        matchers = sl.parse_matchers(args.match)
    except sl.SilenceError as exc:
        raise UsageError(str(exc)) from None
    if not (args.comment or "").strip():
        raise UsageError("--comment TEXT is required: say why (it goes with every suppressed event)")
    start = now_ms
    if args.starts is not None:
        start = max(parse_time(args.starts, "--starts"), now_ms)  # a start in the past means now
    end = end_time(args.duration, args.until, start, now_ms, needed=True)
    assert end is not None
    if end <= start:
        raise UsageError(f"--until {args.until!r} is not after --starts {args.starts!r}")
    check_by(args.by)
    silence = Silence(
        silence_id=silence_id or new_silence_id(),
        matchers=matchers,
        starts_at_ms=start,
        ends_at_ms=end,
        created_by="(the caller)",  # known once STS has answered
        caller_arn=None,
        comment=args.comment.strip(),
        created_at_ms=now_ms,
    )
    try:
        return sl.check_new(silence, now_ms)
    except sl.SilenceError as exc:
        raise UsageError(str(exc)) from None


def run(args: argparse.Namespace, now_ms: int | None = None) -> int:
    check_stage(args.stage)
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    draft = check_new(args, now) if args.action == "add" else None
    if args.action == "expire":
        check_by(args.by)
    session = aws_session(args.region)
    targets = resolve_stack(session.client("cloudformation"), args.stage)
    store = bootstrap.build_silence_store(targets.table, session.client("dynamodb"))
    if args.action == "list":
        return _list(store, args, now)
    operator = identify(session.client("sts"), args.by)
    try:
        if draft is not None:
            silence = replace(draft, created_by=operator.by, caller_arn=operator.caller_arn)
            with aws_errors("add silence"):
                store.add(silence)
            sys.stdout.write(f"{silence.silence_id}: {describe(silence, now)}\n")
        else:
            with aws_errors(f"expire silence {args.silence_id}"):
                ended = store.expire(args.silence_id, now, operator.by, operator.caller_arn)
            sys.stdout.write(f"{ended.silence_id}: expired ({_match_text(ended)})\n")
    except sl.SilenceError as exc:
        raise UsageError(str(exc)) from None
    return 0


def _match_text(silence: Silence) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(silence.matchers.items()))


def describe(silence: Silence, now_ms: int) -> str:
    when = f"until {iso(silence.ends_at_ms)}"
    if silence.status(now_ms) == "scheduled":
        when = f"from {iso(silence.starts_at_ms)} {when} (scheduled)"
    return f"silences {_match_text(silence)} {when}"


def to_json(silence: Silence, now_ms: int) -> dict[str, Any]:
    return {
        **silence.to_doc(),
        "status": silence.status(now_ms),
        "starts_at": iso(silence.starts_at_ms),
        "ends_at": iso(silence.ends_at_ms),
        "created_at": iso(silence.created_at_ms),
    }


def _list(store: Any, args: argparse.Namespace, now_ms: int) -> int:
    with aws_errors("list silences"):
        found = store.list_all(now_ms)
    if not args.all:
        found = [s for s in found if s.status(now_ms) != "expired"]
    if args.json:
        for s in found:
            sys.stdout.write(json.dumps(to_json(s, now_ms), separators=(",", ":")) + "\n")
        return 0
    if not found:
        sys.stdout.write("no silences\n")
        return 0
    header = ("ID", "STATUS", "MATCH", "STARTS", "ENDS", "BY", "COMMENT")
    rows = [
        (
            s.silence_id,
            s.status(now_ms),
            _match_text(s),
            iso(s.starts_at_ms) or "-",
            iso(s.ends_at_ms) or "-",
            s.created_by + (f" (expired by {s.expired_by})" if s.expired_by else ""),
            s.comment,
        )
        for s in found
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0
