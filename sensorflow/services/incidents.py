"""The ``incidents`` service: critical alarm transitions become incident records.

An incident is one critical episode of one alarm. It opens on ``Alarm Raised`` / ``Device Stale`` with
severity critical or on ``Alarm Escalated`` to critical, is updated by ``Alarm Acknowledged``,
``Alarm Escalated`` and ``Alarm Reminder`` (a line of its timeline), and resolves on ``Alarm Cleared``,
``Alarm Reset`` or ``Alarm Disabled``.

Keys (one table, ``incident_id`` hash key):

- ``incident_id = sha256(alarm_id|episode)[:32]`` for events that carry ``alarm.episode`` (>= 1): every
  event of the episode names its incident, whichever arrives first. The opening event's id would not do:
  which event opens it (a warning raise then an escalation, or the raise itself) depends on what arrived.
- ``incident_id = sha256(alarm_id|event_id of the opening event)[:32]`` for events of older producers
  (no ``alarm.episode``, or 0), as before.
- One tracker per alarm (``incident_id = "alarm#<alarm_id>"``): the event ids it has applied
  (idempotency), the steps of numbered episodes that have no incident yet (``held``), and for unnumbered
  events its open incident (``open_incident_id``) and the steps waiting for one (``pending``). Every event
  writes the tracker, so the events of one alarm serialize on its version.

Out of order: EventBridge does not order deliveries, and a failed invocation is retried later.

- Numbered events apply to their own episode's incident in any order: an end, acknowledgement or
  reminder that overtakes its raise is held and applied when the incident opens (so clear-before-raise
  yields a resolved incident), and the incident is its episode's events replayed in the order they
  happened, so every delivery order gives the same incident. Duplicates are no-ops (the tracker's
  applied ids, and the incident's own timeline). An episode none of whose opening events is critical
  never becomes an incident; its events stay held until newer episodes push them out (``HELD_MEMORY``).
- Unnumbered events: an acknowledgement or clear that arrives while no incident is open waits; when the
  raise arrives, waiting events that happened at or after it are applied and older ones are dropped.
  An end older than the open incident is ignored.

Upgrading from the unnumbered layout: items need no migration. An incident opened by an unnumbered raise
is resolved by an unnumbered end; a tracker's ``open_incident_id`` is not used by numbered events.

The decision (``sensorflow.core.incident_state.apply``) is pure; the store writes tracker and incident in one
conditional transaction, retried on a concurrent change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from aws_lambda_powertools.metrics import MetricUnit

from sensorflow.core.contract import TransitionView
from sensorflow.core.incident_state import Outcome, apply, episode_of, incident_for
from sensorflow.core.ports import IncidentStore, VersionConflictError
from sensorflow.observability import logger, metrics

MAX_CONFLICT_RETRIES = 5


@dataclass
class IncidentService:
    store: IncidentStore
    sleep: Callable[[float], None] = field(default=lambda s: None)

    def handle(self, t: TransitionView) -> Outcome:
        for attempt in range(MAX_CONFLICT_RETRIES):
            tracker, current = self.store.load(t.alarm.alarm_id, incident_for(t))
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
            episode=episode_of(t),
            outcome=decision.outcome,
            incident_id=None if incident is None else incident.incident_id,
        )
        metrics.add_metric(name=f"Incidents{decision.outcome.capitalize()}", unit=MetricUnit.Count, value=1)
        return decision.outcome
