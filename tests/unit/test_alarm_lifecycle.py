"""The alarm lifecycle of issue 10, pure: episodes, latching, reminders, snooze and disable expiry, reset,
device-stale actions and suppression. Each bug of the issue has a test here that failed before its fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sensorflow.core import alarms as am
from sensorflow.core import staleness
from sensorflow.core.alarms.stale_actions import stale_action, suppresses_raise
from sensorflow.core.contract import Transition, parse_transition
from sensorflow.core.silences import Silence
from tests.unit.test_alarms import DEV, T0, book, device_run, run

R, E, C = Transition.RAISED, Transition.ESCALATED, Transition.CLEARED
REM, RST = Transition.REMINDER, Transition.RESET
MIN = 60_000


def test_bug2_a_snooze_ending_on_an_escalating_reading_raises_and_the_clear_is_told():
    rule = book().get("t")
    # GIVEN a NORMAL alarm snoozed until T0 + 20 s
    snoozed, _ = am.snooze(am.Alarm.new("dev-00001", "temperature", "t"), T0 + 20_000, "bo", None, T0, rule)
    # WHEN it crosses warning during the snooze, the snooze ends on a critical reading, then it clears
    after, events, _ = run(rule, [37, 37, 46, 20], start=snoozed, every_s=10)
    # THEN the episode is told from its start: raised (critical, as it is by then), then cleared
    assert events == [(2, R, "critical"), (3, C, "critical")]
    assert (after.state, after.episode) == ("NORMAL", 1)


def test_episodes_count_up_and_every_transition_of_one_carries_its_number():
    rule = book().get("t")
    alarm, events = am.Alarm.new("dev-00001", "temperature", "t"), []
    prev = None
    for i, v in enumerate([36, 46, 20, 36, 20]):
        ts = T0 + i * 10_000
        sample = am.Sample("dev-00001", "temperature", i + 1, ts, ts + 500, v, "C", *(prev or (None, None)))
        alarm, evs = am.step(alarm, rule, sample, DEV)
        events += evs
        prev = (ts, v)
    docs = [parse_transition(e.to_message()) for e in events]
    assert [(d.transition, d.alarm.episode) for d in docs] == [(R, 1), (E, 1), (C, 1), (R, 2), (C, 2)]


def test_a_latched_alarm_stays_latched_until_acknowledged_and_clears_then():
    rule = book(latch=True).get("t")
    after, events, states = run(rule, [36, 20, 20])
    assert events == [(0, R, "warning")]
    assert states == ["ACTIVE", "LATCHED", "LATCHED"]
    # a crossing while latched is the same episode: no second raise
    again, events, _ = run(rule, [36], start=after, first_seq=4)
    assert (again.state, events, again.episode) == ("ACTIVE", [], 1)
    # acknowledging the latched alarm clears it, with the severity it had, by whom
    back, events, _ = run(rule, [20], start=again, first_seq=5)
    done, [ev] = am.acknowledge(back, "ana", "checked the chiller", T0 + MIN, rule)
    assert (ev.transition, ev.severity, ev.alarm.acknowledged_by) == (C, "warning", "ana")
    assert (done.state, done.announced, done.episode) == ("NORMAL", False, 1)


def test_a_latch_rule_acknowledged_while_active_clears_as_soon_as_the_value_is_back():
    rule = book(latch=True).get("t")
    active, _, _ = run(rule, [36])
    acked, _ = am.acknowledge(active, "ana", None, T0 + 1, rule)
    _, events, states = run(rule, [20], start=acked, first_seq=2)
    assert (events, states) == ([(0, C, "warning")], ["NORMAL"])


def test_reminders_once_per_interval_and_never_when_acknowledged():
    rule = book(repeat_every=300).get("t")
    active, _, _ = run(rule, [36])  # raised at T0 (device time)
    assert am.next_due_ms(active, rule) == T0 + 5 * MIN
    # nothing before the interval
    assert am.due(active, rule, T0 + 5 * MIN - 1, DEV) == (active, [])
    one, [ev] = am.due(active, rule, T0 + 5 * MIN + 10, DEV)
    assert (ev.transition, one.reminders) == (REM, 1)
    # the same run again (a retried heartbeat) decides the same event id; the next is one interval on
    _, [again] = am.due(active, rule, T0 + 5 * MIN + 20_000, DEV)
    assert again.event_id == ev.event_id
    assert am.due(one, rule, T0 + 6 * MIN, DEV) == (one, [])
    # a heartbeat that was down for 3 intervals tells one reminder, not three
    late, [_] = am.due(one, rule, T0 + 16 * MIN, DEV)
    assert (late.reminders, am.next_due_ms(late, rule)) == (3, T0 + 20 * MIN)
    acked, _ = am.acknowledge(late, "ana", None, T0 + 17 * MIN, rule)
    assert am.next_due_ms(acked, rule) is None


def test_bug9_a_snooze_on_a_silent_device_ends_by_the_clock():
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    snoozed, _ = am.snooze(active, T0 + 10 * MIN, "bo", None, T0 + MIN, rule)
    assert am.next_due_ms(snoozed, rule) == T0 + 10 * MIN
    # no reading arrives; the heartbeat comes by after the end
    back, [ev] = am.due(snoozed, rule, T0 + 10 * MIN + 30_000, DEV)
    assert (back.state, back.snoozed_until_ms, ev.transition, ev.alarm.episode) == ("ACTIVE", None, REM, 1)
    # a snooze of a NORMAL alarm ends quietly
    quiet, _ = am.snooze(am.Alarm.new("dev-00001", "temperature", "t"), T0 + MIN, "bo", None, T0, rule)
    assert am.due(quiet, rule, T0 + 2 * MIN, DEV)[0].state == "NORMAL"
    assert am.due(quiet, rule, T0 + 2 * MIN, DEV)[1] == []


def test_disable_needs_a_reason_carries_the_episode_severity_and_expires():
    rule = book().get("t")
    active, _, _ = run(rule, [46])  # critical at once (for_seconds 0)
    with pytest.raises(am.ActionNotAllowedError, match="reason"):
        am.disable(active, "bo", None, T0 + 1, rule)
    off, [ev] = am.disable(active, "bo", "sensor replaced", T0 + 1, rule, until_ms=T0 + 60 * MIN)
    # bug 4: the disable ends a critical episode, so it must carry critical (the incidents rule filters on it)
    assert (ev.transition, ev.severity, ev.alarm.episode, ev.alarm.note) == (
        Transition.DISABLED,
        "critical",
        1,
        "sensor replaced",
    )
    assert (off.state, off.episode, off.disabled_until_ms) == ("DISABLED", 1, T0 + 60 * MIN)
    on, [ev] = am.due(off, rule, T0 + 61 * MIN, DEV)
    assert (on.state, ev.transition, ev.alarm.updated_by) == ("NORMAL", Transition.ENABLED, "sensorflow")


def test_reset_ends_the_episode_and_a_condition_that_holds_raises_a_new_one():
    rule = book().get("t")
    active, _, _ = run(rule, [36])
    fresh, [ev] = am.reset(
        active, "ana", "re-seated probe", T0 + 1, rule, caller_arn="arn:aws:iam::1:user/ana"
    )
    assert (ev.transition, ev.severity, ev.alarm.caller_arn) == (RST, "warning", "arn:aws:iam::1:user/ana")
    _, events, _ = run(rule, [36], start=fresh, first_seq=2, every_s=10)
    assert events == [(0, R, "warning")]
    with pytest.raises(am.ActionNotAllowedError, match="nothing to reset"):
        am.reset(am.Alarm.new("dev-00001", "temperature", "t"), "ana", None, T0, rule)


def test_disabled_on_initialization_starts_disabled_until_enabled():
    rule = book(disabled_on_initialization=True).get("t")
    # GIVEN a rule that starts its alarms disabled: crossings emit nothing and store nothing
    applied, events = device_run(rule, [46, 46])
    assert (events, applied.alarms) == ([], {})
    # WHEN an operator enables the alarm (it has never been stored)
    initial = am.Alarm.initial("dev-00001", "temperature", "t", disabled=True)
    on, [ev] = am.enable(initial, "ana", "commissioned", T0, rule)
    # THEN it is kept (it differs from how it would start) and raises on the next crossing
    applied, events = device_run(rule, [46], alarms={on.alarm_id: on}, start_ts=T0 + MIN, first=5)
    assert (ev.transition, events) == (Transition.ENABLED, [(0, R, "critical")])


def stale_state() -> am.DeviceState:
    return replace(
        am.DeviceState("dev-00001", sensors={"temperature": am.SensorSeen(T0, 20.0, 300)}),
        stale_since_ms=T0 + 5 * MIN,
        stale_event_id="x",
        stale_episode=1,
    )


def test_bug11_device_stale_alarms_accept_ack_snooze_disable_enable_and_reset():
    st = stale_state()
    _, ctl, [ack] = stale_action("ack", st, None, "ana", "on site", T0 + 6 * MIN)
    assert (ctl.state, ack.transition, ack.alarm.episode) == ("ACKNOWLEDGED", Transition.ACKNOWLEDGED, 1)
    off_state, off, [dis] = stale_action("disable", st, None, "ana", "decommissioned", T0 + 6 * MIN)
    # disabling ends the open stale episode; while disabled the heartbeat raises nothing
    assert (off_state.stale_since_ms, dis.transition, off.state) == (None, Transition.DISABLED, "DISABLED")
    assert suppresses_raise(off, T0 + 100 * MIN)
    _, none, [en] = stale_action("enable", off_state, off, "ana", None, T0 + 7 * MIN)
    assert (none, en.transition) == (None, Transition.ENABLED)
    _, snz, _ = stale_action("snooze", st, None, "ana", None, T0 + 6 * MIN, until_ms=T0 + 30 * MIN)
    assert suppresses_raise(snz, T0 + 29 * MIN) and not suppresses_raise(snz, T0 + 30 * MIN)
    reset_state, _, [rs] = stale_action("reset", st, None, "ana", None, T0 + 6 * MIN)
    assert (reset_state.stale_since_ms, rs.transition) == (None, RST)
    with pytest.raises(am.ActionNotAllowedError, match="reason"):
        stale_action("disable", st, None, "ana", None, T0)


def test_silenced_and_inhibited_transitions_are_marked_and_stale_own_events_are_not():
    rule = book().get("t")
    _, [raised] = am.step(
        am.Alarm.new("dev-00001", "temperature", "t"),
        rule,
        am.Sample("dev-00001", "temperature", 1, T0, T0 + 500, 36.0, "C"),
        DEV,
    )
    silence = Silence("s1", {"site": DEV.site}, T0 - MIN, T0 + MIN, "ana", None, "maintenance", T0 - MIN)
    marked = am.suppress(raised, [silence], device_stale=True)
    doc = parse_transition(marked.to_message())
    assert (doc.suppressed.reason, doc.suppressed.silence_id) == ("silenced", "s1")
    assert marked.attributes()["suppressed"] == "silenced"
    inhibited = am.suppress(raised, [], device_stale=True)
    assert inhibited.suppressed["reason"] == "inhibited"
    assert am.suppress(raised, [], device_stale=False) is raised
    other_site = replace(silence, matchers={"site": "elsewhere"})
    assert am.suppress(raised, [other_site], device_stale=False) is raised
    stale_alarm_event = replace(raised, alarm=replace(raised.alarm, sensor_type=staleness.STALE_SENSOR_TYPE))
    assert am.suppress(stale_alarm_event, [], device_stale=True) is stale_alarm_event


def test_value_alarms_of_a_stale_device_are_inhibited_until_it_is_whole_again():
    rule = book(stale_after_seconds=300).get("t")
    # GIVEN a device raised stale (its humidity sensor silent), whose temperature sensor still reports
    state = replace(
        am.DeviceState(
            "dev-00001",
            sensors={
                "humidity": am.SensorSeen(T0 - 10 * MIN, 40.0, 300),
                "temperature": am.SensorSeen(T0 - 10_000, 20.0, 300),
            },
        ),
        stale_since_ms=T0 - 5 * MIN,
        stale_event_id="x",
        stale_episode=1,
    )
    # WHEN the temperature crosses
    applied, _ = device_run(rule, [36.0, 20.0], state=state)
    # THEN its transitions are published, marked inhibited (the humidity sensor keeps the device stale)
    assert [(ev.transition, (ev.suppressed or {}).get("reason")) for _, ev in applied.events] == [
        (R, "inhibited"),
        (C, "inhibited"),
    ]
    assert applied.state.stale_since_ms is not None


def test_a_stale_acknowledgement_ends_with_its_episode():
    st = stale_state()
    _, ctl, _ = stale_action("ack", st, None, "ana", None, T0 + 6 * MIN)
    with pytest.raises(am.ActionNotAllowedError, match="already acknowledged"):
        stale_action("ack", st, ctl, "ana", None, T0 + 7 * MIN)
    # a later episode can be acknowledged again
    second = replace(st, stale_episode=2)
    _, again, [ev] = stale_action("ack", second, ctl, "bo", None, T0 + 30 * MIN)
    assert (again.acknowledged_by, ev.alarm.episode) == ("bo", 2)
    # and a reading that ends the episode drops the acknowledgement from the device's alarms
    rule = book(stale_after_seconds=300).get("t")
    applied, events = device_run(rule, [20.0], state=st, alarms={ctl.alarm_id: ctl}, start_ts=T0 + 8 * MIN)
    assert [t for _, t, _ in events] == [C]
    assert ctl.alarm_id not in applied.alarms
