"""Alarm state in the DynamoDB alarms table (``ALARMS_TABLE_NAME``), the ``AlarmStore`` port.

Table: partition key ``alarm_id`` (S), on-demand. **One item per device**, ``alarm_id =
"<device_id>#__device__"`` (``item_type = "device"``), holding everything a reading of that device can
change, so a Kinesis batch writes at most one item per distinct device:

- ``state`` (S): one compact JSON document, decoded once per batch: the replay guard and per-sensor memory
  (newest device time, value, stale_after), the device context, the staleness flags, and every alarm of
  the device that is not fresh, as a fixed-order array per alarm (``ALARM_FIELDS``);
- ``outbox`` (L of S) while the transitions written with the state are not yet confirmed published, in
  the order they happened (each a transition document, or ``{"event", "pending"}`` when only some
  publishers still need it);
- ``version`` (N), ``device_id`` (S), and the staleness index keys below.

Every write is conditional on the optimistic ``version``:
``attribute_not_exists(alarm_id) OR version = :expected``, and sets ``version = expected + 1``. A lost race
(an operator action, the heartbeat, an overlapping batch) raises ``VersionConflictError``; the caller
re-reads and re-applies (the state machine is deterministic, so re-applying is safe).

Staleness index (design shared with the heartbeat, ``sensorflow.core.staleness``): the item carries
``stale_bucket`` (S, ``"<deadline minute>#<shard>"``, never a minute before the write: the bucket is computed
with the store's clock when the item is written, ``DeviceState.stale_bucket_at``) and ``stale_due_ms`` (N, the
first instant of that minute). A sparse, keys-only GSI ``stale-due`` on them holds only device items with a
deadline. Each heartbeat run Queries just the buckets of the minutes that have come due since its last run,
never scanning the fleet, then reads those items (BatchGetItem) and decides on the exact deadline in their
state. Keys only, and keys that move once a minute: an ALL projection would be rewritten by every write of the
item (DynamoDB developer guide, "Provisioned throughput considerations for global secondary indexes").
Sharding a minute over ``STALE_BUCKET_SHARDS`` partitions keeps one minute's deadlines under a GSI
partition's write rate (1,000 WCU/s, "Partitions and data distribution"). ``stale_since_ms`` is a top-level
attribute too while the device is stale, so ``list_alarms`` can filter on it. ``outbox_attempts`` (N) counts
the heartbeat runs that failed to publish the outbox (``defer_outbox``, which may also move the bucket to a
later retry minute); a put or an emptying clear drops it.

Items of the earlier layout (one item per alarm, ``item_type = "alarm"``) are not read: a stage upgraded
in place starts its alarms fresh (README, "State model").
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed, from_attribute, to_attribute
from sensorflow.adapters.errors import transient
from sensorflow.core import staleness
from sensorflow.core.alarms import Alarm, DeviceState, SensorSeen
from sensorflow.core.backoff import jittered_delay
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import (
    StoredAlarm,
    StoredDevice,
    StoredTransition,
    TransitionLike,
    VersionConflictError,
)

BATCH_GET_MAX_KEYS = 100  # DynamoDB BatchGetItem: at most 100 keys per call (API reference, BatchGetItem)
BATCH_GET_MAX_ROUNDS = 8  # UnprocessedKeys re-requests before giving up with a TransientError
# UnprocessedKeys means throttling; the SDK's retries do not cover it, and AWS asks for exponential backoff
# before asking again (DynamoDB API reference, BatchGetItem). Full jitter, capped.
BATCH_GET_BASE_DELAY_S = 0.05
BATCH_GET_MAX_DELAY_S = 1.0
STALE_INDEX = "stale-due"
CONDITION = "attribute_not_exists(alarm_id) OR version = :expected"
STATE_FORMAT = 2  # the ``state`` document's layout; bump with a reader for the old one

# The alarm fields stored, in array order. ``alarm_id``, ``device_id``, ``sensor_type`` and ``rule_id`` are
# the key ``<sensor_type>#<rule_id>`` plus the item's device id.
ALARM_FIELDS = (
    "state",
    "severity",
    "raised",
    "announced",
    "since_ms",
    "pending_since_ms",
    "critical_since_ms",
    "window",
    "bound",
    "threshold",
    "clear_threshold",
    "acknowledged_by",
    "acknowledged_at_ms",
    "note",
    "snoozed_until_ms",
    "updated_by",
    "updated_at_ms",
    "episode",
    "reminders",
    "caller_arn",
    "disabled_until_ms",
)
# Arrays written before a field was added are shorter: the missing trailing fields take their defaults.
_ALARM_DEFAULTS = {"episode": 0, "reminders": 0, "caller_arn": None, "disabled_until_ms": None}
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode


def outbox_attr(outbox: Sequence[TransitionLike]) -> dict[str, Any]:
    """Outbox entries as JSON strings: the event document, wrapped with the publishers still owed it."""
    entries = []
    for t in outbox:
        pending = getattr(t, "pending", None)
        body = t.to_message() if pending is None else {"event": t.to_message(), "pending": list(pending)}
        entries.append({"S": _DUMPS(body)})
    return {"L": entries}


def outbox_from(raw: Sequence[str]) -> tuple[StoredTransition, ...]:
    out = []
    for body in (json.loads(s) for s in raw):
        if "pending" in body and "event" in body:
            out.append(StoredTransition(body["event"]["event_id"], body["event"], tuple(body["pending"])))
        else:
            out.append(StoredTransition(body["event_id"], body))
    return tuple(out)


def state_document(state: DeviceState, alarms: Mapping[str, Alarm]) -> str:
    prefix = state.device_id + "#"
    return _DUMPS(
        {
            "f": STATE_FORMAT,
            "q": str(state.last_sequence),  # a Kinesis sequence number is up to 128 bits: kept as text
            "l": state.last_seen_ms,
            "s": {k: [s.timestamp_ms, s.value, s.stale_after_s] for k, s in state.sensors.items()},
            "c": state.context,
            "x": [
                state.stale_since_ms,
                state.stale_event_id,
                state.stale_episode,
                state.wake_ms,
                state.stale_held,
            ],
            "a": {
                key.removeprefix(prefix): [getattr(a, f) for f in ALARM_FIELDS] for key, a in alarms.items()
            },
        }
    )


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def device_item(
    state: DeviceState,
    alarms: Mapping[str, Alarm],
    outbox: Sequence[TransitionLike] = (),
    written_ms: int | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "alarm_id": {"S": state.item_id},
        "item_type": {"S": "device"},
        "device_id": {"S": state.device_id},
        "state": {"S": state_document(state, alarms)},
        "version": to_attribute(state.version),
    }
    bucket = state.stale_bucket_at(written_ms)
    optional = {
        "stale_since_ms": state.stale_since_ms,
        "stale_bucket": bucket,
        "stale_due_ms": None if bucket is None else staleness.bucket_start_ms(bucket),
    }
    item.update({k: to_attribute(v) for k, v in optional.items() if v is not None})
    if outbox:
        item["outbox"] = outbox_attr(outbox)
    return item


def device_from_item(item: Mapping[str, Any]) -> StoredDevice:
    device_id = from_attribute(item["device_id"])
    doc = json.loads(from_attribute(item["state"]))
    stale_since, stale_event, *rest = doc["x"]
    state = DeviceState(
        device_id=device_id,
        last_sequence=int(doc["q"]),
        last_seen_ms=doc["l"],
        sensors={k: SensorSeen(int(v[0]), float(v[1]), v[2]) for k, v in doc["s"].items()},
        stale_since_ms=stale_since,
        stale_event_id=stale_event,
        context=doc["c"],
        version=int(from_attribute(item["version"])),
        stale_episode=int(rest[0]) if rest else 0,
        wake_ms=rest[1] if len(rest) > 1 else None,
        stale_held=bool(rest[2]) if len(rest) > 2 else False,
    )
    alarms = {}
    for suffix, values in doc["a"].items():
        sensor_type, rule_id = suffix.split("#", 1)
        fields = {**_ALARM_DEFAULTS, **dict(zip(ALARM_FIELDS, values, strict=False))}
        alarms[f"{device_id}#{suffix}"] = Alarm(
            alarm_id=f"{device_id}#{suffix}",
            device_id=device_id,
            sensor_type=sensor_type,
            rule_id=rule_id,
            **fields,
        )
    outbox = outbox_from(from_attribute(item["outbox"])) if "outbox" in item else ()
    attempts = int(from_attribute(item["outbox_attempts"])) if "outbox_attempts" in item else 0
    return StoredDevice(state, outbox, alarms, attempts)


def _alarm_id_of(event: TransitionLike) -> str:
    return str(event.to_message()["alarm"]["alarm_id"])


class DynamoAlarmStore:
    def __init__(
        self,
        table_name: str,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self._table = table_name
        self._client = client
        self._sleep = sleep
        self._clock_ms = clock_ms  # the write time that floors the staleness bucket; None: the wall clock

    def _now_ms(self) -> int:
        # Looked up at call time, so a test that drives the handlers on a simulated clock can replace it.
        return (self._clock_ms or wall_clock_ms)()

    client = clients.lazy_client("dynamodb")

    # --- reads ---------------------------------------------------------------------------------------

    def load(self, device_ids: Sequence[str]) -> dict[str, StoredDevice]:
        keys = list(dict.fromkeys(staleness.device_item_key(d) for d in device_ids))
        devices: dict[str, StoredDevice] = {}
        for item in self._batch_get(keys):
            if from_attribute(item.get("item_type", {"S": "alarm"})) == "device" and "state" in item:
                stored = device_from_item(item)
                devices[stored.state.device_id] = stored
        return devices

    def _batch_get(self, keys: Sequence[str]) -> Iterable[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), BATCH_GET_MAX_KEYS):
            request = {
                self._table: {
                    "Keys": [{"alarm_id": {"S": k}} for k in keys[start : start + BATCH_GET_MAX_KEYS]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_GET_MAX_ROUNDS):
                if attempt:
                    self._sleep(jittered_delay(attempt, BATCH_GET_BASE_DELAY_S, BATCH_GET_MAX_DELAY_S))
                with transient("dynamodb:BatchGetItem"):
                    resp = self.client.batch_get_item(RequestItems=request)
                items += resp.get("Responses", {}).get(self._table, [])
                # Throttled keys come back in UnprocessedKeys and must be asked for again.
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise TransientError("dynamodb:BatchGetItem failed: UnprocessedKeys left after retries")
        return items

    def get_device(self, device_id: str) -> StoredDevice | None:
        with transient("dynamodb:GetItem"):
            resp = self.client.get_item(
                TableName=self._table,
                Key={"alarm_id": {"S": staleness.device_item_key(device_id)}},
                ConsistentRead=True,
            )
        item = resp.get("Item")
        return device_from_item(item) if item and "state" in item else None

    def get_alarm(self, alarm_key: str) -> StoredAlarm | None:
        """One alarm of a device item, with the outbox entries that are its own (operator use, tests)."""
        stored = self.get_device(alarm_key.split("#", 1)[0])
        if stored is None:
            return None
        alarm = stored.alarms.get(alarm_key)
        if alarm is None and alarm_key == staleness.stale_alarm_id(stored.state.device_id):
            alarm = stored.state.stale_alarm()
        if alarm is None:
            return None
        return StoredAlarm(alarm, tuple(e for e in stored.outbox if _alarm_id_of(e) == alarm_key))

    def list_alarms(self, states: set[str] | None = None, device_id: str | None = None) -> list[Alarm]:
        """Every stored alarm, and every stale device as its ``Device Stale`` alarm (a Scan: operator use
        only). Alarms never raised are not stored, so they are not listed: they are NORMAL."""
        out: list[Alarm] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "item_type = :device",
            "ExpressionAttributeValues": {":device": {"S": "device"}},
        }
        while True:
            with transient("dynamodb:Scan"):
                resp = self.client.scan(**kwargs)
            for item in resp.get("Items", []):
                if "state" not in item:
                    continue
                stored = device_from_item(item)
                alarms = list(stored.alarms.values())
                if stored.state.stale_since_ms is not None:
                    alarms.append(stored.state.stale_alarm())
                out += [
                    a
                    for a in alarms
                    if (states is None or a.state in states) and device_id in (None, a.device_id)
                ]
            if "LastEvaluatedKey" not in resp:
                return sorted(out, key=lambda a: a.alarm_id)
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def due_devices(self, bucket: str, now_ms: int) -> list[StoredDevice]:
        """Device items in one staleness bucket that has come due (the heartbeat's Query, then a batch
        read of those items): candidates in deadline order; ``device_staleness`` decides on each one."""
        keys: list[str] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STALE_INDEX,
            "KeyConditionExpression": "stale_bucket = :b AND stale_due_ms <= :now",
            "ExpressionAttributeValues": {":b": {"S": bucket}, ":now": {"N": str(now_ms)}},
        }
        while True:
            with transient("dynamodb:Query stale-due"):
                resp = self.client.query(**kwargs)
            keys += [from_attribute(item["alarm_id"]) for item in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        # Index propagation is eventually consistent: an item read back may have moved to another bucket.
        due = [
            device_from_item(item)
            for item in self._batch_get(keys)
            if "state" in item and item.get("stale_bucket") == {"S": bucket}
        ]
        return sorted(due, key=lambda d: (d.state.due_ms or 0, d.state.device_id))

    # --- conditional writes --------------------------------------------------------------------------

    def put_device(
        self, state: DeviceState, alarms: Mapping[str, Alarm], outbox: Sequence[TransitionLike] = ()
    ) -> DeviceState:
        new = replace(state, version=state.version + 1)
        item = device_item(new, alarms, outbox, self._now_ms())
        try:
            with transient("dynamodb:PutItem"):
                self.client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=CONDITION,
                    ExpressionAttributeValues={":expected": {"N": str(state.version)}},
                )
        except TransientError as exc:
            if condition_failed(exc):
                raise VersionConflictError(f"{state.item_id} changed since version {state.version}") from exc
            raise
        return new

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState:
        """Drop the published events from the outbox (keeping ``keep``), with the version check."""
        values: dict[str, Any] = {}
        if keep:
            expression = "SET outbox = :keep, version = :next"
            values[":keep"] = outbox_attr(keep)
        else:
            expression = "REMOVE outbox, outbox_attempts SET version = :next"
        return self._update_outbox(state, expression, values)

    def defer_outbox(
        self, state: DeviceState, keep: Sequence[TransitionLike], attempts: int, retry_at_ms: int | None
    ) -> DeviceState:
        """After a failed publish (the heartbeat's): keep ``keep``, count the attempt, and with
        ``retry_at_ms`` move the item to the staleness bucket of that instant (a parked device, retried
        when that minute comes due), all with the version check."""
        expression = "SET outbox = :keep, outbox_attempts = :attempts, version = :next"
        values: dict[str, Any] = {":keep": outbox_attr(keep), ":attempts": to_attribute(attempts)}
        if retry_at_ms is not None and state.due_ms is not None:
            bucket = staleness.stale_bucket(state.device_id, retry_at_ms)
            expression += ", stale_bucket = :bucket, stale_due_ms = :due"
            values[":bucket"] = {"S": bucket}
            values[":due"] = to_attribute(staleness.bucket_start_ms(bucket))
        return self._update_outbox(state, expression, values)

    def _update_outbox(self, state: DeviceState, expression: str, values: dict[str, Any]) -> DeviceState:
        key, version = state.item_id, state.version
        values = {**values, ":expected": {"N": str(version)}, ":next": {"N": str(version + 1)}}
        try:
            with transient("dynamodb:UpdateItem outbox"):
                self.client.update_item(
                    TableName=self._table,
                    Key={"alarm_id": {"S": key}},
                    UpdateExpression=expression,
                    ConditionExpression="version = :expected",
                    ExpressionAttributeValues=values,
                )
        except TransientError as exc:
            if condition_failed(exc):
                raise VersionConflictError(f"{key} changed since version {version}") from exc
            raise
        return replace(state, version=version + 1)
