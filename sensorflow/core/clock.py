"""The contract's time format: ISO-8601 UTC with milliseconds and a ``Z`` (``2026-11-29T18:00:00.000Z``)."""

from __future__ import annotations

from datetime import UTC, datetime


def ms_to_iso(ms: int) -> str:
    """Epoch milliseconds as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso(ms: int | None) -> str | None:
    """``ms_to_iso``, passing ``None`` through (optional times in the contract are ``null``)."""
    return None if ms is None else ms_to_iso(ms)


def iso_to_ms(value: str) -> int:
    """Parse an ISO-8601 time that carries a zone (``Z`` or an offset); ``ValueError`` says why not."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone (expected UTC, e.g. ...Z)")
    return int(parsed.timestamp() * 1000)
