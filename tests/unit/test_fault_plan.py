"""The declarative fault plan: parsing with one-line errors, windows, deterministic decisions, the guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.localcloud.faults import (
    FaultDecider,
    FaultInjectionRefusedError,
    FaultPlan,
    FaultPlanError,
    refuse_deployed,
)

REPO = Path(__file__).resolve().parents[2]


def plan(*rules: dict, seed: int = 1) -> FaultPlan:
    return FaultPlan.from_dict({"seed": seed, "rules": list(rules)})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("name", ["sns-outage-2min", "issue14-mix", "slow-s3"])
def test_the_shipped_example_plans_load(name: str):
    loaded = FaultPlan.from_file(REPO / "examples" / "faults" / f"{name}.json")
    assert loaded.rules and loaded.source.endswith(f"{name}.json")
    assert FaultPlan.from_dict(loaded.to_dict()).rules == loaded.rules


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "must be a JSON object"),
        ({"rules": []}, "rules must be a non-empty list"),
        ({"rules": [{"service": "lambda", "kind": "throttle", "rate": 1}]}, "rules[0]: service 'lambda'"),
        ({"rules": [{"service": "sns", "kind": "boom", "rate": 1}]}, "rules[0]: kind 'boom' is not one of"),
        (
            {"rules": [{"service": "sns", "kind": "throttle", "rate": 1.5}]},
            "rate 1.5 must be a number from 0",
        ),
        ({"rules": [{"service": "sns", "kind": "throttle"}]}, "rate None must be a number"),
        (
            {"rules": [{"service": "s3", "kind": "partial", "rate": 0.1}]},
            "kind partial needs a batch operation",
        ),
        ({"rules": [{"service": "sns", "kind": "latency", "rate": 1}]}, "latency_ms 0 must be an integer"),
        (
            {"rules": [{"service": "sns", "kind": "throttle", "rate": 1, "latency_ms": 5}]},
            "latency_ms applies",
        ),
        ({"rules": [{"service": "sns", "kind": "throttle", "rate": 1, "start_s": 5, "end_s": 5}]}, "end_s 5"),
        ({"rules": [{"service": "sns", "kind": "throttle", "rate": 1, "start_s": -1}]}, "start_s -1"),
        ({"rules": [{"service": "sns", "kind": "throttle", "rate": 1, "oops": 1}]}, "unknown field 'oops'"),
        ({"seed": "x", "rules": [{"service": "sns", "kind": "throttle", "rate": 1}]}, "seed 'x' must be"),
        ({"rules": [{"service": "sns", "kind": "throttle", "rate": 1}] * 2}, "give one a distinct name"),
    ],
)
def test_a_bad_plan_is_one_line_naming_the_field(raw, message: str):
    with pytest.raises(FaultPlanError) as caught:
        FaultPlan.from_dict(raw, source="p.json")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("fault plan p.json: ")


def test_a_missing_or_broken_file_is_one_line(tmp_path: Path):
    with pytest.raises(FaultPlanError, match="no such file; see examples/faults/"):
        FaultPlan.from_file(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"rules": [')
    with pytest.raises(FaultPlanError, match=r"not JSON \(line 1 column 12"):
        FaultPlan.from_file(broken)


def test_rules_apply_only_inside_their_window_and_to_their_operation():
    clock = Clock()
    decider = FaultDecider(
        plan(
            {
                "service": "sns",
                "operation": "Publish",
                "kind": "throttle",
                "rate": 1,
                "start_s": 10,
                "end_s": 20,
            }
        ),
        clock=clock,
    )
    assert decider.decide("sns", "Publish", b"a").rule is None  # t = 0: before the window
    clock.now += 10
    assert decider.decide("sns", "Publish", b"a").rule is not None
    assert decider.decide("sns", "PublishBatch", b"a").rule is None  # another operation
    assert decider.decide("events", "Publish", b"a").rule is None  # another service
    clock.now += 10
    assert decider.decide("sns", "Publish", b"a").rule is None  # t = 20: the window has closed
    assert decider.counts() == {"sns:Publish:throttle": {"calls": 1, "injected": 1, "entries_failed": 0}}


def test_latency_adds_up_and_lets_a_later_rule_decide():
    decider = FaultDecider(
        plan(
            {"service": "s3", "kind": "latency", "latency_ms": 200, "rate": 1},
            {"service": "s3", "kind": "latency", "latency_ms": 50, "rate": 1, "name": "more"},
            {"service": "s3", "kind": "http500", "rate": 1},
        )
    )
    decision = decider.decide("s3", "PutObject", b"x")
    assert decision.latency_ms == 250 and decision.rule is not None and decision.rule.kind == "http500"


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    rate=st.floats(0.05, 0.95),
    bodies=st.lists(st.binary(max_size=8), max_size=40),
)
def test_decisions_are_a_function_of_seed_rule_and_bytes(seed: int, rate: float, bodies: list[bytes]):
    rules = ({"service": "events", "kind": "throttle", "rate": rate},)

    def run(order: list[bytes]) -> dict[bytes, list[bool]]:
        decider = FaultDecider(plan(*rules, seed=seed))
        out: dict[bytes, list[bool]] = {}
        for body in order:
            out.setdefault(body, []).append(decider.decide("events", "PutEvents", body).rule is not None)
        return out

    # the same calls get the same faults in any interleaving (per distinct body, in its own order)
    assert run(bodies) == run(list(reversed(bodies))) or len(set(bodies)) < len(bodies)
    assert run(bodies) == run(bodies)


def test_rates_hold_roughly_and_partial_fails_entries_at_the_rate():
    decider = FaultDecider(
        plan(
            {"service": "events", "operation": "PutEvents", "kind": "partial", "rate": 0.1},
            {"service": "dynamodb", "kind": "throttle", "rate": 0.02},
        )
    )
    for i in range(5000):
        decider.decide("dynamodb", "PutItem", b"%d" % i)
        decider.decide("events", "PutEvents", b"%d" % i, entries=10)
    counts = decider.counts()
    assert 60 <= counts["dynamodb:*:throttle"]["injected"] <= 140  # 2% of 5000 = 100
    assert 4500 <= counts["events:PutEvents:partial"]["entries_failed"] <= 5500  # 10% of 50,000


@pytest.mark.parametrize(
    ("endpoint", "environ", "mocked", "refused"),
    [
        ("http://127.0.0.1:5050", {}, False, False),
        ("http://localhost:4566", {"AWS_LAMBDA_FUNCTION_NAME": "f"}, False, False),
        ("https://kinesis.eu-west-1.amazonaws.com", {}, True, True),
        ("http://10.0.0.5:5050", {}, False, True),
        (None, {"AWS_LAMBDA_FUNCTION_NAME": "sensorflow-prod-ingest"}, True, True),  # deployed: no endpoint
        (None, {}, False, True),  # would reach AWS
        (None, {}, True, False),  # moto's in-process mock answers
        (None, {"AWS_ENDPOINT_URL": "https://example.com"}, True, True),
    ],
)
def test_injection_is_refused_where_it_could_reach_aws(endpoint, environ, mocked: bool, refused: bool):
    if refused:
        with pytest.raises(FaultInjectionRefusedError, match="fault injection refused"):
            refuse_deployed(endpoint, environ, mocked=mocked)
    else:
        refuse_deployed(endpoint, environ, mocked=mocked)


def test_to_dict_round_trips_through_json():
    p = plan(
        {
            "service": "s3",
            "operation": "PutObject",
            "kind": "latency",
            "latency_ms": 5,
            "rate": 0.5,
            "end_s": 9,
        }
    )
    assert FaultPlan.from_dict(json.loads(json.dumps(p.to_dict()))) == p


@pytest.mark.parametrize("command", [["demo"], ["local", "up", "--port", "1"]])
def test_a_bad_faults_flag_is_one_line_before_anything_starts(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    from sensorflow.cli.main import main

    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"rules": [{"service": "sns", "kind": "throttle", "rate": 5}]}))
    argv = [*command, "--faults", str(bad)]
    if command[0] == "local":  # the port check comes first there; give it a free one
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            argv[3] = str(s.getsockname()[1])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(
        "--faults: fault plan " + str(bad) + ": rules[0]: rate 5 must be a number from 0 to 1 (0.05 = 5%)"
    )
    assert "\n" not in err and "Traceback" not in err
