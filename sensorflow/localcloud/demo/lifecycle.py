"""The operator's side of the demo: what it forces so the alarm lifecycle shows, the maintenance silence it
creates before publishing, and the latched alarm it acknowledges after the drain.

- **Plan** (``lifecycle_plan``): from the rules the stack runs and the devices of the run, the sensor type
  of a latch rule to force an excursion on (it returns to normal, so its alarm is LATCHED at the end) and
  the sensor type of a ``repeat_every`` rule to force a held excursion on (raised early, still ACTIVE at the
  end: the heartbeat after the drain reminds of it).
- **Silence** (``add_silence``): one device whose ground truth raises and clears an alarm, silenced over the
  whole of its device time "for maintenance", as ``sensorflow silences add`` stores it.
- **Acknowledge** (``acknowledge_latched``): one LATCHED alarm acknowledged through the operator actions
  service, as ``sensorflow alarms ack`` does; its "Alarm Cleared" must reach the webhook.

Counting what came of them is ``verify``'s job.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sensorflow.localcloud.cloud import LocalCloud

Say = Callable[[str], None]

OPERATOR = "sensorflow demo"
SILENCE_COMMENT = "demo maintenance window"
ACK_NOTE = "demo: machine inspected, trip reset"
# The silence covers the run's device time (the readings are replayed, so their transitions happen at
# device times up to duration_s in the past) and ends well after the demo.
SILENCE_LEAD_MS = 60_000
SILENCE_TAIL_MS = 3_600_000
# From the acknowledgement to its "Alarm Cleared" at the webhook: SNS -> notify -> the receiver.
CLEARED_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class LifecyclePlan:
    """The sensor types the demo forces excursions on; ``None``: the rules or the devices have none."""

    latch_type: str | None = None  # a latch rule's: an excursion that returns to normal (LATCHED)
    reminder_type: str | None = None  # a repeat_every rule's: an excursion held to the end (reminders)
    repeat_every_s: int | None = None


def lifecycle_plan(devices: Sequence[Any], rules: Any) -> LifecyclePlan:
    """What to force, given the run's ``DeviceSpec``s and the ``RuleBook`` (first match in rules order)."""
    from sensorflow.simulate.scenarios import EXCURSION_TARGETS

    present = {st for d in devices for st in d.sensor_types}
    shapeable = {st for st, _ in EXCURSION_TARGETS}
    candidates = [r for r in rules if r.sensor_type in present and r.sensor_type in shapeable]
    latch = next((r for r in candidates if r.latch), None)
    remind = next((r for r in candidates if r.repeat_every and not r.latch), None)
    return LifecyclePlan(
        latch.sensor_type if latch else None,
        remind.sensor_type if remind else None,
        remind.repeat_every if remind else None,
    )


def silence_target(records: Sequence[Any], latch_types: set[str]) -> str | None:
    """A device the ground truth has raise and clear an alarm of a rule that does not latch (so neither
    the latched nor the held excursion's device): certain to publish silenced transitions."""
    transitions: dict[str, list[str]] = {}
    for r in records:
        for e in r.truth.get("expected_transitions") or ():
            transitions.setdefault(e["alarm_id"], []).append(e["transition"])
    for alarm_id in sorted(transitions):
        device_id, sensor_type, _ = alarm_id.split("#")
        names = transitions[alarm_id]
        if sensor_type not in latch_types and "Alarm Raised" in names and "Alarm Cleared" in names:
            return device_id
    return None


def caller_arn(cloud: LocalCloud) -> str | None:
    """The operator identity the CLI records (STS GetCallerIdentity), here the local cloud's."""
    assert cloud.endpoint is not None
    try:
        return str(cloud.endpoint.client("sts").get_caller_identity()["Arn"])
    except Exception:  # an identity is a nicety of the demo, never a reason to stop it
        return None


def add_silence(cloud: LocalCloud, records: Sequence[Any], latch_types: set[str], say: Say) -> dict[str, Any]:
    """Silence one device before publishing; what was silenced (``silence_id`` None: nothing to silence)."""
    from sensorflow.bootstrap import build_silence_store
    from sensorflow.core.silences import Silence

    assert cloud.endpoint is not None and cloud.info is not None
    device_id = silence_target(records, latch_types)
    if device_id is None:
        say("no device of this run is certain to raise an alarm; nothing silenced")
        return {"silence_id": None, "matchers": {}}
    now_ms = time.time_ns() // 1_000_000
    first_ms = min(r.truth.get("timestamp_ms") or now_ms for r in records)
    silence = Silence(
        silence_id="s-" + secrets.token_hex(5),
        matchers={"device_id": device_id},
        starts_at_ms=min(first_ms, now_ms) - SILENCE_LEAD_MS,
        ends_at_ms=now_ms + SILENCE_TAIL_MS,
        created_by=OPERATOR,
        caller_arn=caller_arn(cloud),
        comment=SILENCE_COMMENT,
        created_at_ms=now_ms,
    )
    table = cloud.info.outputs["AlarmsTableName"]
    build_silence_store(table, cloud.endpoint.client("dynamodb")).add(silence)
    say(f"silence {silence.silence_id} added: device_id={device_id} ({SILENCE_COMMENT!r}, by {OPERATOR})")
    return {"silence_id": silence.silence_id, "matchers": dict(silence.matchers)}


def acknowledge_latched(cloud: LocalCloud, delivered: Callable[[], set[str]], say: Say) -> dict[str, Any]:
    """Acknowledge the first LATCHED alarm and wait (bounded) until its "Alarm Cleared" is at the webhook.

    ``delivered`` gives the event ids the webhook has received so far."""
    from sensorflow.bootstrap import build_alarm_actions, build_alarm_store
    from sensorflow.config import load_rule_book
    from sensorflow.core.contract import Transition

    assert cloud.endpoint is not None and cloud.info is not None
    outputs = cloud.info.outputs
    clients = {name: cloud.endpoint.client(name) for name in ("dynamodb", "sns", "events")}
    store = build_alarm_store(outputs["AlarmsTableName"], clients["dynamodb"])
    latched = sorted(a.alarm_id for a in store.list_alarms(states={"LATCHED"}))
    out: dict[str, Any] = {"latched": len(latched), "acknowledged": 0, "cleared": 0, "alarm_id": None}
    if not latched:
        say("no LATCHED alarm to acknowledge")
        return out
    actions = build_alarm_actions(
        outputs["AlarmsTableName"],
        outputs.get("AlertsTopicArn"),
        outputs.get("AlertsEventBusName"),
        load_rule_book(),
        clients,
    )
    alarm_id = latched[0]
    outcome = actions.apply(
        "ack", alarm_id, OPERATOR, ACK_NOTE, time.time_ns() // 1_000_000, caller_arn=caller_arn(cloud)
    )
    cleared = [e.event_id for e in outcome.events if e.transition == Transition.CLEARED]
    out.update(acknowledged=1, alarm_id=alarm_id, event_ids=cleared)
    say(f"acknowledged LATCHED {alarm_id} as {OPERATOR!r}; waiting for its Alarm Cleared at the webhook ...")
    deadline = time.monotonic() + CLEARED_TIMEOUT_S
    while cleared and time.monotonic() < deadline:
        if set(cleared) <= delivered():
            out["cleared"] = 1
            return out
        time.sleep(0.2)
    say(f"the Alarm Cleared of {alarm_id} did not reach the webhook in {CLEARED_TIMEOUT_S:g} s")
    return out
