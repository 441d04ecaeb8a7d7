"""The heartbeat's checkpoint: one item in the alarms table, ``alarm_id = "__heartbeat__"``
(``item_type = "heartbeat"``, so alarm listings skip it), holding ``through_minute`` (epoch minutes)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed
from sensorflow.adapters.errors import transient

CHECKPOINT_KEY = "__heartbeat__"


class DynamoHeartbeatCheckpoint:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    client = clients.lazy_client("dynamodb")

    def get(self) -> int | None:
        with transient("dynamodb:GetItem heartbeat checkpoint"):
            item = self.client.get_item(
                TableName=self._table, Key={"alarm_id": {"S": CHECKPOINT_KEY}}, ConsistentRead=True
            ).get("Item")
        return int(item["through_minute"]["N"]) if item and "through_minute" in item else None

    def advance(self, minute: int) -> None:
        with transient("dynamodb:UpdateItem heartbeat checkpoint"):
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"alarm_id": {"S": CHECKPOINT_KEY}},
                    UpdateExpression="SET through_minute = :m, item_type = :t",
                    # Monotonic: two overlapping runs (EventBridge may invoke twice) never move it back.
                    ConditionExpression="attribute_not_exists(through_minute) OR through_minute < :m",
                    ExpressionAttributeValues={":m": {"N": str(minute)}, ":t": {"S": "heartbeat"}},
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
