"""What the operator commands (``sensorflow alarms``, ``sensorflow silences``) share: who acts, and when.

Every operator action records two identities: ``--by`` (a name people read; default ``$USER``, else the
last segment of the caller's ARN) and the caller's AWS identity, the ARN STS ``GetCallerIdentity``
returns for the credentials in use (it needs no IAM permission, so any caller that can act can be
identified). Times are durations (``--for 2h``) or ISO-8601 instants with a zone (``--until``,
``--starts``); each bad value is a ``UsageError`` that says what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sensorflow.cli.errors import UsageError, aws_errors
from sensorflow.core.limits import OPERATOR_NAME_MAX_CHARS

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


@dataclass(frozen=True, slots=True)
class Operator:
    by: str  # --by, or its default
    caller_arn: str  # STS GetCallerIdentity's Arn


def aws_session(region: str | None) -> Any:
    """A boto3 session (boto3 is imported only here, so ``--help`` stays fast)."""
    import boto3

    with aws_errors("connect to AWS"):
        return boto3.session.Session(region_name=region)


def check_by(by: str | None) -> str | None:
    """``--by`` as given (``None``: take the default once the caller is known); an empty one is refused."""
    if by is not None and not by.strip():
        raise UsageError("--by is empty: say who acts with --by NAME, or leave it out to use $USER")
    if by is not None and len(by.strip()) > OPERATOR_NAME_MAX_CHARS:
        raise UsageError(f"--by is longer than {OPERATOR_NAME_MAX_CHARS} characters; give a shorter name")
    return by.strip() if by is not None else None


def arn_name(arn: str) -> str:
    """The last segment of an ARN: the user, or an assumed role's session name (``.../role/ana`` -> ana)."""
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def identify(sts: Any, by: str | None) -> Operator:
    """The caller, from STS ``GetCallerIdentity``; ``by`` defaults to ``$USER``, else the ARN's last part."""
    with aws_errors("identify the caller (sts:GetCallerIdentity)"):
        arn = str(sts.get_caller_identity()["Arn"])
    return Operator(check_by(by) or os.environ.get("USER") or arn_name(arn), arn)


def parse_duration(text: str, flag: str = "--for") -> int:
    """``30m``, ``2h``, ``1h30m``, ``1d``, ``90s`` -> milliseconds."""
    m = _DURATION.fullmatch(text.strip())
    if not text.strip() or not m or not any(m.groups()):
        raise UsageError(f"{flag} {text!r} is not a duration; use e.g. 30m, 2h, 1h30m, 1d or 90s")
    d, h, mi, s = (int(g or 0) for g in m.groups())
    ms = ((d * 24 + h) * 60 + mi) * 60_000 + s * 1000
    if ms <= 0:
        raise UsageError(f"{flag} {text!r} must be longer than zero")
    return ms


def parse_time(text: str, flag: str) -> int:
    """An ISO-8601 instant with a zone -> epoch milliseconds."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an ISO-8601 time, e.g. 2026-11-29T18:00:00Z") from None
    if when.tzinfo is None:
        raise UsageError(f"{flag} {text!r} has no time zone; add Z for UTC or an offset like +01:00")
    return int(when.astimezone(UTC).timestamp() * 1000)


def end_time(duration: str | None, until: str | None, start_ms: int, now_ms: int, needed: bool) -> int | None:
    """The end of a snooze, silence or disable: ``--for`` (from ``start_ms``) or ``--until``, not both;
    ``None`` when neither is given and ``needed`` is false."""
    if duration is not None and until is not None:
        raise UsageError("give --for DURATION or --until TIME, not both")
    if duration is not None:
        return start_ms + parse_duration(duration)
    if until is None:
        if needed:
            raise UsageError(
                "say until when: --for DURATION (e.g. 2h) or --until TIME (e.g. 2026-11-29T18:00:00Z)"
            )
        return None
    end = parse_time(until, "--until")
    if end <= now_ms:
        raise UsageError(f"--until {until!r} is not in the future")
    return end
