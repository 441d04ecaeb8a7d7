"""The notify service over in-memory fakes: the ledger's claim and lease, and a webhook sender."""

from __future__ import annotations

import itertools

import pytest

from sensorflow.core.contract import TransitionView, parse_transition
from sensorflow.core.errors import DeliveryError
from sensorflow.core.notification import render
from sensorflow.services.notify import NotifyService
from tests.factories import NOW_MS
from tests.fakes import FakeNotificationLedger, FakeSender
from tests.transitions import transition

REMAINING_MS = 30_000
RAISED = parse_transition(transition("Alarm Raised", seq=17))
CLEARED = parse_transition(transition("Alarm Cleared", seq=40, value=41.0, state="NORMAL"))


def remaining() -> int:
    return REMAINING_MS


def build(ledger: FakeNotificationLedger | None = None, sender: FakeSender | None = None):
    ledger = ledger or FakeNotificationLedger()
    sender = sender or FakeSender()
    tokens = (f"token-{i}" for i in itertools.count(1))
    svc = NotifyService(ledger, sender, clock_ms=lambda: NOW_MS, new_token=lambda: next(tokens))
    return svc, ledger, sender


def sent_item(t: TransitionView, token: str, attempts: int = 1) -> dict:
    return {
        "status": "sent",
        "claim_token": token,
        "claimed_at_ms": NOW_MS,
        "sent_at_ms": NOW_MS,
        "transition": t.transition,
        "alarm_id": t.alarm.alarm_id,
        "attempts": attempts,
    }


def test_one_message_per_event_id():
    # GIVEN two distinct transitions, each delivered twice (SNS is at-least-once)
    svc, ledger, sender = build()
    # WHEN notify handles them
    outcomes = svc.handle([RAISED, CLEARED, RAISED, CLEARED], remaining)
    # THEN each event id got exactly one message, rendered from its transition
    assert outcomes == ["sent", "sent", "duplicate", "duplicate"]
    assert sender.messages == [render(RAISED), render(CLEARED)]
    assert sender.attempts == 2
    assert sender.messages[0]["text"].startswith("[CRITICAL] Alarm Raised: temperature on dev-00042\n")
    # AND the ledger records each as sent under the token that claimed it
    assert ledger.items == {
        RAISED.event_id: sent_item(RAISED, "token-1"),
        CLEARED.event_id: sent_item(CLEARED, "token-2"),
    }


def test_a_duplicate_of_a_sent_event_is_skipped():
    # GIVEN an event already sent
    svc, ledger, sender = build()
    assert svc.notify(RAISED, remaining) == "sent"
    # WHEN it is delivered again
    outcome = svc.notify(RAISED, remaining)
    # THEN nothing is sent and the ledger item is unchanged
    assert (outcome, sender.attempts) == ("duplicate", 1)
    assert ledger.items[RAISED.event_id] == sent_item(RAISED, "token-1")


def test_a_live_claim_elsewhere_sends_nothing():
    # GIVEN another invocation holds a claim whose lease has not run out
    svc, ledger, sender = build()
    ledger.claim(RAISED, "other", NOW_MS - 1_000, lease_until_ms=NOW_MS + 10_000)
    before = dict(ledger.items[RAISED.event_id])
    # WHEN a duplicate delivery arrives
    outcome = svc.notify(RAISED, remaining)
    # THEN it sends nothing and leaves the other invocation's claim alone
    assert (outcome, sender.attempts, sender.messages) == ("in_progress", 0, [])
    assert ledger.items[RAISED.event_id] == before


def test_an_expired_claim_is_taken_over():
    # GIVEN a claim whose holder crashed: its lease ended before now
    svc, ledger, sender = build()
    ledger.claim(RAISED, "crashed", NOW_MS - 60_000, lease_until_ms=NOW_MS - 1)
    # WHEN the event is delivered again
    outcome = svc.notify(RAISED, remaining)
    # THEN this invocation claims it, sends one message and marks it sent as its second attempt
    assert (outcome, sender.messages) == ("sent", [render(RAISED)])
    assert ledger.items[RAISED.event_id] == sent_item(RAISED, "token-1", attempts=2)


def test_a_delivery_error_marks_failed_and_re_raises_and_a_retry_sends_once():
    # GIVEN a webhook that cannot be reached within this invocation
    svc, ledger, sender = build(sender=FakeSender(fail_next=1))
    # WHEN notify handles the event THEN the DeliveryError reaches Lambda (async retry, destination)
    with pytest.raises(DeliveryError, match=r"after 5 attempt\(s\): HTTP 502"):
        svc.notify(RAISED, remaining)
    # AND the ledger says failed, with the reason and no lease, so the retry may claim again
    assert ledger.items[RAISED.event_id] == {
        "status": "failed",
        "claim_token": "token-1",
        "claimed_at_ms": NOW_MS,
        "last_error": "webhook delivery failed after 5 attempt(s): HTTP 502",
        "transition": "Alarm Raised",
        "alarm_id": RAISED.alarm.alarm_id,
        "attempts": 1,
    }
    # WHEN Lambda retries the event THEN it is claimed again and delivered exactly once
    assert svc.notify(RAISED, remaining) == "sent"
    assert (sender.attempts, sender.messages) == (2, [render(RAISED)])
    assert ledger.items[RAISED.event_id] == {
        **sent_item(RAISED, "token-2", attempts=2),
        "last_error": "webhook delivery failed after 5 attempt(s): HTTP 502",
    }


def test_a_mark_sent_failure_after_a_successful_send_does_not_raise():
    # GIVEN the ledger write after the send fails
    svc, ledger, sender = build()
    ledger.fail_mark_sent = 1
    # WHEN notify handles the event
    outcome = svc.notify(RAISED, remaining)
    # THEN it reports sent (raising would make Lambda send the message again)
    assert (outcome, sender.messages) == ("sent", [render(RAISED)])
    # AND the claim is left to run out at the end of this invocation
    item = ledger.items[RAISED.event_id]
    assert (item["status"], item["lease_until_ms"]) == ("sending", NOW_MS + REMAINING_MS)
    # AND a duplicate delivery while the lease is live sends nothing
    assert svc.notify(RAISED, remaining) == "in_progress"
    assert sender.attempts == 1
