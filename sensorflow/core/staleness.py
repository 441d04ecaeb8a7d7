"""Staleness bookkeeping shared by the ingest side (which pushes a device's deadline forward on every
reading) and the ``heartbeat`` function (which finds deadlines that passed). Pure: no AWS SDK.

Per-device item in the alarms table, ``alarm_id = "<device_id>#__device__"`` (its state document holds
each sensor's newest device time, from which the deadline is computed exactly):

- the deadline       the earliest (newest device timestamp of a sensor + its ``stale_after``); past it
                     with no newer reading, the device is stale;
- ``stale_bucket``   ``"<minute>#<shard>"`` of the deadline, or of the write (the store's clock) if the
                     deadline had already passed when the item was written: the partition key of the
                     sparse, keys-only GSI ``stale-due``. Heartbeat Queries only the buckets that have come
                     due, so it never scans the fleet;
- ``stale_due_ms``   the first instant of the bucket's minute, the index sort key. Both index keys move
                     only when the deadline's minute does, so the index is written about once a minute
                     per device, not once per reading; the heartbeat reads the item and decides on the
                     exact deadline;
- ``stale_since_ms`` set by heartbeat when it raised "Device Stale" (the deadline that passed);
- ``stale_event_id`` the id of that "Device Stale" event (in the state document).

The deadline is measured on device time (the sensor's newest timestamp + ``stale_after_seconds``), so
a backlog upload does not make a silent device look alive. The *bucket* is never earlier than the
minute the item is written (nor the minute its reading arrived), so a deadline that is already past
when it is written lands in a bucket the heartbeat has not passed yet, and is still found. Flooring at
the arrival alone is not enough: a reading processed minutes after it arrived (Lambda behind, after an
outage) would land in a minute the heartbeat had already checkpointed, and never go stale.
"""

from __future__ import annotations

import hashlib
import zlib

from sensorflow.core.contract import Transition

DEVICE_ITEM_SUFFIX = "#__device__"
STALE_SENSOR_TYPE = "device"
STALE_RULE_ID = "device-stale"
# Writes to one GSI partition are limited (1,000 WCU/s per partition; DynamoDB developer guide,
# "Partitions and data distribution"); every device whose deadline falls in the same minute writes the
# same bucket, so each minute is spread over this many shards. Changing it strands items in old shards:
# heartbeat must query max(old, new) shards until those deadlines have passed.
STALE_BUCKET_SHARDS = 8
MINUTE_MS = 60_000


def device_item_key(device_id: str) -> str:
    return device_id + DEVICE_ITEM_SUFFIX


def stale_alarm_id(device_id: str) -> str:
    """The alarm behind "Device Stale": one per device, ``<device_id>#device#device-stale``."""
    return f"{device_id}#{STALE_SENSOR_TYPE}#{STALE_RULE_ID}"


def bucket_shard(device_id: str) -> int:
    # crc32, not hash(): it must be the same in every process and every Python version.
    return zlib.crc32(device_id.encode()) % STALE_BUCKET_SHARDS


def minute_of(ms: int) -> int:
    return ms // MINUTE_MS


def bucket_name(minute: int, shard: int) -> str:
    return f"{minute}#{shard}"


def bucket_start_ms(bucket: str) -> int:
    """The first instant of a bucket's minute: the index sort key ``stale_due_ms`` of its items."""
    return int(bucket.split("#", 1)[0]) * MINUTE_MS


def stale_bucket(device_id: str, deadline_ms: int) -> str:
    return bucket_name(minute_of(deadline_ms), bucket_shard(device_id))


def transition_event_id(alarm_id: str, transition: str, discriminator: int | str) -> str:
    """The contract's deterministic id: sha256 of ``alarm_id|transition|<seq or stale deadline ms>``."""
    return hashlib.sha256(f"{alarm_id}|{transition}|{discriminator}".encode()).hexdigest()[:32]


def stale_event_id(device_id: str, deadline_ms: int, episode: int = 1) -> str:
    """``Device Stale``'s id: the deadline that passed and the episode it opens."""
    return transition_event_id(stale_alarm_id(device_id), Transition.STALE, f"{deadline_ms}.{episode}")
