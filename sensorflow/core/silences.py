"""Silences: time-bounded selectors whose matching alarms still change state and are recorded, but notify
nothing (Alertmanager's silences; a maintenance window is a silence that starts in the future).

A ``Silence`` matches an alarm's transition when every one of its matchers holds, exactly (no globs): a
field of the transition's device context (``site``, ``owner_team``) or of the alarm (``sensor_type``,
``device_id``). It is active from ``starts_at_ms`` (inclusive) to ``ends_at_ms`` (exclusive).

The list operations (``with_added``, ``with_expired``, ``pruned``) are pure, so the store adapter only reads,
applies one of them and writes conditionally. Pure: no AWS SDK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sensorflow.core.clock import iso
from sensorflow.core.limits import SILENCE_COMMENT_MAX_CHARS

MATCH_FIELDS = ("site", "owner_team", "sensor_type", "device_id")
# Active and scheduled silences one stage may hold: they live in one DynamoDB item, and every ingest and
# heartbeat container matches each transition against all of them.
MAX_ACTIVE_SILENCES = 500
# Expired silences are kept this long (and at most this many), so `silences list --all` shows who ended what.
EXPIRED_RETENTION_MS = 24 * 3_600_000
MAX_EXPIRED_KEPT = 100
# Text limits keep 500 silences well inside DynamoDB's 400 KB item (see adapters.dynamodb_silences).
MAX_COMMENT_CHARS = SILENCE_COMMENT_MAX_CHARS
MAX_VALUE_CHARS = 128


class SilenceError(ValueError):
    """A silence that cannot be created or changed; the message says what is wrong and how to fix it."""


class SilenceLimitError(SilenceError):
    """Adding would exceed ``MAX_ACTIVE_SILENCES``."""


class UnknownSilenceError(SilenceError):
    """No active or scheduled silence has that id."""


@dataclass(frozen=True, slots=True)
class Silence:
    silence_id: str
    matchers: Mapping[str, str]
    starts_at_ms: int
    ends_at_ms: int
    created_by: str
    caller_arn: str | None
    comment: str
    created_at_ms: int
    expired_by: str | None = None  # set by `silences expire` (which also moves ends_at_ms to then)
    expired_by_arn: str | None = None

    def active_at(self, ms: int) -> bool:
        return self.starts_at_ms <= ms < self.ends_at_ms

    def status(self, now_ms: int) -> str:
        """``scheduled`` (a maintenance window not begun), ``active`` or ``expired``."""
        if now_ms >= self.ends_at_ms:
            return "expired"
        return "active" if now_ms >= self.starts_at_ms else "scheduled"

    def matches(self, device: Mapping[str, Any], sensor_type: str, device_id: str) -> bool:
        """Every matcher holds for a transition of ``device_id``'s ``sensor_type`` alarm, ``device`` being
        the transition's device context (``site``, ``owner_team``; an unknown value never matches)."""
        for name, value in self.matchers.items():
            if name == "sensor_type":
                actual: Any = sensor_type
            elif name == "device_id":
                actual = device_id
            else:
                actual = device.get(name)
            if actual != value:
                return False
        return True

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "silence_id": self.silence_id,
            "matchers": dict(sorted(self.matchers.items())),
            "starts_at_ms": self.starts_at_ms,
            "ends_at_ms": self.ends_at_ms,
            "created_by": self.created_by,
            "caller_arn": self.caller_arn,
            "comment": self.comment,
            "created_at_ms": self.created_at_ms,
        }
        if self.expired_by is not None or self.expired_by_arn is not None:
            doc.update(expired_by=self.expired_by, expired_by_arn=self.expired_by_arn)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Silence:
        """The stored form back; ``SilenceError`` if it is not one (a hand-edited item)."""
        try:
            matchers = doc["matchers"]
            if not isinstance(matchers, Mapping) or not matchers:
                raise TypeError("matchers")
            return cls(
                silence_id=str(doc["silence_id"]),
                matchers={str(k): str(v) for k, v in matchers.items()},
                starts_at_ms=int(doc["starts_at_ms"]),
                ends_at_ms=int(doc["ends_at_ms"]),
                created_by=str(doc["created_by"]),
                caller_arn=_optional(doc.get("caller_arn")),
                comment=str(doc.get("comment") or ""),
                created_at_ms=int(doc["created_at_ms"]),
                expired_by=_optional(doc.get("expired_by")),
                expired_by_arn=_optional(doc.get("expired_by_arn")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SilenceError(f"not a stored silence ({exc}): {dict(doc)!r:.200}") from None


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def parse_matchers(items: Sequence[str]) -> dict[str, str]:
    """``["site=plant-a", "sensor_type=co2"]`` -> ``{"site": "plant-a", "sensor_type": "co2"}``.

    ``SilenceError`` names the bad item: not ``FIELD=VALUE``, an unknown field, an empty or too long
    value, one field given two values (all matchers must hold, so that silence could never match), none.
    """
    if not items:
        raise SilenceError(
            "a silence needs at least one --match FIELD=VALUE (fields: " + ", ".join(MATCH_FIELDS) + ")"
        )
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise SilenceError(f"--match {item!r} is not FIELD=VALUE, e.g. site=plant-a")
        if name not in MATCH_FIELDS:
            raise SilenceError(
                f"--match {item!r}: unknown field {name!r}; use one of " + ", ".join(MATCH_FIELDS)
            )
        if not value:
            raise SilenceError(f"--match {item!r} has no value; e.g. {name}=plant-a")
        if len(value) > MAX_VALUE_CHARS:
            raise SilenceError(f"--match {item!r}: the value is longer than {MAX_VALUE_CHARS} characters")
        if out.get(name, value) != value:
            raise SilenceError(
                f"--match {item!r}: {name} is already matched to {out[name]!r}; a silence needs all its "
                "matchers to hold, so give each field one value (create one silence per value)"
            )
        out[name] = value
    return out


def check_new(silence: Silence, now_ms: int) -> Silence:
    """``silence`` itself if it can be created at ``now_ms``, else ``SilenceError`` saying why."""
    parse_matchers([f"{k}={v}" for k, v in silence.matchers.items()])
    if not silence.silence_id:
        raise SilenceError("a silence needs an id")
    if not silence.comment.strip():
        raise SilenceError("a silence needs a --comment saying why (it goes with every suppressed event)")
    if len(silence.comment) > MAX_COMMENT_CHARS:
        raise SilenceError(f"--comment is longer than {MAX_COMMENT_CHARS} characters; shorten it")
    if not silence.created_by.strip():
        raise SilenceError("a silence needs who creates it (--by NAME)")
    if silence.ends_at_ms <= now_ms:
        raise SilenceError(f"the silence would end at {iso(silence.ends_at_ms)}, which is not in the future")
    if silence.ends_at_ms <= silence.starts_at_ms:
        raise SilenceError(
            f"the silence would end at {iso(silence.ends_at_ms)}, not after it starts at "
            f"{iso(silence.starts_at_ms)}; pass a later --until or a shorter --starts"
        )
    return silence


def order(silences: Iterable[Silence]) -> list[Silence]:
    """The deterministic precedence: the silence that ends last first, then by id."""
    return sorted(silences, key=lambda s: (-s.ends_at_ms, s.silence_id))


def active_silence(
    silences: Iterable[Silence],
    device_ctx: Mapping[str, Any],
    sensor_type: str,
    device_id: str,
    at_ms: int,
) -> Silence | None:
    """The silence that suppresses a transition at ``at_ms``: of the active ones that match, the one
    ending last (ties by id), so the same silences always give the same answer."""
    found = [s for s in silences if s.active_at(at_ms) and s.matches(device_ctx, sensor_type, device_id)]
    return order(found)[0] if found else None


def suppression_of(silence: Silence) -> dict[str, Any]:
    """The transition's ``suppressed`` document for an event ``silence`` suppresses."""
    return {
        "reason": "silenced",
        "silence_id": silence.silence_id,
        "created_by": silence.created_by,
        "comment": silence.comment,
        "ends_at": iso(silence.ends_at_ms),
    }


# --- the stored list: pure operations the store applies under its version check ----------------------


def pruned(silences: Iterable[Silence], now_ms: int) -> list[Silence]:
    """Active and scheduled silences, plus the expired ones still within ``EXPIRED_RETENTION_MS`` (the
    newest ``MAX_EXPIRED_KEPT`` of them); precedence order."""
    live = [s for s in silences if s.ends_at_ms > now_ms]
    ended = sorted(
        (s for s in silences if now_ms - EXPIRED_RETENTION_MS < s.ends_at_ms <= now_ms),
        key=lambda s: (-s.ends_at_ms, s.silence_id),
    )
    return order(live) + ended[:MAX_EXPIRED_KEPT]


def with_added(silences: Iterable[Silence], new: Silence, now_ms: int) -> list[Silence]:
    """The stored list with ``new`` in it, pruned; ``SilenceLimitError`` past ``MAX_ACTIVE_SILENCES``."""
    check_new(new, now_ms)
    current = pruned(silences, now_ms)
    if any(s.silence_id == new.silence_id for s in current):
        raise SilenceError(f"a silence with id {new.silence_id!r} already exists")
    live = sum(1 for s in current if s.ends_at_ms > now_ms)
    if live >= MAX_ACTIVE_SILENCES:
        raise SilenceLimitError(
            f"this stage already has {live} active or scheduled silences (at most {MAX_ACTIVE_SILENCES}); "
            "expire some (`sensorflow silences list` shows them) or use a broader matcher"
        )
    return pruned([*current, new], now_ms)


def with_expired(
    silences: Iterable[Silence], silence_id: str, now_ms: int, who: str, caller_arn: str | None = None
) -> tuple[list[Silence], Silence]:
    """The stored list with ``silence_id`` ended at ``now_ms`` (a scheduled one never starts), and it."""
    current = pruned(silences, now_ms)
    found = next((s for s in current if s.silence_id == silence_id), None)
    if found is None or found.ends_at_ms <= now_ms:
        state = "already expired" if found is not None else "not found"
        raise UnknownSilenceError(
            f"silence {silence_id!r} is {state}; `sensorflow silences list` shows the active and "
            "scheduled ones"
        )
    ended = replace(
        found,
        starts_at_ms=min(found.starts_at_ms, now_ms),
        ends_at_ms=now_ms,
        expired_by=who,
        expired_by_arn=caller_arn,
    )
    return pruned([ended if s.silence_id == silence_id else s for s in current], now_ms), ended
