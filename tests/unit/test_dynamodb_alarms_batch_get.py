"""DynamoAlarmStore.load asks again for UnprocessedKeys, backing off between rounds, and gives up typed."""

from __future__ import annotations

from typing import Any

import pytest

from sensorflow.adapters.dynamodb_alarms import (
    BATCH_GET_MAX_DELAY_S,
    BATCH_GET_MAX_ROUNDS,
    DynamoAlarmStore,
    device_item,
)
from sensorflow.core.alarms import DeviceState
from sensorflow.core.errors import TransientError

TABLE = "alarms"


class ThrottlingClient:
    """BatchGetItem that leaves every key but the first unprocessed, ``throttled_rounds`` times."""

    def __init__(self, throttled_rounds: int) -> None:
        self.throttled_rounds = throttled_rounds
        self.requests: list[list[str]] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        keys = [k["alarm_id"]["S"] for k in RequestItems[TABLE]["Keys"]]
        self.requests.append(keys)
        served, left = (keys[:1], keys[1:]) if self.throttled_rounds > 0 else (keys, [])
        self.throttled_rounds -= 1
        items = [device_item(DeviceState(k.split("#")[0]), {}) for k in served]
        unprocessed = {TABLE: {"Keys": [{"alarm_id": {"S": k}} for k in left], "ConsistentRead": True}}
        return {"Responses": {TABLE: items}, "UnprocessedKeys": unprocessed if left else {}}


DEVICES = [f"dev-0000{i}" for i in range(3)]
KEYS = [f"{d}#__device__" for d in DEVICES]


def test_unprocessed_keys_are_asked_for_again_after_a_backoff():
    # GIVEN a table that throttles two rounds
    client, sleeps = ThrottlingClient(throttled_rounds=2), []
    store = DynamoAlarmStore(TABLE, client, sleep=sleeps.append)
    # WHEN three device items are loaded
    devices = store.load(DEVICES)
    # THEN every item comes back, each round asks only for what was left, with a pause before each re-ask
    assert sorted(devices) == DEVICES
    assert client.requests == [KEYS, KEYS[1:], KEYS[2:]]
    assert len(sleeps) == 2 and all(0 <= s <= BATCH_GET_MAX_DELAY_S for s in sleeps)


def test_keys_still_unprocessed_after_the_last_round_are_a_transient_error():
    client, sleeps = ThrottlingClient(throttled_rounds=100), []
    store = DynamoAlarmStore(TABLE, client, sleep=sleeps.append)
    with pytest.raises(TransientError, match="UnprocessedKeys left after retries"):
        store.load([f"dev-{i:05d}" for i in range(20)])
    assert (len(client.requests), len(sleeps)) == (BATCH_GET_MAX_ROUNDS, BATCH_GET_MAX_ROUNDS - 1)
