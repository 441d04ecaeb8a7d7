"""SsmWebhookRoutes over an in-memory SSM client: the team's parameter or the default, and the cache of
both answers (found and not found) per TTL."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from sensorflow.adapters.ssm_webhook_routes import MAX_CACHED_TEAMS, SsmWebhookRoutes
from sensorflow.core.errors import ConfigError, TransientError

DEFAULT = "/sensorflow/test/webhook-url"
TEAMS = "/sensorflow/test/webhooks/teams"
TTL_S = 300.0


class FakeSsm:
    """``get_parameter`` over a dict of SecureStrings; ``calls`` keeps each name asked for."""

    def __init__(self, parameters: dict[str, str]) -> None:
        self.parameters = dict(parameters)
        self.calls: list[str] = []
        self.throttle_next = 0

    def get_parameter(self, Name: str, WithDecryption: bool) -> dict[str, Any]:  # boto3 argument names
        assert WithDecryption
        self.calls.append(Name)
        if self.throttle_next:
            self.throttle_next -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "GetParameter")
        if Name not in self.parameters:
            raise ClientError({"Error": {"Code": "ParameterNotFound"}}, "GetParameter")
        return {"Parameter": {"Name": Name, "Type": "SecureString", "Value": self.parameters[Name]}}


class UrlSender:
    """A sender that only says which URL it would post to (the route's source of truth) and which
    parameter its errors would name."""

    def __init__(self, url: Any, parameter: str) -> None:
        self.url = url
        self.parameter = parameter

    def send(self, message: dict[str, Any], remaining_ms: Any) -> None:
        raise AssertionError("not sent in these tests")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def routes(ssm: FakeSsm, clock: Clock | None = None, path: str | None = TEAMS) -> SsmWebhookRoutes:
    return SsmWebhookRoutes(DEFAULT, path, UrlSender, ssm, ttl_s=TTL_S, clock=clock or Clock())


def url_of(route: Any) -> str:
    return str(route.sender.url(False))


def test_a_team_with_a_parameter_gets_its_own_webhook():
    ssm = FakeSsm(
        {DEFAULT: "https://hooks.example.com/default", f"{TEAMS}/plant-a": "https://hooks.example.com/a"}
    )
    r = routes(ssm)
    route = r.route("plant-a")
    assert (route.name, url_of(route)) == ("plant-a", "https://hooks.example.com/a")
    # the sender's errors name the team's parameter, the default's its own
    assert (route.sender.parameter, r.route(None).sender.parameter) == (f"{TEAMS}/plant-a", DEFAULT)
    assert ssm.calls == [f"{TEAMS}/plant-a"]  # the URL was read once, for the lookup, then cached


def test_a_missing_team_falls_back_to_the_default_and_the_miss_is_cached():
    # GIVEN no parameter for team plant-b
    ssm = FakeSsm({DEFAULT: "https://hooks.example.com/default"})
    clock = Clock()
    r = routes(ssm, clock)
    # WHEN three of its messages are routed within the TTL
    chosen = [r.route("plant-b") for _ in range(3)]
    # THEN each takes the default webhook, and SSM was asked about the team once
    assert [c.name for c in chosen] == ["default"] * 3
    assert url_of(chosen[0]) == "https://hooks.example.com/default"
    assert ssm.calls == [f"{TEAMS}/plant-b", DEFAULT]
    # WHEN the team's parameter is created THEN it is used once the cached miss has expired
    ssm.parameters[f"{TEAMS}/plant-b"] = "https://hooks.example.com/b"
    clock.now += TTL_S - 1
    assert r.route("plant-b").name == "default"
    clock.now += 1
    route = r.route("plant-b")
    assert (route.name, url_of(route)) == ("plant-b", "https://hooks.example.com/b")
    assert ssm.calls == [f"{TEAMS}/plant-b", DEFAULT, f"{TEAMS}/plant-b"]


def test_a_found_team_is_cached_for_the_ttl_and_re_read_after_it():
    ssm = FakeSsm({f"{TEAMS}/ops": "https://hooks.example.com/ops"})
    clock = Clock()
    r = routes(ssm, clock)
    for _ in range(5):
        assert r.route("ops").name == "ops"
    assert ssm.calls == [f"{TEAMS}/ops"]
    clock.now += TTL_S
    del ssm.parameters[f"{TEAMS}/ops"]  # removed: the team is back on the default route
    assert r.route("ops").name == "default"
    assert ssm.calls == [f"{TEAMS}/ops"] * 2


def test_no_team_or_no_team_path_takes_the_default_without_a_lookup():
    ssm = FakeSsm({DEFAULT: "https://hooks.example.com/default"})
    assert routes(ssm).route(None).name == "default"
    assert routes(ssm, path=None).route("ops").name == "default"
    assert ssm.calls == []


def test_a_throttled_lookup_is_transient_not_a_fallback():
    # GIVEN SSM throttles the team's lookup
    ssm = FakeSsm({f"{TEAMS}/ops": "https://hooks.example.com/ops"})
    ssm.throttle_next = 1
    r = routes(ssm)
    # WHEN the team is routed THEN the error is transient (retried), not a silent default route
    with pytest.raises(TransientError, match="ThrottlingException"):
        r.route("ops")
    # AND the next try looks again (a failed lookup is not cached)
    assert r.route("ops").name == "ops"


def test_the_default_parameter_is_required_and_a_missing_one_is_asked_again():
    ssm = FakeSsm({})
    default = routes(ssm).route(None)
    for _ in range(2):
        with pytest.raises(ConfigError, match=f"SSM parameter {DEFAULT} does not exist"):
            default.sender.url(False)
    ssm.parameters[DEFAULT] = "https://hooks.example.com/default"
    assert url_of(default) == "https://hooks.example.com/default"
    assert ssm.calls == [DEFAULT] * 3


def test_the_team_cache_is_bounded():
    ssm = FakeSsm({})
    r = routes(ssm)
    for i in range(MAX_CACHED_TEAMS + 1):
        r.route(f"team-{i}")
    r.route("team-0")  # evicted (least recently used): looked up again
    r.route(f"team-{MAX_CACHED_TEAMS}")  # still cached
    assert len(ssm.calls) == MAX_CACHED_TEAMS + 2
