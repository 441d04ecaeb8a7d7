"""What the demo forces so the alarm lifecycle shows, and how it checks and reports it.

The simulator side: an excursion forced on a named sensor type (the latch rule's), one held critical to
the end (a repeat_every rule's), and the ground truth of a latch rule (no clear until acknowledged). The
demo side: the lifecycle verdicts and summary lines, notifications that exclude suppressed transitions,
and the acknowledged clear added to the ground truth. The whole run is tests/e2e/test_demo.py.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from sensorflow.config import load_rule_book
from sensorflow.localcloud.demo.drive import DemoOptions, plan_lifecycle, sim_config
from sensorflow.localcloud.demo.lifecycle import LifecyclePlan, lifecycle_plan, silence_target
from sensorflow.localcloud.demo.report import lifecycle_lines
from sensorflow.localcloud.demo.verify import Tally, lifecycle_counts, notifications, truth_check, verdicts
from sensorflow.simulate import SimConfig, SimulationError, generate, load_fleet
from sensorflow.simulate import scenarios as sc
from sensorflow.simulate.prediction import CLEAR, CRITICAL, WARNING, Prediction
from sensorflow.simulate.truth import SensorRule, expected_transitions

START_MS = 1_767_225_600_000
LIFECYCLE = SimConfig(
    devices=10,
    duration_s=900,
    seed=11,
    start_ms=START_MS,
    scenario_rate=0.0,
    malformed_rate=0.0,
    min_excursions=2,
    trailing_dropouts=2,
    excursion_types=("vibration",),
    held_excursion_types=("temperature",),
)
RAISED, ESCALATED, CLEARED = ("Alarm Raised", "warning"), ("Alarm Escalated", "critical"), "Alarm Cleared"


@pytest.fixture(scope="module")
def lifecycle_run() -> list[Any]:
    return list(generate(LIFECYCLE))


# --- the simulator's forcing ----------------------------------------------------------------------------


def test_a_typed_forced_excursion_lands_on_that_sensor_and_a_latch_rule_predicts_no_clear(lifecycle_run):
    # GIVEN the shipped rules (vibration-level latches) and excursion_types=("vibration",)
    expected = expected_transitions(lifecycle_run)
    vibration = [a for a in expected if a.split("#")[1] == "vibration"]
    # THEN one vibration alarm raises and escalates; back to normal it stays LATCHED: no clear predicted
    assert len(vibration) == 1 and expected[vibration[0]] == [RAISED, ESCALATED]
    device = vibration[0].split("#")[0]
    readings = [
        r.truth
        for r in lifecycle_run
        if r.truth["device_id"] == device and r.truth["sensor_type"] == "vibration"
    ]
    assert readings[-1]["expected_level"] == sc.LEVEL_NORMAL  # the excursion completed inside the run
    assert any(t["phase"] == "recovery" for t in readings if t.get("scenario") == sc.EXCURSION)


def test_a_held_excursion_raises_early_and_is_still_critical_at_the_end(lifecycle_run):
    expected = expected_transitions(lifecycle_run)
    held = [a for a, v in expected.items() if a.split("#")[1] == "temperature" and v == [RAISED, ESCALATED]]
    assert len(held) == 1
    device = held[0].split("#")[0]
    readings = [
        r.truth
        for r in lifecycle_run
        if r.truth["device_id"] == device and r.truth["sensor_type"] == "temperature"
    ]
    raised_at = next(t["timestamp_ms"] for t in readings if t.get("expected_transitions"))
    # THEN raised in the first three minutes, critical on the last reading (active when the run ends)
    assert raised_at - START_MS < 180_000
    assert readings[-1]["expected_level"] == sc.LEVEL_CRITICAL
    # and the other forced excursion completes: raised, escalated, cleared
    others = [v for a, v in expected.items() if a not in held and a.split("#")[1] != "vibration"]
    assert [RAISED, ESCALATED, (CLEARED, "critical")] in others


def test_forced_excursions_of_a_sensor_type_no_device_has_are_refused():
    with pytest.raises(
        SimulationError, match="no device of the first 3 has room for a forced excursion on co2"
    ):
        list(
            generate(dataclasses.replace(LIFECYCLE, devices=3, trailing_dropouts=0, excursion_types=("co2",)))
        )
    with pytest.raises(SimulationError, match="excursion_types names 2 sensor types for 1 forced"):
        SimConfig(min_excursions=1, excursion_types=("co2", "vibration")).resolved()
    with pytest.raises(SimulationError, match="'wind' has no excursion shape"):
        SimConfig(held_excursion_types=("wind",)).resolved()
    with pytest.raises(
        SimulationError, match=r"\(2 \+ 2\) \+ 1 held excursions must not exceed the 4 devices"
    ):
        dataclasses.replace(LIFECYCLE, devices=4).resolved()


def test_configs_without_the_new_fields_force_exactly_what_they_did():
    # GIVEN a config using only min_excursions / trailing_dropouts: the typed pass draws nothing
    plain = dataclasses.replace(LIFECYCLE, excursion_types=(), held_excursion_types=())
    expected = expected_transitions(list(generate(plain)))
    # THEN every forced excursion completes, as before (latch rules aside)
    assert len(expected) == 2


def test_a_latched_prediction_re_raised_escalates_only_to_a_worse_severity():
    rule = SensorRule("vib", "vibration", 0, 1, 1, None, 7.1, None, None, 300, latch=True)
    p = Prediction(rule, "d#vibration#vib", None)
    assert [e["transition"] for e in p.observe(1, 8.0, WARNING)] == ["Alarm Raised"]
    assert p.observe(2, 1.0, CLEAR) == []  # LATCHED
    assert p.observe(3, 8.0, WARNING) == []  # back to active: the same episode, nothing new to tell
    assert p.observe(4, 1.0, CLEAR) == []
    assert [(e["transition"], e["severity"]) for e in p.observe(5, 15.0, CRITICAL)] == [ESCALATED]


# --- the demo's plan --------------------------------------------------------------------------------------


def test_the_demo_plans_a_latched_vibration_and_a_reminded_temperature_alarm_from_the_shipped_rules():
    plan = plan_lifecycle(DemoOptions(devices=10, duration_s=900, seed=11))
    assert plan == LifecyclePlan("vibration", "temperature", 600)
    cfg = sim_config(DemoOptions(devices=10, duration_s=900, seed=11))
    assert cfg.excursion_types == ("vibration",) and cfg.held_excursion_types == ("temperature",)
    assert cfg.min_excursions == 2 and cfg.trailing_dropouts == 2
    # a fleet without a vibration device has no latch to show; too small a fleet no second excursion
    assert lifecycle_plan(load_fleet()[:5], load_rule_book()).latch_type is None
    assert plan_lifecycle(DemoOptions(devices=3)).latch_type is None
    # too little device time for a reminder interval to pass: no held excursion, no reminder expected
    assert plan_lifecycle(DemoOptions(devices=10, duration_s=660)) == LifecyclePlan("vibration")
    assert sim_config(DemoOptions(devices=10, duration_s=660)).held_excursion_types == ()


def test_the_silence_takes_a_device_whose_alarm_raises_and_clears_never_the_latched_or_held_one(
    lifecycle_run,
):
    device = silence_target(lifecycle_run, {"vibration"})
    expected = expected_transitions(lifecycle_run)
    ours = [v for a, v in expected.items() if a.startswith(f"{device}#")]
    assert ours == [[RAISED, ESCALATED, (CLEARED, "critical")]]


# --- checks and report ------------------------------------------------------------------------------------


class _Webhook:
    def __init__(self, event_ids: list[str]) -> None:
        self._ids = event_ids

    def messages(self) -> list[dict[str, Any]]:
        return [
            {"blocks": [{"type": "context", "elements": [{"text": f"rule r · event {e}"}]}]}
            for e in self._ids
        ]


@dataclasses.dataclass
class _Cloud:
    webhook: _Webhook


def _id(n: int) -> str:
    return f"{n:032x}"


def _tally() -> Tally:
    tally = Tally()
    tally.transitions = {
        _id(1): ("Alarm Raised", "warning", "d1#temperature#temperature-range"),
        _id(2): ("Alarm Reminder", "critical", "d1#temperature#temperature-range"),
        _id(3): ("Alarm Raised", "warning", "d2#pressure#pressure-range"),  # silenced
        _id(4): ("Alarm Cleared", "warning", "d2#pressure#pressure-range"),  # silenced
    }
    tally.suppressed = {_id(3): "silenced", _id(4): "silenced"}
    tally.notify_accepted = set(tally.transitions)  # a filter that did not drop the suppressed ones
    return tally


PLAN = LifecyclePlan("vibration", "temperature", 600)
SILENCE = {"silence_id": "s-1", "matchers": {"device_id": "d2"}}
LATCHED = {"latched": 1, "acknowledged": 1, "cleared": 1, "alarm_id": "d3#vibration#vibration-level"}


def _summary(life: dict[str, Any]) -> dict[str, Any]:
    return {
        "drained": True,
        "duplicates": 0,
        "accounted": 5,
        "published": 5,
        "notifications_match": True,
        "truth": {"ok": True},
        "lifecycle": life,
        "formats": {"raw": {"published": 5, "enriched": 4, "quarantined": 1}},
    }


def test_suppressed_transitions_are_not_expected_at_the_webhook_and_the_lifecycle_checks_pass():
    # GIVEN the webhook got the raise and the reminder, not the two silenced transitions
    cloud: Any = _Cloud(_Webhook([_id(1), _id(2)]))
    tally = _tally()
    got = notifications(cloud, tally)
    assert got["notifications_expected"] == 2 and got["notifications_match"] is True
    life = lifecycle_counts(cloud, tally, PLAN, SILENCE, LATCHED)
    assert life["reminders"] == {"observed": 1, "delivered": 1}
    assert life["silenced"]["published"] == 2 and life["silenced"]["delivered"] == 0
    checks = verdicts(_summary(life))
    assert checks == {
        "accounted": True,
        "formats": True,
        "notifications": True,
        "truth": True,
        "reminders": True,
        "latched": True,
        "silenced": True,
    }
    assert lifecycle_lines(life) == [
        "reminders: 1 (1 delivered; repeat_every 600 s)",
        "latched alarms acknowledged: 1 (cleared: d3#vibration#vibration-level; 1 latched)",
        "silenced notifications: 2 (0 delivered; silence s-1 over device_id=d2)",
    ]


def test_a_silenced_transition_at_the_webhook_a_missing_reminder_or_latch_fail_the_demo():
    # GIVEN notify sent a silenced raise, no reminder came, and no LATCHED alarm was found
    cloud: Any = _Cloud(_Webhook([_id(1), _id(3)]))
    tally = _tally()
    del tally.transitions[_id(2)]
    tally.notify_accepted.discard(_id(2))
    none_latched = {"latched": 0, "acknowledged": 0, "cleared": 0, "alarm_id": None}
    life = lifecycle_counts(cloud, tally, PLAN, SILENCE, none_latched)
    summary = _summary(life)
    summary["notifications_match"] = notifications(cloud, tally)["notifications_match"]
    checks = verdicts(summary)
    assert summary["notifications_match"] is False
    assert (checks["reminders"], checks["latched"], checks["silenced"]) == (False, False, False)
    assert lifecycle_lines(life) == [
        "reminders: MISSING (an alarm held ACTIVE past its repeat_every 600 s, no Alarm Reminder seen)",
        "latched alarms acknowledged: MISSING (no LATCHED alarm found after the drain)",
        "silenced notifications: 2 (1 delivered; silence s-1 over device_id=d2): MISMATCH",
    ]


def test_lifecycle_checks_the_run_was_not_set_up_for_are_not_made():
    cloud: Any = _Cloud(_Webhook([]))
    life = lifecycle_counts(cloud, Tally(), LifecyclePlan(), {"silence_id": None}, dict.fromkeys(LATCHED))
    checks = verdicts(_summary(life))
    assert (checks["reminders"], checks["latched"], checks["silenced"]) == (None, None, None)
    assert lifecycle_lines(life) == []


def test_the_acknowledged_latched_alarm_adds_its_clear_to_the_ground_truth(lifecycle_run):
    expected = expected_transitions(lifecycle_run)
    vibration = next(a for a in expected if a.split("#")[1] == "vibration")
    tally = Tally()
    for n, (alarm_id, transitions) in enumerate(sorted(expected.items())):
        for m, (name, severity) in enumerate(transitions):
            tally.transitions[_id(100 * n + m)] = (name, severity, alarm_id)
    tally.transitions[_id(999)] = (CLEARED, "critical", vibration)  # the acknowledgement's
    # WHEN checked without the acknowledgement, THEN the clear is a mismatch; with it, a match
    assert truth_check(lifecycle_run, tally, None, 0)["ok"] is False
    assert truth_check(lifecycle_run, tally, None, 0, [vibration])["ok"] is True
