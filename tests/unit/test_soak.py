"""The soak's own logic, without a local cloud: the memory-growth verdict and the lag summary over
synthetic series, the sampler over a fake runtime and a fake /proc, the device-clock pacing and the
conservation check against the ground truth."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.localcloud.demo.verify import Stored
from sensorflow.localcloud.soak import procmem
from sensorflow.localcloud.soak.conservation import conservation
from sensorflow.localcloud.soak.figures import checks, memory_bounded
from sensorflow.localcloud.soak.publisher import paced
from sensorflow.localcloud.soak.sampler import Sampler, take_sample
from sensorflow.localcloud.soak.verdict import (
    lag_summary,
    memory_growth,
    slope_per_min,
    sparkline,
    sustained_rate_per_min,
    warmup_s,
)
from sensorflow.simulate import SimRecord

TEN_MINUTES = [float(t) for t in range(0, 601, 10)]
WARMUP = warmup_s(600)  # 120 s


def series(f: Any) -> list[tuple[float, float]]:
    return [(t, f(t)) for t in TEN_MINUTES]


# -- memory verdict ------------------------------------------------------------------------------------


def test_warmup_is_a_minute_or_a_fifth_of_the_run():
    assert warmup_s(120) == 60.0
    assert warmup_s(600) == 120.0


def test_a_flat_worker_is_bounded():
    growth = memory_growth(series(lambda t: 80.0), WARMUP)
    assert (growth.bounded, growth.growth_mib, growth.rate_mib_per_min) == (True, 0.0, 0.0)


def test_a_steady_leak_is_unbounded():
    # GIVEN a worker that warms up to 80 MiB and then leaks 3 MiB a minute
    growth = memory_growth(series(lambda t: 80.0 + 3.0 * t / 60), WARMUP)
    # THEN it grew 24 MiB after the warm-up (tolerance 16) and still climbs 3 MiB/min
    assert growth.bounded is False
    assert growth.warm_mib == pytest.approx(86.0)
    assert growth.growth_mib == pytest.approx(24.0)
    assert growth.rate_mib_per_min == pytest.approx(3.0)


def test_a_warm_up_climb_that_levels_off_is_bounded():
    # GIVEN 40 MiB at start, imports and caches up to 100 MiB in the first two minutes, then flat
    growth = memory_growth(series(lambda t: 40.0 + 60.0 * min(t, 120) / 120), WARMUP)
    assert (growth.start_mib, growth.warm_mib, growth.end_mib) == (40.0, 100.0, 100.0)
    assert growth.bounded is True


def test_one_step_in_the_second_half_is_a_first_import_not_a_leak():
    # GIVEN a worker that steps up 25 MiB once, late (its first alarm transition imports the publisher)
    growth = memory_growth(series(lambda t: 80.0 if t < 500 else 105.0), WARMUP)
    # THEN it grew more than the tolerance, but its sustained rate is nil: bounded
    assert growth.growth_mib == 25.0
    assert growth.rate_mib_per_min == 0.0
    assert growth.bounded is True


def test_a_slow_creep_within_the_tolerance_is_bounded():
    growth = memory_growth(series(lambda t: 80.0 + 0.5 * t / 60), WARMUP)
    assert growth.rate_mib_per_min == pytest.approx(0.5)
    assert growth.bounded is True


def test_a_run_too_short_to_judge_says_so():
    short = [(t, 80.0 + t) for t in (0.0, 10.0, 20.0, 30.0)]
    assert memory_growth(short, 60.0).bounded is None  # ended during the warm-up
    assert memory_growth([*short[:1], (70.0, 90.0), (80.0, 91.0)], 60.0).bounded is None
    assert memory_growth([], 60.0).bounded is None


NOISE = st.lists(st.floats(-0.05, 0.05), min_size=61, max_size=61)  # RSS jitter: well under 1 MiB/min


@settings(max_examples=40, deadline=None)
@given(warm=st.floats(30, 60), leak=st.floats(2.5, 20), noise=NOISE)
def test_any_leak_over_the_limits_is_caught_whatever_the_jitter(warm, leak, noise):
    # 2.5 MiB/min or more for the 8 minutes after the warm-up is 20 MiB or more: over the 16 MiB / 20 %
    # tolerance for these sizes, and its sustained rate stays over 1 MiB/min under the jitter.
    points = [(t, warm + leak * t / 60 + n) for t, n in zip(TEN_MINUTES, noise, strict=True)]
    assert memory_growth(points, WARMUP).bounded is False


@settings(max_examples=40, deadline=None)
@given(
    warm=st.floats(30, 300),
    step_at=st.sampled_from(TEN_MINUTES[13:]),
    step=st.floats(0, 200),
    noise=NOISE,
)
def test_any_single_step_then_flat_is_bounded(warm, step_at, step, noise):
    points = [
        (t, warm + (step if t >= step_at else 0.0) + n) for t, n in zip(TEN_MINUTES, noise, strict=True)
    ]
    assert memory_growth(points, WARMUP).bounded is True


def test_memory_check_fails_on_any_unbounded_worker_and_is_unknown_when_none_was_judged():
    assert memory_bounded({"a": {"bounded": True}, "b": {"bounded": False}}) is False
    assert memory_bounded({"a": {"bounded": True}, "b": {"bounded": None}}) is True
    assert memory_bounded({"a": {"bounded": None}}) is None


def test_rates_and_slopes():
    assert slope_per_min([(0.0, 10.0), (30.0, 11.0), (60.0, 12.0)]) == pytest.approx(2.0)
    assert slope_per_min([(5.0, 1.0)]) is None
    assert sustained_rate_per_min([(0.0, 0.0), (10.0, 0.0), (20.0, 50.0), (30.0, 50.0)]) == 0.0
    assert sustained_rate_per_min([(0.0, 0.0), (60.0, 1.0), (120.0, 3.0)]) == pytest.approx(1.5)


# -- lag ---------------------------------------------------------------------------------------------------


def test_lag_summary_over_a_sampled_series():
    lag = lag_summary([(0.0, 0.0), (10.0, 1200.0), (20.0, 400.0), (30.0, 800.0), (40.0, 200.0)])
    assert (lag.peak_ms, lag.p50_ms, lag.last_ms) == (1200.0, 400.0, 200.0)
    assert lag.spark == "▁█▃▆▂"
    assert lag.slope_ms_per_min == pytest.approx(-600.0)  # least squares over 400, 800, 200 at 20-40 s


def test_sparkline_keeps_each_buckets_peak():
    assert sparkline([0.0, 0.0]) == "▁▁"
    assert sparkline([0.0] * 50 + [7.0] + [0.0] * 49, width=10) == "▁▁▁▁▁█▁▁▁▁"


# -- sampler -----------------------------------------------------------------------------------------------


class FakeRuntime:
    def __init__(self) -> None:
        self.ages = [250.0, 0.0]

    def status(self) -> dict[str, Any]:
        return {
            "streams": {
                "a": {"pending": 3, "iterator_age_ms": self.ages[0]},
                "b": {"pending": 4, "iterator_age_ms": self.ages[1]},
            },
            "mappings": {"m1": {"records_delivered": 10}, "m2": {"records_delivered": 5}},
        }


PROCESSES = [
    procmem.Process(11, "worker", "stack-ingest", 102_400),
    procmem.Process(12, "worker", "stack-notify", 51_200),
    procmem.Process(13, "moto", None, 307_200),
]


def test_a_sample_takes_the_oldest_lag_over_streams_and_each_workers_rss():
    sample = take_sample(FakeRuntime(), 12.5, "publishing", 99, lambda: PROCESSES, lambda: 204_800)
    assert (sample.delivered, sample.pending, sample.iterator_age_ms) == (15, 7, 250.0)
    assert sample.workers == {11: ("stack-ingest", 100.0), 12: ("stack-notify", 50.0)}
    assert (sample.workers_mib, sample.moto_mib, sample.self_mib) == (150.0, 300.0, 200.0)
    assert sample.row()["workers"] == 2


def test_the_sampler_times_samples_from_its_start_and_follows_the_lag():
    # GIVEN a sampler on a fake clock and a runtime whose lag changes between samples
    runtime = FakeRuntime()
    now = [100.0]
    sampler = Sampler(
        runtime,
        3600.0,  # the thread never fires on its own during the test
        lambda: 7,
        clock=lambda: now[0],
        take=lambda rt, t, phase, published: take_sample(rt, t, phase, published, lambda: [], lambda: None),
    )
    sampler.start()
    now[0], runtime.ages = 110.0, [0.0, 900.0]
    sampler.sample()
    now[0], sampler.phase = 125.0, "draining"
    samples = sampler.stop()
    assert [(s.t_s, s.phase, s.iterator_age_ms) for s in samples] == [
        (0.0, "publishing", 250.0),
        (10.0, "publishing", 900.0),
        (25.0, "draining", 900.0),
    ]


def _proc(
    root: Path, pid: int, ppid: int, comm: str, argv: list[str], rss: int | None, env: str = ""
) -> None:
    d = root / str(pid)
    d.mkdir()
    (d / "stat").write_text(f"{pid} ({comm}) S {ppid} 1 1 0 -1\n")
    (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    (d / "environ").write_bytes(env.encode())
    status = "Name:\tpython\n" + (f"VmRSS:\t  {rss} kB\n" if rss is not None else "")
    (d / "status").write_text(status)


def test_procmem_finds_this_processes_workers_and_moto_in_proc(tmp_path: Path):
    # GIVEN a /proc with two workers and moto under parent 100, a worker of another parent, a zombie
    worker = ["python", "-m", procmem.WORKER_MODULE, "5", "6"]
    _proc(tmp_path, 200, 100, "python (x)", worker, 40_960, "A=1\0AWS_LAMBDA_FUNCTION_NAME=s-ingest\0")
    _proc(tmp_path, 201, 100, "python", worker, 20_480, "AWS_LAMBDA_FUNCTION_NAME=s-notify\0")
    _proc(tmp_path, 202, 100, "python", ["python", "-m", procmem.MOTO_MODULE, "--port", "1"], 81_920)
    _proc(tmp_path, 203, 999, "python", worker, 10_240, "AWS_LAMBDA_FUNCTION_NAME=other\0")
    _proc(tmp_path, 204, 100, "python", worker, None)
    _proc(tmp_path, 205, 100, "npx", ["npx", "sls"], 1_000)
    (tmp_path / "self").mkdir()
    # WHEN it looks for parent 100's processes
    found = procmem.local_cloud_processes(100, tmp_path)
    # THEN the two workers (named by their function) and moto, with their RSS
    assert found == [
        procmem.Process(200, "worker", "s-ingest", 40_960),
        procmem.Process(201, "worker", "s-notify", 20_480),
        procmem.Process(202, "moto", None, 81_920),
    ]
    assert procmem.rss_kib(4242, tmp_path) is None


# -- pacing ------------------------------------------------------------------------------------------------


def _record(
    device: str, seq: int, tick_ms: int, outcome: str = "stored", reason: str | None = None
) -> SimRecord:
    truth = {
        "device_id": device,
        "seq": seq,
        "tick_ms": tick_ms,
        "outcome": outcome,
        "expected_reason": reason,
    }
    return SimRecord(device, f"{device}:{seq}".encode(), truth)


def test_paced_publishes_each_record_at_its_device_tick_and_stops_when_told():
    # GIVEN records due at 1.0 s, 1.0 s, 0.5 s (a late reading released after) and 3.0 s on the device clock
    records = [_record("d", 1, 1000), _record("d", 2, 1000), _record("d", 0, 500), _record("d", 3, 3000)]
    now = [0.25]
    waits: list[float] = []

    def wait(delay: float) -> None:
        waits.append(round(delay, 3))
        now[0] += delay

    stop = threading.Event()
    out = []
    for r in paced(records, stop, clock=lambda: now[0], wait=wait):
        out.append(r.truth["seq"])
        if r.truth["seq"] == 0:
            stop.set()
    # THEN it waited 0.75 s for the first, nothing for the second and the late one, then stopped
    assert out == [1, 2, 0]
    assert waits == [0.75]


# -- conservation ------------------------------------------------------------------------------------------

PUBLISHED = [
    _record("dev-1", 1, 0),
    _record("dev-1", 2, 0),
    _record("dev-2", 1, 0),
    _record("dev-2", 9, 0, "quarantined", "decode_error"),
]


def _stored(
    readings: dict[tuple[str, int], int], payloads: list[tuple[str, bytes]], reasons: dict[str, int]
) -> Stored:
    where = Counter({("shard", str(i), None): 1 for i in range(len(payloads))})
    return Stored(Counter(readings), where, Counter(reasons), payloads)


def test_conservation_holds_when_every_record_is_where_the_truth_says_once():
    stored = _stored(
        {("dev-1", 1): 1, ("dev-1", 2): 1, ("dev-2", 1): 1}, [("dev-2", b"dev-2:9")], {"decode_error": 1}
    )
    kept = conservation(PUBLISHED, stored)
    assert kept["ok"] is True
    assert (kept["published"], kept["enriched"], kept["quarantined"], kept["duplicates"]) == (4, 3, 1, 0)


def test_conservation_names_what_is_missing_stored_twice_or_not_published():
    # GIVEN dev-1#2 missing, dev-2#1 stored twice, dev-3#1 never published, the quarantined one absent
    stored = _stored({("dev-1", 1): 1, ("dev-2", 1): 2, ("dev-3", 1): 1}, [], {})
    kept = conservation(PUBLISHED, stored)
    problems = kept["problems"]
    assert kept["ok"] is False
    assert problems["missing_readings"] == {"count": 1, "first": ["dev-1#2"]}
    assert problems["stored_twice"] == {"count": 1, "first": ["dev-2#1"]}
    assert problems["unexpected_readings"] == {"count": 1, "first": ["dev-3#1"]}
    assert problems["missing_quarantined"] == 1
    assert problems["reasons_differ"] is True


def test_a_quarantine_with_the_wrong_reason_fails_conservation():
    stored = _stored(
        {("dev-1", 1): 1, ("dev-1", 2): 1, ("dev-2", 1): 1}, [("dev-2", b"dev-2:9")], {"schema": 1}
    )
    assert conservation(PUBLISHED, stored)["ok"] is False


def test_the_exit_checks():
    summary: dict[str, Any] = {
        "drained": True,
        "settled": True,
        "publish_failed": 0,
        "conservation": {"ok": True, "duplicates": 0},
        "truth": {"ok": True},
        "notifications": {"notifications_match": True},
        "memory": {"workers": {"w": {"bounded": None}}},
    }
    assert checks(summary) == {
        "drained": True,
        "published": True,
        "conservation": True,
        "stored_once": True,
        "transitions": True,
        "notifications": True,
        "memory_bounded": None,
    }
    summary["truth"] = {"ok": False}
    assert checks(summary)["transitions"] is False
