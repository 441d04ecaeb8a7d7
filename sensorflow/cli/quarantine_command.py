"""``sensorflow quarantine list|show|redrive``: inspect a stage's quarantined records and re-publish them.

``list`` counts the matching records by reason and by UTC day, then lists them newest first (``--limit``).
``show ID`` prints one record: its reason and detail, the payload decoded as far as it goes (framing, header,
each field up to the failure), a hex dump, and its redrive history. ``redrive`` re-publishes the exact
bytes of the chosen records (ids, or the filters) to the stage's stream with their partition key, for
example once an ``unknown_device`` is registered or a schema is fixed; ``--dry-run`` says what it would do.

Ids are ``KEY#INDEX`` (the quarantine object and line, as ``list`` prints them) or a content-hash prefix (at
least 8 hex characters). The redrive is idempotent: each attempt is recorded beside the quarantine, under
``redrives/<sha256 of the bytes>/`` (``core.redrive``), and a record is published again only after it came
back to the quarantine, at most ``--max-attempts`` times; a quarantine object is never rewritten.

The bucket and stream come from the outputs of stack ``sensorflow-<stage>`` (``QuarantineBucketName``,
``SensorStreamName``); the local cloud is reached through ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from typing import Any

from sensorflow.adapters.kinesis_republisher import KinesisRepublisher
from sensorflow.adapters.s3_quarantine_reader import QuarantineObjectNotFoundError, S3QuarantineReader
from sensorflow.adapters.s3_redrive_ledger import S3RedriveLedger
from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.cli.operator import aws_session, check_by, identify, parse_duration, parse_time
from sensorflow.cli.quarantine_redrive import Caller, RedriveResult, RedriveService
from sensorflow.cli.quarantine_view import record_json, render_list, render_show, show_json, write_json
from sensorflow.cli.stack_outputs import add_stage_arguments, check_stage, read_outputs, require_output
from sensorflow.core import quarantined as qr
from sensorflow.core.quarantined import QuarantinedRecord
from sensorflow.core.redrive import DEFAULT_MAX_ATTEMPTS, History, history

BUCKET_OUTPUT, STREAM_OUTPUT = "QuarantineBucketName", "SensorStreamName"
DEFAULT_LIMIT = 20
_RELATIVE = re.compile(r"(\d+[dhms])+")
_REASON = re.compile(r"[a-z0-9_]{1,64}")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "quarantine",
        help="list, show or redrive a stage's quarantined records",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def common(p: argparse.ArgumentParser, filters: bool = True) -> None:
        add_stage_arguments(p)
        p.add_argument("--json", action="store_true", help="machine-readable output")
        if filters:
            p.add_argument("--reason", help="only this quarantine reason, e.g. unknown_device")
            p.add_argument("--since", help="arrived since: 2h, 7d, 1d12h, or an ISO-8601 time with a zone")
            p.add_argument("--device", help="only this device id (or partition key)")

    lst = sub.add_parser("list", help="counts by reason and by day, then the records, newest first")
    common(lst)
    lst.add_argument("--limit", default=str(DEFAULT_LIMIT), help=f"records listed (default {DEFAULT_LIMIT})")
    lst.set_defaults(func=run)

    show = sub.add_parser("show", help="one record: detail, partial decode, hex dump and redrive history")
    common(show, filters=False)
    show.add_argument("record", metavar="ID", help="KEY#INDEX or a content-hash prefix, as `list` prints")
    show.set_defaults(func=run)

    redrive = sub.add_parser("redrive", help="re-publish records to the stream (ids, or the filters)")
    common(redrive)
    redrive.add_argument("records", metavar="ID", nargs="*", help="KEY#INDEX or content-hash prefixes")
    redrive.add_argument("--dry-run", action="store_true", help="say what would be redriven; publish nothing")
    redrive.add_argument(
        "--max-attempts",
        default=str(DEFAULT_MAX_ATTEMPTS),
        help=f"refuse a record redriven this many times (default {DEFAULT_MAX_ATTEMPTS})",
    )
    redrive.add_argument("--by", help="who redrives (default: $USER, else your AWS identity's name)")
    redrive.set_defaults(func=run)


# --- flags ----------------------------------------------------------------------------------------------


def parse_since(text: str | None, now_ms: int) -> int | None:
    """``--since``: a duration back from now (``2h``, ``7d``, ``1d12h``) or an ISO-8601 instant."""
    if text is None:
        return None
    if _RELATIVE.fullmatch(text.strip()):
        return now_ms - parse_duration(text, "--since")
    if not text.strip()[:1].isdigit():
        raise UsageError(
            f"--since {text!r} is neither a duration nor a time; use e.g. 2h, 7d or 2026-11-29T18:00:00Z"
        )
    since = parse_time(text.strip(), "--since")
    if since > now_ms:
        raise UsageError(f"--since {text!r} is in the future; give a past time or a duration like 2h")
    return since


def positive(text: str, flag: str, example: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise UsageError(f"{flag} {text!r} is not a positive whole number; use e.g. {flag} {example}")
    return int(text)


def check_filters(args: argparse.Namespace) -> None:
    if args.reason is not None and not _REASON.fullmatch(args.reason):
        raise UsageError(
            f"--reason {args.reason!r} is not a quarantine reason (lower case, digits and '_', "
            "e.g. unknown_device); `sensorflow quarantine list` counts the reasons present"
        )
    if args.device is not None and not args.device.strip():
        raise UsageError("--device is empty; give a device id, e.g. --device dev-00042")


def check_args(args: argparse.Namespace, now_ms: int) -> int | None:
    """Every flag checked before any AWS call; the ``--since`` instant."""
    check_stage(args.stage)
    if args.action == "show":
        if qr.split_id(args.record) is None and not qr.is_hash_prefix(args.record):
            raise UsageError(_bad_id(args.record))
        return None
    check_filters(args)
    since = parse_since(args.since, now_ms)
    if args.action == "list":
        positive(args.limit, "--limit", "50")
    if args.action == "redrive":
        positive(args.max_attempts, "--max-attempts", "3")
        check_by(args.by)
        for text in args.records:
            if qr.split_id(text) is None and not qr.is_hash_prefix(text):
                raise UsageError(_bad_id(text))
        if not args.records and args.reason is None and args.since is None and args.device is None:
            raise UsageError(
                "say what to redrive: give IDs (as `quarantine list` prints them) "
                "or --reason/--since/--device"
            )
    return since


def _bad_id(text: str) -> str:
    return (
        f"{text!r} is not a record id; give KEY#INDEX or a content-hash prefix of at least "
        f"{qr.HASH_PREFIX_MIN} hex characters, as `sensorflow quarantine list` prints them"
    )


# --- running --------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, now_ms: int | None = None) -> int:
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    since = check_args(args, now)
    session = aws_session(args.region)
    outputs = read_outputs(session.client("cloudformation"), args.stage)
    bucket = require_output(outputs, BUCKET_OUTPUT, args.stage, "deploy a version with the quarantine bucket")
    s3 = session.client("s3")
    reader, ledger = S3QuarantineReader(bucket, s3), S3RedriveLedger(bucket, s3)
    if args.action == "list":
        return _list(reader, ledger, args, since)
    if args.action == "show":
        return _show(reader, ledger, args)
    stream = require_output(outputs, STREAM_OUTPUT, args.stage, "deploy a version with the sensor stream")
    service = RedriveService(
        ledger,
        KinesisRepublisher(stream, session.client("kinesis")),
        lambda: time.time_ns() // 1_000_000,
        positive(args.max_attempts, "--max-attempts", "3"),
    )
    return _redrive(reader, ledger, service, session, args, since)


def _list(
    reader: S3QuarantineReader, ledger: S3RedriveLedger, args: argparse.Namespace, since: int | None
) -> int:
    with aws_errors("read the quarantine"):
        found = reader.entries(since, args.reason, args.device)
        redrives = ledger.attempt_counts()
    limit = positive(args.limit, "--limit", "50")
    counts = qr.count(found)
    shown = qr.newest_first(found)[:limit]
    if args.json:
        write_json(
            {
                "counts": counts.to_json(),
                "records": [{**record_json(r), "redrives": redrives.get(r.content_hash, 0)} for r in shown],
                "listed": len(shown),
            }
        )
    else:
        sys.stdout.write(render_list(counts, shown, redrives))
    return 0


def resolve(reader: S3QuarantineReader, text: str) -> QuarantinedRecord:
    """The record an id names (``KEY#INDEX``, or the newest copy of a content-hash prefix)."""
    parts = qr.split_id(text)
    if parts is not None:
        key, index = parts
        with aws_errors(f"read {key}"):
            try:
                records = reader.read(key)
            except QuarantineObjectNotFoundError:
                raise UsageError(
                    f"no quarantine object {key}; take an id from `sensorflow quarantine list`"
                ) from None
        for r in records:
            if r.index == index:
                return r
        raise UsageError(f"{key} has no record at line {index}; take an id from `sensorflow quarantine list`")
    with aws_errors("read the quarantine"):
        found = [r for r in reader.entries() if r.content_hash.startswith(text)]
    hashes = {r.content_hash for r in found}
    if not found:
        raise UsageError(f"no quarantined record has a content hash starting {text!r}")
    if len(hashes) > 1:
        raise UsageError(
            f"content hash prefix {text!r} is ambiguous ({len(hashes)} payloads); give more of it"
        )
    return qr.newest_first(found)[0]


def _history(
    reader: S3QuarantineReader, ledger: S3RedriveLedger, records: Sequence[QuarantinedRecord]
) -> History:
    """One payload's history: its copies quarantined since its first redrive (and ``records``), its
    attempts."""
    content_hash = records[0].content_hash
    with aws_errors("read the redrive ledger"):
        attempts = ledger.attempts(content_hash)
        known = list(records)
        if attempts:
            known += reader.entries(since_ms=min(a.claimed_at_ms for a in attempts))
    return history(content_hash, known, attempts)


def _show(reader: S3QuarantineReader, ledger: S3RedriveLedger, args: argparse.Namespace) -> int:
    record = resolve(reader, args.record)
    past = _history(reader, ledger, [record])
    if args.json:
        write_json(show_json(record, past))
    else:
        sys.stdout.write(render_show(record, past))
    return 0


def _select(
    reader: S3QuarantineReader, args: argparse.Namespace, since: int | None
) -> list[QuarantinedRecord]:
    chosen = [resolve(reader, text) for text in args.records]
    if args.reason is not None or args.since is not None or args.device is not None:
        with aws_errors("read the quarantine"):
            chosen += reader.entries(since, args.reason, args.device)
    return chosen


def _redrive(
    reader: S3QuarantineReader,
    ledger: S3RedriveLedger,
    service: RedriveService,
    session: Any,
    args: argparse.Namespace,
    since: int | None,
) -> int:
    chosen = _select(reader, args, since)
    if not chosen:
        sys.stdout.write("no quarantined record matches; nothing redriven\n")
        return 0
    caller = Caller("(dry run)", None)
    if not args.dry_run:
        operator = identify(session.client("sts"), args.by)
        caller = Caller(operator.by, operator.caller_arn)
    with aws_errors("redrive"):
        known = _returns(reader, ledger, chosen)
        results = service.redrive(chosen, known, caller, args.dry_run)
    _report(results, args.json)
    return 1 if any(r.status in ("rejected", "unknown", "raced") for r in results) else 0


def _returns(
    reader: S3QuarantineReader, ledger: S3RedriveLedger, chosen: Sequence[QuarantinedRecord]
) -> list[QuarantinedRecord]:
    """The quarantined copies that may be returns of earlier attempts: read only when some chosen payload
    was redriven before, and only since its oldest claim."""
    counts = ledger.attempt_counts()
    redriven = {r.content_hash for r in chosen if counts.get(r.content_hash)}
    if not redriven:
        return []
    oldest = min(a.claimed_at_ms for h in redriven for a in ledger.attempts(h))
    return reader.entries(since_ms=oldest)


def _report(results: Sequence[RedriveResult], as_json: bool) -> None:
    if as_json:
        for r in results:
            sys.stdout.write(json.dumps(r.to_json(), separators=(",", ":")) + "\n")
        return
    for r in results:
        where = f" -> {r.shard_id} {r.sequence_number}" if r.sequence_number else ""
        why = f": {r.message}" if r.message else ""
        attempt = "" if r.status == "refused" else f"  attempt {r.attempt}"
        sys.stdout.write(f"{r.status:<13} {r.record.record_id}{attempt}{where}{why}\n")
    totals: dict[str, int] = {}
    for r in results:
        totals[r.status] = totals.get(r.status, 0) + 1
    sys.stdout.write(", ".join(f"{status} {n}" for status, n in sorted(totals.items())) + "\n")
