"""The device registry: a DynamoDB table keyed by ``device_id``.

Whatever writes it validates each device first, with ``sensorflow.core.limits.check_device`` (size caps on
the strings and the overrides) and ``sensorflow.core.rules.validate_device_overrides`` (the local cloud's
seeding does both), so a bad entry is refused at write time, naming the field, rather than found when a
reading is evaluated.

An item written by some other tool is checked again here, when it is read: one over a cap would put its
oversized strings into every transition of the device (issue 12: a 150 KB ``site`` made an SNS entry too
large to publish). ``get`` refuses it with ``InvalidRecordError`` (reason ``registry_invalid``, naming the
field and the cap), so the ingest quarantines the device's readings with their bytes, as it does for an
unknown device, until the registry is fixed; nothing is truncated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import from_item
from sensorflow.adapters.errors import transient
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.limits import REGISTRY_INVALID, check_device
from sensorflow.core.records import Device


def device_from_item(item: dict[str, Any]) -> Device:
    return device_from_plain(from_item(item))


def device_from_plain(plain: Mapping[str, Any]) -> Device:
    """A registry item in plain Python types (as seeded, or decoded) as a ``Device``."""
    return Device(
        device_id=plain["device_id"],
        site=str(plain.get("site", "unknown")),
        location=str(plain.get("location", "unknown")),
        model=str(plain.get("model", "unknown")),
        owner_team=str(plain.get("owner_team", "unknown")),
        thresholds=_floats(plain.get("thresholds") or {}),
    )


def _floats(value: Any) -> Any:
    """Threshold numbers as floats (the codec reads ``35`` back as an ``int``); rules compare floats."""
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    return float(value)


class DynamoDeviceRegistry:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    client = clients.lazy_client("dynamodb")

    def get(self, device_id: str) -> Device | None:
        with transient("dynamodb:GetItem"):
            resp = self.client.get_item(TableName=self._table, Key={"device_id": {"S": device_id}})
        item = resp.get("Item")
        if not item:
            return None
        device = device_from_item(item)
        try:
            check_device(device)
        except ValueError as exc:
            raise InvalidRecordError(REGISTRY_INVALID, f"device {device_id!r}: {exc}") from None
        return device
