"""Recent alarm transitions, from the two tables that record them.

No table keeps every transition: they are published (SNS, EventBridge) and consumed. Two consumers record
what they saw, and the console merges them by ``event_id``:

- the **incidents** table: the timeline of every critical episode (each step: transition, time, severity,
  who, note, value), from the incidents function (EventBridge, critical events only);
- the **notification ledger**: one item per transition notify received (every kind in
  ``custom.transitions`` that is not suppressed), with the delivery's status; the time is when notify
  claimed it, within seconds of the transition.

Transitions neither consumer takes (warning-only snoozes, disables and enables, suppressed events) are not
listed; ``sensorflow alarms list`` and the alarm's own fields (since, by, note) still show the state. Both
are Scans, capped at ``MAX_SCAN_PAGES`` pages each: operator use only.
"""

from __future__ import annotations

from typing import Any

from sensorflow.adapters.dynamodb_codec import from_item
from sensorflow.adapters.dynamodb_incidents import incident_from_plain
from sensorflow.adapters.errors import transient
from sensorflow.cli.console.model import TransitionRow

MAX_SCAN_PAGES = 10  # 1 MB each (DynamoDB Scan's page size limit)


def _scan(client: Any, table: str, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": table, **kwargs}
    for _ in range(MAX_SCAN_PAGES):
        with transient(f"dynamodb:Scan {table}"):
            resp = client.scan(**request)
        items += [from_item(i) for i in resp.get("Items", [])]
        if "LastEvaluatedKey" not in resp:
            break
        request["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return items


def incident_steps(plain_items: list[dict[str, Any]]) -> dict[str, TransitionRow]:
    out: dict[str, TransitionRow] = {}
    for plain in plain_items:
        if plain.get("kind") != "incident":
            continue
        incident = incident_from_plain(plain)
        for s in incident.timeline:
            out[s.event_id] = TransitionRow(
                event_id=s.event_id,
                transition=s.transition,
                alarm_id=incident.alarm_id,
                at_ms=s.at_ms,
                severity=s.severity,
                by=s.by,
                note=s.note,
                value=s.value,
                unit=s.unit,
            )
    return out


def merge(steps: dict[str, TransitionRow], ledger: list[dict[str, Any]]) -> list[TransitionRow]:
    """Incident steps, with the ledger's delivery status, plus what only the ledger saw; newest first."""
    rows = dict(steps)
    for item in ledger:
        event_id, alarm_id = item.get("event_id"), item.get("alarm_id")
        if not event_id or not alarm_id or "transition" not in item:
            continue
        status = str(item.get("status")) if item.get("status") is not None else None
        known = rows.get(event_id)
        if known is not None:
            rows[event_id] = TransitionRow(**{**_fields(known), "delivery": status})
        else:
            at = int(item.get("claimed_at_ms") or item.get("sent_at_ms") or 0)
            rows[event_id] = TransitionRow(
                event_id, str(item["transition"]), str(alarm_id), at, delivery=status
            )
    return sorted(rows.values(), key=lambda r: (r.at_ms, r.event_id), reverse=True)


def _fields(row: TransitionRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in TransitionRow.__slots__}


class StageTransitions:
    def __init__(self, incidents_table: str | None, notifications_table: str | None, client: Any) -> None:
        self._incidents = incidents_table
        self._ledger = notifications_table
        self._client = client

    def recent(self, limit: int, device_id: str | None = None) -> list[TransitionRow]:
        steps = incident_steps(_scan(self._client, self._incidents)) if self._incidents else {}
        ledger = _scan(self._client, self._ledger) if self._ledger else []
        rows = merge(steps, ledger)
        if device_id is not None:
            rows = [r for r in rows if r.device_id == device_id]
        return rows[:limit]
