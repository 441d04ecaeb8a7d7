"""The notification ledger: one item per transition ``event_id`` (the raw id, so an operator can look an
event up), claimed with a conditional write before the webhook is called.

Item: ``event_id`` (pk), ``status`` (sending | sent | failed), ``claim_token``, ``lease_until_ms``,
``attempts``, ``transition``, ``alarm_id``, ``claimed_at_ms``, ``sent_at_ms``, ``last_error`` and
``expires_at`` (epoch seconds, the table's TTL attribute; DynamoDB deletes expired items within days,
not at once, which only keeps the dedupe window longer).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed
from sensorflow.adapters.errors import transient
from sensorflow.adapters.logs import logger
from sensorflow.core.contract import TransitionView
from sensorflow.core.ports import Claim, ClaimStatus

DEFAULT_RETENTION_S = 7 * 24 * 3600  # longer than Lambda's 6 h maximum event age for async retries


class DynamoNotificationLedger:
    def __init__(self, table_name: str, client: Any = None, retention_s: int = DEFAULT_RETENTION_S) -> None:
        self._table = table_name
        self._client = client
        self._retention_s = retention_s

    client = clients.lazy_client("dynamodb")

    def claim(self, event: TransitionView, token: str, now_ms: int, lease_until_ms: int) -> Claim:
        with transient("dynamodb:UpdateItem notification claim"):
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"event_id": {"S": event.event_id}},
                    UpdateExpression=(
                        "SET #status = :sending, claim_token = :token, lease_until_ms = :lease, "
                        "claimed_at_ms = :now, expires_at = :expires, transition = :transition, "
                        "alarm_id = :alarm ADD attempts :one"
                    ),
                    ConditionExpression=(
                        "attribute_not_exists(event_id) OR #status = :failed "
                        "OR (#status = :sending AND lease_until_ms < :now)"
                    ),
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":sending": {"S": "sending"},
                        ":failed": {"S": "failed"},
                        ":token": {"S": token},
                        ":lease": {"N": str(lease_until_ms)},
                        ":now": {"N": str(now_ms)},
                        ":expires": {"N": str(now_ms // 1000 + self._retention_s)},
                        ":transition": {"S": event.transition},
                        ":alarm": {"S": event.alarm.alarm_id},
                        ":one": {"N": "1"},
                    },
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                return Claim(self._current_status(event.event_id), token)
        return Claim("claimed", token)

    def _current_status(self, event_id: str) -> ClaimStatus:
        with transient("dynamodb:GetItem notification"):
            item = self.client.get_item(
                TableName=self._table, Key={"event_id": {"S": event_id}}, ConsistentRead=True
            ).get("Item", {})
        return "sent" if item.get("status", {}).get("S") == "sent" else "busy"

    def mark_sent(self, event_id: str, token: str, now_ms: int) -> None:
        self._finish(
            event_id,
            token,
            "SET #status = :sent, sent_at_ms = :now REMOVE lease_until_ms",
            {":sent": {"S": "sent"}, ":now": {"N": str(now_ms)}},
        )

    def mark_failed(self, event_id: str, token: str, error: str) -> None:
        self._finish(
            event_id,
            token,
            "SET #status = :failed, last_error = :error REMOVE lease_until_ms",
            {":failed": {"S": "failed"}, ":error": {"S": error[:500]}},
        )

    def _finish(self, event_id: str, token: str, update: str, values: dict[str, Any]) -> None:
        with transient("dynamodb:UpdateItem notification"):
            try:
                self.client.update_item(
                    TableName=self._table,
                    Key={"event_id": {"S": event_id}},
                    UpdateExpression=update,
                    ConditionExpression="claim_token = :token",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={**values, ":token": {"S": token}},
                )
            except ClientError as exc:
                if not condition_failed(exc):
                    raise
                # Our lease ran out and another invocation claimed the event: its outcome counts.
                logger.warning("notification claim lost", event_id=event_id)
