"""The stage's silences in the alarms table, the ``SilenceStore`` port: ONE item,
``alarm_id = "__silences__"`` (``item_type = "silences"``, so alarm listings skip it), holding ``silences``
(S, a JSON list of ``Silence.to_doc()``) and an optimistic ``version`` (N).

Every change reads the item (strongly consistent), applies a pure operation of ``sensorflow.core.silences``
(which also prunes the expired ones and enforces ``MAX_ACTIVE_SILENCES``) and writes it back conditional on
the version it read: ``attribute_not_exists(alarm_id) OR version = :expected``. A lost race (two operators
at once) is re-read and re-applied, at most ``max_conflict_retries`` times.

Readers (the ingest and heartbeat functions) match every transition against the active silences, so they
go through ``CachingSilenceStore``: one read per container per ``SILENCE_CACHE_TTL_S``. It caches the whole
list, active *and scheduled*, and filters on the caller's clock at each call, so a maintenance window
begins on time; an expiry by an operator reaches a warm container within the TTL.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed
from sensorflow.adapters.errors import transient
from sensorflow.core import silences as sl
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import SilenceStore, VersionConflictError
from sensorflow.core.silences import Silence

SILENCES_KEY = "__silences__"
CONDITION = "attribute_not_exists(alarm_id) OR version = :expected"
DEFAULT_MAX_CONFLICT_RETRIES = 5
# DynamoDB's item size limit, attribute names included (developer guide, "Quotas in Amazon DynamoDB":
# item size 400 KB); the margin covers the key, item_type, version and the attribute names.
ITEM_MAX_BYTES = 400 * 1024
ITEM_OVERHEAD_BYTES = 1024
SILENCE_CACHE_TTL_S = 30.0
# After a failed refresh a cache that has a copy serves it, and asks again this much later.
SILENCE_CACHE_RETRY_S = 5.0
_DUMPS = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
T = TypeVar("T")


def silences_attr(silences: list[Silence], now_ms: int) -> str:
    """The stored list as JSON; if it would not fit in the item, without the expired ones kept for
    ``silences list --all``; ``SilenceLimitError`` if even the live ones do not fit."""
    body = _DUMPS([s.to_doc() for s in silences])
    if len(body.encode()) <= ITEM_MAX_BYTES - ITEM_OVERHEAD_BYTES:
        return body
    live = [s for s in silences if s.ends_at_ms > now_ms]
    body = _DUMPS([s.to_doc() for s in live])
    if len(body.encode()) <= ITEM_MAX_BYTES - ITEM_OVERHEAD_BYTES:
        return body
    raise sl.SilenceLimitError(
        f"the stage's {len(live)} silences no longer fit in one DynamoDB item (400 KB); "
        "expire some or use shorter comments"
    )


def silences_from(body: str) -> list[Silence]:
    """The stored list; an entry that is not a silence (a hand-edited item) is left out, so one bad entry
    cannot stop every ingest batch (and the next write drops it)."""
    out = []
    for doc in json.loads(body):
        try:
            out.append(Silence.from_doc(doc))
        except sl.SilenceError:
            continue
    return out


class DynamoSilenceStore:
    def __init__(
        self,
        table_name: str,
        client: Any = None,
        max_conflict_retries: int = DEFAULT_MAX_CONFLICT_RETRIES,
    ) -> None:
        self._table = table_name
        self._client = client
        self._retries = max_conflict_retries

    client = clients.lazy_client("dynamodb")

    def active(self, now_ms: int) -> list[Silence]:
        return [s for s in self._read()[0] if s.active_at(now_ms)]

    def list_all(self, now_ms: int) -> list[Silence]:
        return sl.pruned(self._read()[0], now_ms)

    def add(self, silence: Silence) -> None:
        """Store ``silence`` (its ``created_at_ms`` is the time of the change)."""
        now = silence.created_at_ms
        self._change(now, lambda current: (sl.with_added(current, silence, now), None))

    def expire(self, silence_id: str, now_ms: int, who: str, caller_arn: str | None = None) -> Silence:
        return self._change(
            now_ms, lambda current: sl.with_expired(current, silence_id, now_ms, who, caller_arn)
        )

    # --- one item, read and written under its version ----------------------------------------------------

    def _read(self) -> tuple[list[Silence], int]:
        with transient("dynamodb:GetItem silences"):
            item = self.client.get_item(
                TableName=self._table, Key={"alarm_id": {"S": SILENCES_KEY}}, ConsistentRead=True
            ).get("Item")
        if not item:
            return [], 0
        body = item.get("silences", {}).get("S", "[]")
        return silences_from(body), int(item.get("version", {}).get("N", "0"))

    def _change(self, now_ms: int, apply: Callable[[list[Silence]], tuple[list[Silence], T]]) -> T:
        for _ in range(self._retries + 1):
            current, version = self._read()
            new, result = apply(current)  # a SilenceError propagates: nothing is written
            try:
                self._write(new, version, now_ms)
            except VersionConflictError:
                continue
            return result
        raise VersionConflictError(f"the silences kept changing ({self._retries} retries); try again")

    def _write(self, silences: list[Silence], version: int, now_ms: int) -> None:
        item = {
            "alarm_id": {"S": SILENCES_KEY},
            "item_type": {"S": "silences"},
            "silences": {"S": silences_attr(silences, now_ms)},
            "version": {"N": str(version + 1)},
        }
        try:
            with transient("dynamodb:PutItem silences"):
                self.client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=CONDITION,
                    ExpressionAttributeValues={":expected": {"N": str(version)}},
                )
        except TransientError as exc:
            if condition_failed(exc):
                raise VersionConflictError(f"silences changed since version {version}") from exc
            raise


class CachingSilenceStore:
    """Wraps a ``SilenceStore`` for the readers: ``active`` reads the store at most once per ``ttl_s``
    (``clock`` in seconds, injected for tests). A failed refresh serves the copy it has (retrying after
    ``SILENCE_CACHE_RETRY_S``) and raises ``TransientError`` only when it has none. Writes go straight
    through and drop the copy."""

    def __init__(
        self,
        store: SilenceStore,
        ttl_s: float = SILENCE_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl_s
        self._clock = clock
        self._copy: list[Silence] | None = None
        self._fresh_until = 0.0

    def active(self, now_ms: int) -> list[Silence]:
        now = self._clock()
        if self._copy is None or now >= self._fresh_until:
            try:
                self._copy = self._store.list_all(now_ms)
                self._fresh_until = now + self._ttl
            except TransientError:
                if self._copy is None:
                    raise
                self._fresh_until = now + SILENCE_CACHE_RETRY_S
        return [s for s in self._copy if s.active_at(now_ms)]

    def list_all(self, now_ms: int) -> list[Silence]:
        return self._store.list_all(now_ms)

    def add(self, silence: Silence) -> None:
        self._copy = None
        self._store.add(silence)

    def expire(self, silence_id: str, now_ms: int, who: str, caller_arn: str | None = None) -> Silence:
        self._copy = None
        return self._store.expire(silence_id, now_ms, who, caller_arn)
