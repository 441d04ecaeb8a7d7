"""The ``incidents`` service: critical alarm transitions become incident records.

An incident is one critical episode of one alarm. It opens on ``Alarm Raised`` / ``Device Stale`` with
severity critical or on ``Alarm Escalated`` to critical, is updated by ``Alarm Acknowledged`` and
``Alarm Escalated``, and resolves on ``Alarm Cleared`` (or ``Alarm Disabled``).

Keys: ``incident_id = sha256(alarm_id|event_id of the opening event)[:32]``, deterministic, so a
redelivered raise names the same incident and a re-raise after a clear opens a new one. Each alarm has
a tracker item (``incident_id = "alarm#<alarm_id>"``) that points at its open incident, remembers the
event ids it has applied (idempotency) and holds events that arrived before their incident opened.

Out of order: EventBridge does not order deliveries, and a failed invocation is retried later. An
acknowledgement or clear that arrives while no incident is open waits in the tracker; when the raise
arrives, waiting events that happened at or after it are applied (so clear-before-raise yields a
resolved incident), and older ones are dropped. A clear older than the open incident is ignored.

The decision (``sensorflow.core.incident_state.apply``) is pure; the store writes tracker and incident in one
conditional transaction, retried on a concurrent change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.contract import TransitionView
from sensorflow.core.incident_state import Outcome, apply
from sensorflow.core.ports import IncidentStore, VersionConflictError
from sensorflow.observability import logger, metrics

MAX_CONFLICT_RETRIES = 5


@dataclass
class IncidentService:
    store: IncidentStore
    sleep: Callable[[float], None] = field(default=lambda s: None)

    def handle(self, t: TransitionView) -> Outcome:
        for attempt in range(MAX_CONFLICT_RETRIES):
            tracker, current = self.store.load(t.alarm.alarm_id)
            decision = apply(tracker, current, t)
            if not decision.changed:
                break
            try:
                self.store.save(tracker, decision)
            except VersionConflictError:
                logger.info("incident write conflict, retrying", event_id=t.event_id, attempt=attempt + 1)
                self.sleep(0.05 * 2**attempt)
                continue
            break
        else:
            raise VersionConflictError(f"event {t.event_id}: tracker for {t.alarm.alarm_id} kept changing")
        incident = decision.incident
        logger.info(
            "incident event applied",
            event_id=t.event_id,
            transition=t.transition,
            alarm_id=t.alarm.alarm_id,
            outcome=decision.outcome,
            incident_id=None if incident is None else incident.incident_id,
        )
        metrics.add_metric(name=f"Incidents{decision.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
        return decision.outcome
