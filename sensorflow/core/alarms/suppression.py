"""Which transitions notify nobody: silences (by selector, time-bounded) and inhibition (a stale device).

A suppressed transition is still published and recorded -- the alarm changes state, incidents and the
EventBridge archive see it -- but it carries ``suppressed`` and the notifying consumers skip it (the notify
function; the email subscription's filter policy on the ``suppressed`` attribute).

- **Silenced**: an active silence matches the alarm's device context (site, owner team), sensor type or
  device id at the time of the transition (``sensorflow.core.silences``). A maintenance window is a silence
  that starts later.
- **Inhibited**: a value alarm's transition while its device has an open ``Device Stale``: the device is
  the problem, and its readings (a backlog, a flapping link) should not page anyone on top of it. The
  stale alarm's own transitions are never inhibited.

A silence takes precedence over inhibition (it names who decided, and until when).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sensorflow.core import staleness
from sensorflow.core.alarms.transitions import TransitionEvent
from sensorflow.core.silences import Silence, active_silence, suppression_of

INHIBITED = {"reason": "inhibited", "silence_id": None, "created_by": None, "comment": "device is stale"}


def suppress(event: TransitionEvent, silences: Sequence[Silence], device_stale: bool) -> TransitionEvent:
    """``event`` marked with why it must not notify, or ``event`` itself."""
    doc = suppression(event, silences, device_stale)
    return event if doc is None else replace(event, suppressed=doc)


def suppression(
    event: TransitionEvent, silences: Sequence[Silence], device_stale: bool
) -> dict[str, Any] | None:
    alarm = event.alarm
    if silences:
        silence = active_silence(
            silences, event.device, alarm.sensor_type, alarm.device_id, event.occurred_at_ms
        )
        if silence is not None:
            return suppression_of(silence)
    if device_stale and alarm.sensor_type != staleness.STALE_SENSOR_TYPE:
        return {**INHIBITED, "ends_at": None}
    return None
