"""Incident records and per-alarm trackers in one DynamoDB table keyed by ``incident_id``.

Items carry ``kind`` (``incident`` | ``tracker``) and a ``version`` number; ``save`` writes the tracker
and the incident with ``TransactWriteItems``, each put conditional on the version it was read at, so
two invocations applying events of the same alarm never lose each other's work.

- incident: ``incident_id`` (``sha256(alarm_id|episode)[:32]``, or for an unnumbered event
  ``sha256(alarm_id|opening event_id)[:32]``), the alarm and device fields, ``status``, ``severity``,
  ``opened_*``, ``acknowledged_*``, ``escalated_at``, ``resolved_*``, ``episode`` (absent when
  unnumbered) and ``timeline`` (a list of steps: ``event_id``, ``transition``, ``at_ms``, ...).
- tracker: ``incident_id = "alarm#<alarm_id>"``, ``applied`` (event ids), ``held`` (steps of numbered
  episodes with no incident yet, each with its ``episode``), and for unnumbered events
  ``open_incident_id``, ``opened_at_ms`` and ``pending`` (steps).

Attributes added since the unnumbered layout (``episode``, ``held``) are optional: older items read as is.
"""

from __future__ import annotations

from typing import Any

from sensorflow.adapters import clients
from sensorflow.adapters.dynamodb_codec import condition_failed, from_item, to_item
from sensorflow.adapters.errors import transient
from sensorflow.core.errors import TransientError
from sensorflow.core.incident_state import Decision, Incident, Step, Tracker, as_plain, tracker_key
from sensorflow.core.ports import VersionConflictError


def _step(d: dict[str, Any]) -> Step:
    value = d.get("value")
    return Step(**{**d, "value": None if value is None else float(value)})


def incident_from_plain(d: dict[str, Any]) -> Incident:
    d = {k: v for k, v in d.items() if k not in ("kind",)}
    return Incident(**{**d, "timeline": tuple(_step(s) for s in d.get("timeline", []))})


def tracker_from_plain(d: dict[str, Any]) -> Tracker:
    return Tracker(
        alarm_id=d["alarm_id"],
        open_incident_id=d.get("open_incident_id"),
        opened_at_ms=d.get("opened_at_ms"),
        applied=tuple(d.get("applied", [])),
        pending=tuple(_step(s) for s in d.get("pending", [])),
        held=tuple(_step(s) for s in d.get("held", [])),
        version=int(d.get("version", 0)),
    )


class DynamoIncidentStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    client = clients.lazy_client("dynamodb")

    def _get(self, key: str) -> dict[str, Any] | None:
        with transient("dynamodb:GetItem incidents"):
            item = self.client.get_item(
                TableName=self._table, Key={"incident_id": {"S": key}}, ConsistentRead=True
            ).get("Item")
        return from_item(item) if item else None

    def get_incident(self, incident_id: str) -> Incident | None:
        plain = self._get(incident_id)
        return incident_from_plain(plain) if plain and plain.get("kind") == "incident" else None

    def load(self, alarm_id: str, incident_id: str | None = None) -> tuple[Tracker, Incident | None]:
        # Two consistent reads, not one snapshot: save is conditional on both versions read here.
        plain = self._get(tracker_key(alarm_id))
        tracker = Tracker(alarm_id) if plain is None else tracker_from_plain(plain)
        named = incident_id or tracker.open_incident_id
        return tracker, self.get_incident(named) if named else None

    def save(self, before: Tracker, decision: Decision) -> None:
        tracker = {
            "incident_id": tracker_key(before.alarm_id),
            "kind": "tracker",
            **as_plain(decision.tracker),
            "version": before.version + 1,
        }
        items = [self._put(tracker, before.version)]
        if decision.incident is not None:
            incident = {
                "kind": "incident",
                **as_plain(decision.incident),
                "version": decision.incident.version + 1,
            }
            items.append(self._put(incident, decision.incident.version))
        try:
            with transient("dynamodb:TransactWriteItems incidents"):
                self.client.transact_write_items(TransactItems=items)
        except TransientError as exc:
            if condition_failed(exc):
                raise VersionConflictError(f"incidents for {before.alarm_id} changed concurrently") from exc
            raise

    def _put(self, plain: dict[str, Any], version: int) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self._table, "Item": to_item(plain)}
        if version == 0:
            put["ConditionExpression"] = "attribute_not_exists(incident_id)"
        else:
            put["ConditionExpression"] = "version = :v"
            put["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
        return {"Put": put}
