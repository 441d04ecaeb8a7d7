"""Alarm state in the DynamoDB alarms table (``ALARMS_TABLE_NAME``), the ``AlarmStore`` port.

Table: partition key ``alarm_id`` (S), on-demand. Two kinds of item:

- an alarm, ``alarm_id = "<device_id>#<sensor_type>#<rule_id>"`` (``item_type = "alarm"``): the
  fields of ``sensorflow.core.alarms.Alarm``, plus ``outbox`` (a list of transition documents, JSON
  strings) while its transitions are written but not yet confirmed published;
- a device, ``alarm_id = "<device_id>#__device__"`` (``item_type = "device"``): the device high-water
  mark ``last_seq``, ``last_seen_ms``, per-sensor memory ``sensors`` (JSON: last seen, last value for
  rate of change, stale_after), ``stale_since_ms`` / ``stale_event_id`` while ``Device Stale`` is out,
  and the staleness index keys below.

Every write is conditional on an optimistic ``version``:
``attribute_not_exists(alarm_id) OR version = :expected``, and sets ``version = expected + 1``. A lost race
raises ``VersionConflictError``; the caller re-reads and re-applies (the state machine is deterministic
and idempotent under its high-water mark, so re-applying is safe).

Staleness index (design shared with the heartbeat, ``sensorflow.core.staleness``): the device item carries
``stale_deadline_ms`` (N, when its earliest sensor goes stale) and ``stale_bucket`` (S,
``"<deadline minute>#<shard>"``). A sparse GSI ``stale-deadlines`` (partition ``stale_bucket``, sort
``stale_deadline_ms``, projection ALL) holds only device items with a deadline. Each heartbeat run Queries
just the buckets of the minutes that have come due since its last run (``minutes x shards`` small Queries
with ``stale_deadline_ms <= now``), never scanning the fleet. Sharding a minute over
``STALE_BUCKET_SHARDS`` partitions keeps one minute's deadlines under a GSI partition's write rate
(1,000 WCU/s, DynamoDB developer guide "Partitions and data distribution"). The device item is written at
most once per device per Kinesis batch, so the index costs one GSI write per device per batch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import fields, replace
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed, from_attribute, to_attribute
from sensorflow.adapters.errors import transient
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
STALE_INDEX = "stale-deadlines"
CONDITION = "attribute_not_exists(alarm_id) OR version = :expected"

_ALARM_FIELDS = tuple(f.name for f in fields(Alarm))
_INT_FIELDS = {
    "since_ms",
    "pending_since_ms",
    "critical_since_ms",
    "last_seq",
    "last_timestamp_ms",
    "acknowledged_at_ms",
    "snoozed_until_ms",
    "updated_at_ms",
    "version",
}
_FLOAT_FIELDS = {"threshold", "clear_threshold"}
_BOOL_FIELDS = {"raised", "announced"}


def outbox_attr(outbox: Sequence[TransitionLike]) -> dict[str, Any]:
    """Outbox entries as JSON strings: the event document, wrapped with the publishers still owed it."""
    entries = []
    for t in outbox:
        pending = getattr(t, "pending", None)
        body = t.to_message() if pending is None else {"event": t.to_message(), "pending": list(pending)}
        entries.append({"S": json.dumps(body, separators=(",", ":"))})
    return {"L": entries}


def outbox_from(raw: Sequence[str]) -> tuple[StoredTransition, ...]:
    out = []
    for body in (json.loads(s) for s in raw):
        if "pending" in body and "event" in body:
            out.append(StoredTransition(body["event"]["event_id"], body["event"], tuple(body["pending"])))
        else:
            out.append(StoredTransition(body["event_id"], body))
    return tuple(out)


def alarm_item(alarm: Alarm, outbox: Sequence[TransitionLike] = ()) -> dict[str, Any]:
    item: dict[str, Any] = {"item_type": {"S": "alarm"}}
    for name in _ALARM_FIELDS:
        value = getattr(alarm, name)
        if value is not None and value != "":
            item[name] = to_attribute(value)
    if outbox:
        item["outbox"] = outbox_attr(outbox)
    return item


def alarm_from_item(item: dict[str, Any]) -> StoredAlarm:
    values: dict[str, Any] = {}
    for name in _ALARM_FIELDS:
        if name not in item:
            continue
        v = from_attribute(item[name])
        if name in _INT_FIELDS:
            v = int(v)
        elif name in _FLOAT_FIELDS:
            v = float(v)
        values[name] = v
    return StoredAlarm(Alarm(**values), outbox_from(from_attribute(item.get("outbox", {"L": []}))))


def device_item(state: DeviceState, outbox: Sequence[TransitionLike] = ()) -> dict[str, Any]:
    sensors = {
        name: [s.last_seen_ms, s.timestamp_ms, s.value, s.seq, s.stale_after_s]
        for name, s in state.sensors.items()
    }
    item: dict[str, Any] = {
        "alarm_id": {"S": state.item_id},
        "item_type": {"S": "device"},
        "device_id": {"S": state.device_id},
        "last_seq": to_attribute(state.last_seq),
        "sensors": {"S": json.dumps(sensors, separators=(",", ":"), sort_keys=True)},
        "context": {"S": json.dumps(state.context, separators=(",", ":"), sort_keys=True)},
        "version": to_attribute(state.version),
    }
    optional = {
        "last_seen_ms": state.last_seen_ms,
        "stale_since_ms": state.stale_since_ms,
        "stale_event_id": state.stale_event_id,
        "stale_deadline_ms": state.stale_deadline_ms,
        "stale_bucket": state.stale_bucket,
    }
    item.update({k: to_attribute(v) for k, v in optional.items() if v is not None})
    if outbox:
        item["outbox"] = outbox_attr(outbox)
    return item


def device_from_item(item: dict[str, Any]) -> tuple[DeviceState, tuple[StoredTransition, ...]]:
    def opt(name: str) -> Any:
        return from_attribute(item[name]) if name in item else None

    sensors = {
        name: SensorSeen(int(v[0]), int(v[1]), float(v[2]), int(v[3]), None if v[4] is None else int(v[4]))
        for name, v in json.loads(opt("sensors") or "{}").items()
    }
    state = DeviceState(
        device_id=from_attribute(item["device_id"]),
        last_seq=int(opt("last_seq") if opt("last_seq") is not None else -1),
        last_seen_ms=None if opt("last_seen_ms") is None else int(opt("last_seen_ms")),
        sensors=sensors,
        stale_since_ms=None if opt("stale_since_ms") is None else int(opt("stale_since_ms")),
        stale_event_id=opt("stale_event_id"),
        context=json.loads(opt("context") or "{}"),
        version=int(opt("version") or 0),
    )
    return state, outbox_from(opt("outbox") or [])


class DynamoAlarmStore:
    def __init__(
        self, table_name: str, client: Any = None, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._table = table_name
        self._client = client
        self._sleep = sleep

    client = clients.lazy_client("dynamodb")

    # --- reads ---------------------------------------------------------------------------------------

    def load(
        self, alarm_ids: Sequence[str], device_ids: Sequence[str]
    ) -> tuple[dict[str, StoredAlarm], dict[str, StoredDevice]]:
        keys = list(dict.fromkeys([*alarm_ids, *(DeviceState(d).item_id for d in device_ids)]))
        alarms: dict[str, StoredAlarm] = {}
        devices: dict[str, StoredDevice] = {}
        for item in self._batch_get(keys):
            if from_attribute(item.get("item_type", {"S": "alarm"})) == "device":
                state, outbox = device_from_item(item)
                devices[state.device_id] = StoredDevice(state, outbox)
            else:
                stored = alarm_from_item(item)
                alarms[stored.alarm.alarm_id] = stored
        return alarms, devices

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

    def get_alarm(self, alarm_key: str) -> StoredAlarm | None:
        with transient("dynamodb:GetItem"):
            resp = self.client.get_item(
                TableName=self._table, Key={"alarm_id": {"S": alarm_key}}, ConsistentRead=True
            )
        item = resp.get("Item")
        if not item or from_attribute(item.get("item_type", {"S": "alarm"})) != "alarm":
            return None
        return alarm_from_item(item)

    def list_alarms(self, states: set[str] | None = None, device_id: str | None = None) -> list[Alarm]:
        """Every alarm, and every stale device as its ``Device Stale`` alarm (a Scan: operator use only)."""
        out: list[Alarm] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "item_type = :alarm OR attribute_exists(stale_since_ms)",
            "ExpressionAttributeValues": {":alarm": {"S": "alarm"}},
        }
        while True:
            with transient("dynamodb:Scan"):
                resp = self.client.scan(**kwargs)
            for item in resp.get("Items", []):
                if from_attribute(item.get("item_type", {"S": "alarm"})) == "device":
                    alarm = device_from_item(item)[0].stale_alarm()
                else:
                    alarm = alarm_from_item(item).alarm
                if (states is None or alarm.state in states) and (device_id in (None, alarm.device_id)):
                    out.append(alarm)
            if "LastEvaluatedKey" not in resp:
                return sorted(out, key=lambda a: a.alarm_id)
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def due_devices(self, bucket: str, now_ms: int) -> list[StoredDevice]:
        """Device items in one staleness bucket whose deadline has passed (the heartbeat's Query)."""
        out: list[StoredDevice] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": STALE_INDEX,
            "KeyConditionExpression": "stale_bucket = :b AND stale_deadline_ms <= :now",
            "ExpressionAttributeValues": {":b": {"S": bucket}, ":now": {"N": str(now_ms)}},
        }
        while True:
            with transient("dynamodb:Query stale-deadlines"):
                resp = self.client.query(**kwargs)
            out += [StoredDevice(*device_from_item(item)) for item in resp.get("Items", [])]
            if "LastEvaluatedKey" not in resp:
                return out
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    # --- conditional writes --------------------------------------------------------------------------

    def put_alarm(self, alarm: Alarm, outbox: Sequence[TransitionLike]) -> Alarm:
        new = replace(alarm, version=alarm.version + 1)
        self._put(alarm_item(new, outbox), alarm.alarm_id, alarm.version)
        return new

    def clear_outbox(self, alarm: Alarm, keep: Sequence[TransitionLike] = ()) -> Alarm:
        """Drop the published events from the outbox (keeping ``keep``), with the version check."""
        self._set_outbox(alarm.alarm_id, alarm.version, keep)
        return replace(alarm, version=alarm.version + 1)

    def clear_device_outbox(self, state: DeviceState, keep: Sequence[TransitionLike] = ()) -> DeviceState:
        self._set_outbox(state.item_id, state.version, keep)
        return replace(state, version=state.version + 1)

    def _set_outbox(self, key: str, version: int, keep: Sequence[TransitionLike]) -> None:
        values: dict[str, Any] = {":expected": {"N": str(version)}, ":next": {"N": str(version + 1)}}
        if keep:
            expression = "SET outbox = :keep, version = :next"
            values[":keep"] = outbox_attr(keep)
        else:
            expression = "REMOVE outbox SET version = :next"
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

    def put_device(self, state: DeviceState, outbox: Sequence[TransitionLike] = ()) -> DeviceState:
        new = replace(state, version=state.version + 1)
        self._put(device_item(new, outbox), state.item_id, state.version)
        return new

    def _put(self, item: dict[str, Any], key: str, expected: int) -> None:
        try:
            with transient("dynamodb:PutItem"):
                self.client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression=CONDITION,
                    ExpressionAttributeValues={":expected": {"N": str(expected)}},
                )
        except TransientError as exc:
            if condition_failed(exc):
                raise VersionConflictError(f"{key} changed since version {expected}") from exc
            raise
