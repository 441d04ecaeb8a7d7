"""The notify service over in-memory fakes: the ledger's claim and lease, the route per owner team, and
suppressed transitions."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from sensorflow.core.contract import TransitionView, parse_transition
from sensorflow.core.errors import DeliveryError, TransientError
from sensorflow.core.notification import render
from sensorflow.core.routing import DEFAULT_ROUTE, Route, SingleRoute
from sensorflow.services.notify import NotifyService
from tests.factories import NOW_MS
from tests.fakes import FakeNotificationLedger, FakeSender
from tests.transitions import transition

REMAINING_MS = 30_000
RAISED = parse_transition(transition("Alarm Raised", seq=17))
CLEARED = parse_transition(transition("Alarm Cleared", seq=40, value=41.0, state="NORMAL"))


def remaining() -> int:
    return REMAINING_MS


class FakeRoutes:
    """Stands in for ``sensorflow.adapters.ssm_webhook_routes.SsmWebhookRoutes``: a sender per team that
    has a webhook, the default sender for every other team; ``asked`` keeps each team looked up."""

    def __init__(self, teams: dict[str, FakeSender], default: FakeSender | None = None) -> None:
        self.teams = teams
        self.default = default or FakeSender()
        self.asked: list[str | None] = []
        self.fail_next = 0

    def route(self, team: str | None) -> Route:
        self.asked.append(team)
        if self.fail_next:
            self.fail_next -= 1
            raise TransientError(
                "ssm:GetParameter /sensorflow/test/webhooks/teams/ops failed: ThrottlingException"
            )
        if team in self.teams:
            return Route(team, self.teams[team])
        return Route(DEFAULT_ROUTE, self.default)


def build(ledger: FakeNotificationLedger | None = None, sender: FakeSender | None = None, routes=None):
    ledger = ledger or FakeNotificationLedger()
    sender = sender or FakeSender()
    tokens = (f"token-{i}" for i in itertools.count(1))
    svc = NotifyService(
        ledger, routes or SingleRoute(sender), clock_ms=lambda: NOW_MS, new_token=lambda: next(tokens)
    )
    return svc, ledger, sender


def owned_by(team: str, **kwargs: Any) -> TransitionView:
    doc = transition(**kwargs)
    doc["device"]["owner_team"] = team
    return parse_transition(doc)


def records(caplog: pytest.LogCaptureFixture, message: str) -> list[Any]:
    return [r for r in caplog.records if r.message == message]


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


# --- routing per owner team ------------------------------------------------------------------------------


def test_a_team_with_its_own_webhook_gets_the_message(caplog):
    # GIVEN team "plant-a" has a webhook of its own
    plant_a = FakeSender()
    routes = FakeRoutes({"plant-a": plant_a})
    svc, ledger, _ = build(routes=routes)
    t = owned_by("plant-a")
    # WHEN its device raises an alarm
    outcome = svc.notify(t, remaining)
    # THEN the message goes to that team's webhook only, and the log names the route
    assert (outcome, plant_a.messages, routes.default.messages) == ("sent", [render(t)], [])
    assert routes.asked == ["plant-a"]
    [sent] = records(caplog, "notification sent")
    assert (sent.event_id, sent.route) == (t.event_id, "plant-a")
    # AND the ledger keeps its one item per event (one event, one destination)
    assert ledger.items == {t.event_id: sent_item(t, "token-1")}


def test_a_team_without_a_webhook_falls_back_to_the_default(caplog):
    routes = FakeRoutes({"plant-a": FakeSender()})
    svc, _, _ = build(routes=routes)
    t = owned_by("plant-b")
    assert svc.notify(t, remaining) == "sent"
    assert (routes.default.messages, routes.teams["plant-a"].messages) == ([render(t)], [])
    assert routes.asked == ["plant-b"]
    assert records(caplog, "notification sent")[0].route == "default"


@pytest.mark.parametrize(
    "team",
    ["plant a", "ops/../admin", "../teams", "team\nx", "-ops", ".hidden", "x" * 129, "équipe"],
)
def test_an_owner_team_that_cannot_name_a_parameter_takes_the_default_route(team, caplog):
    # GIVEN a device whose owner_team is not one SSM parameter name segment
    routes = FakeRoutes({"ops": FakeSender()})
    svc, _, _ = build(routes=routes)
    t = owned_by(team)
    # WHEN it notifies THEN no team is looked up: the default webhook gets it, and a warning says why
    assert svc.notify(t, remaining) == "sent"
    assert (routes.asked, len(routes.default.messages)) == ([None], 1)
    [warning] = records(caplog, "owner_team cannot name a webhook parameter: default route")
    assert (warning.levelname, warning.event_id, warning.owner_team) == ("WARNING", t.event_id, team)


def test_a_device_with_no_owner_team_takes_the_default_route_silently(caplog):
    routes = FakeRoutes({})
    svc, _, _ = build(routes=routes)
    doc = transition()
    doc["device"]["owner_team"] = None  # parsed as "unknown"
    assert svc.notify(parse_transition(doc), remaining) == "sent"
    assert routes.asked == [None]
    assert records(caplog, "owner_team cannot name a webhook parameter: default route") == []


@pytest.mark.parametrize("team", ["ops", "plant-a", "Plant_A.2", "7", "x" * 128])
def test_valid_team_names_are_routed(team):
    routes = FakeRoutes({team: FakeSender()})
    svc, _, _ = build(routes=routes)
    assert svc.notify(owned_by(team), remaining) == "sent"
    assert (routes.asked, len(routes.teams[team].messages)) == ([team], 1)


def test_a_failed_team_lookup_is_retried_never_sent_elsewhere():
    # GIVEN SSM throttles the team's lookup
    routes = FakeRoutes({"ops": FakeSender()})
    routes.fail_next = 1
    svc, ledger, _ = build(routes=routes)
    t = owned_by("ops")
    # WHEN notify handles the event THEN the transient error reaches Lambda and nothing was sent anywhere
    with pytest.raises(TransientError):
        svc.notify(t, remaining)
    assert (routes.default.messages, routes.teams["ops"].messages) == ([], [])
    # AND the claim's lease runs out with this invocation, so Lambda's retry delivers it to the team
    assert ledger.items[t.event_id]["lease_until_ms"] == NOW_MS + REMAINING_MS
    ledger.items[t.event_id]["lease_until_ms"] = NOW_MS - 1
    assert svc.notify(t, remaining) == "sent"
    assert len(routes.teams["ops"].messages) == 1


def test_a_failed_team_delivery_names_the_route(caplog):
    routes = FakeRoutes({"ops": FakeSender(fail_next=1)})
    svc, ledger, _ = build(routes=routes)
    t = owned_by("ops")
    with pytest.raises(DeliveryError):
        svc.notify(t, remaining)
    [failed] = records(caplog, "notification not delivered")
    assert (failed.event_id, failed.route) == (t.event_id, "ops")
    assert ledger.items[t.event_id]["status"] == "failed"


# --- suppressed transitions ------------------------------------------------------------------------------


def suppressed(reason: str, **kwargs: Any) -> TransitionView:
    doc = transition(**kwargs)
    doc["suppressed"] = {
        "reason": reason,
        "silence_id": "sil-1" if reason == "silenced" else None,
        "created_by": "alice" if reason == "silenced" else None,
        "comment": "maintenance" if reason == "silenced" else None,
        "ends_at": "2026-11-29T12:00:00.000Z" if reason == "silenced" else None,
    }
    return parse_transition(doc)


def emf_metrics(out: str) -> list[dict[str, Any]]:
    docs = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]
    return [d for d in docs if "NotificationsSuppressed" in d]


@pytest.mark.parametrize("reason", ["silenced", "inhibited"])
def test_a_suppressed_transition_notifies_nobody_and_counts_as_processed(reason, caplog, capfd):
    # GIVEN a transition a silence matched (or whose device is stale), for a team with a webhook
    routes = FakeRoutes({"ops": FakeSender()})
    svc, ledger, _ = build(routes=routes)
    t = suppressed(reason, seq=18)
    # WHEN notify handles it, and then a transition that is not suppressed
    outcomes = svc.handle([t, RAISED], remaining)
    # THEN nothing is sent for it and nothing is claimed: it is processed, "suppressed", not a failure
    assert outcomes == ["suppressed", "sent"]
    assert routes.teams["ops"].messages == [render(RAISED)]
    assert routes.default.messages == []
    assert list(ledger.items) == [RAISED.event_id]
    # AND one log line says which event and why
    [line] = records(caplog, "notification suppressed")
    assert (line.levelname, line.event_id, line.reason) == ("INFO", t.event_id, reason)
    # AND the metric NotificationsSuppressed counts it, with the reason as a dimension
    [metric] = emf_metrics(capfd.readouterr().out)
    assert (metric["NotificationsSuppressed"], metric["reason"], metric["service"]) == (
        [1.0],
        reason,
        "sensorflow",
    )
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "reason"]]


def test_a_suppressed_redelivery_of_a_sent_event_sends_nothing_either():
    svc, _, sender = build()
    assert svc.notify(RAISED, remaining) == "sent"
    assert svc.notify(suppressed("silenced", seq=17), remaining) == "suppressed"
    assert sender.attempts == 1
