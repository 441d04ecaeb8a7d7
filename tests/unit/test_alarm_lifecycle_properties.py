"""Property tests of the pure alarm lifecycle (hypothesis): any interleaving of readings, operator actions,
snooze and disable expiries, reminders and silences gives transitions that alternate -- no clear without a
raise, no second raise without a clear -- carry their episode's number, and respect latching."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.core import alarms as am
from sensorflow.core.contract import Transition
from sensorflow.core.silences import Silence
from tests.unit.test_alarms import DEV, T0, book

ENDING = {Transition.CLEARED, Transition.RESET}
INSIDE = {Transition.ESCALATED, Transition.REMINDER, Transition.ACKNOWLEDGED}

rules = st.fixed_dictionaries(
    {},
    optional={
        "latch": st.booleans(),
        "repeat_every": st.sampled_from([60, 300]),
        "for_seconds": st.sampled_from([0, 20, 60]),
        "deadband": st.sampled_from([0.0, 2.0]),
    },
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("reading"), st.sampled_from([10.0, 34.0, 36.0, 40.0, 46.0, 50.0])),
        st.tuples(st.just("ack"), st.none()),
        st.tuples(st.just("snooze"), st.sampled_from([30, 120, 900])),
        st.tuples(st.just("disable"), st.sampled_from([None, 60, 600])),
        st.tuples(st.just("enable"), st.none()),
        st.tuples(st.just("reset"), st.none()),
        st.tuples(st.just("tick"), st.sampled_from([5, 60, 400])),
    ),
    max_size=40,
)


def drive(rule, script):
    """Run ``script``; returns [(op, state before, event)] and the final alarm."""
    alarm, now, seq, prev = am.Alarm.new("dev-00001", "temperature", "t"), T0, 0, None
    out = []
    for op, arg in script:
        now += 10_000
        before = alarm
        events: list[am.TransitionEvent] = []
        try:
            if op == "reading":
                seq += 1
                sample = am.Sample(
                    "dev-00001", "temperature", seq, now, now + 200, arg, "C", *(prev or (None, None))
                )
                prev = (now, arg)
                alarm, events = am.step(alarm, rule, sample, DEV)
            elif op == "ack":
                alarm, events = am.acknowledge(alarm, "ana", None, now, rule, DEV)
            elif op == "snooze":
                alarm, events = am.snooze(alarm, now + arg * 1000, "ana", None, now, rule, DEV)
            elif op == "disable":
                until = None if arg is None else now + arg * 1000
                alarm, events = am.disable(alarm, "ana", "maintenance", now, rule, DEV, until_ms=until)
            elif op == "enable":
                alarm, events = am.enable(alarm, "ana", None, now, rule, DEV)
            elif op == "reset":
                alarm, events = am.reset(alarm, "ana", None, now, rule, DEV)
            else:
                now += arg * 1000
                alarm, events = am.due(alarm, rule, now, DEV)
        except am.ActionNotAllowedError:
            assert op in ("ack", "snooze", "disable", "enable", "reset")
            continue
        out += [(op, before, ev) for ev in events]
    return out, alarm


@settings(max_examples=400, deadline=None)
@given(rules, ops)
def test_transitions_alternate_carry_their_episode_and_respect_latching(fields, script):
    rule = book(**fields).get("t")
    trace, final = drive(rule, script)
    open_episode, episode, ids = False, 0, set()
    for op, before, ev in trace:
        assert ev.event_id not in ids, (op, ev.transition)  # one id per transition
        ids.add(ev.event_id)
        t = ev.transition
        if t == Transition.RAISED:
            assert not open_episode, "a second raise without a clear"
            open_episode, episode = True, episode + 1
        elif t in ENDING:
            assert open_episode or t == Transition.RESET, "a clear without a raise"
            if t == Transition.CLEARED and rule.latch:
                # latched: it ends only by an acknowledgement (of LATCHED, or before the value came back)
                assert op == "ack" or before.state == am.ACKNOWLEDGED
            open_episode = False
        elif t == Transition.DISABLED:
            assert ev.severity == (before.severity if before.announced else "warning")
            open_episode = False
        elif t in INSIDE:
            assert open_episode, f"{t} outside an episode"
        assert ev.alarm.episode == episode
    assert final.announced == open_episode
    assert final.episode == episode


@settings(max_examples=150, deadline=None)
@given(rules, ops, st.booleans())
def test_silences_change_no_state_and_no_event_only_the_suppressed_mark(fields, script, stale):
    rule = book(**fields).get("t")
    trace, _ = drive(rule, script)
    silence = Silence("s1", {"site": DEV.site}, T0, T0 + 10**9, "ana", None, "window", T0)
    for _, _, ev in trace:
        marked = am.suppress(ev, [silence], stale)
        assert replace(marked, suppressed=None) == ev
        assert marked.suppressed["reason"] == "silenced"
