"""``make soak``: the local cloud at a steady rate for a set time, sampled as it runs, then checked.

The fleet is the simulator's whole committed fleet, its reporting interval set so the fleet sends the
asked readings per second, with device time running on the wall clock from the start of the soak: each
record is published when its device would send it (late readings when they are released), so the rate
is steady, staleness is real and nothing reads as minutes old. Every wire format is mixed in the stream,
as in the demo. Producer duplicates are left out of the scenario mix, so "nothing stored twice" holds
exactly (a producer duplicate is a second Kinesis record: ingest stores it again, by design).

What it reuses from the demo: the transition tap and the tally (``demo.verify.TransitionObserver``), the
read-back of S3 (``read_stored``), the ground-truth and notification checks, the progress line and the
settle wait (``demo.drive``). What is its own: the paced publisher, the sampler, the verdicts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sensorflow.localcloud.cloud import STATE_DIR, LocalCloud, project_root
from sensorflow.localcloud.demo.drive import (
    DEFAULT_FORMATS,
    DEFAULT_SCHEMA_VERSIONS,
    DemoOptions,
    progress_line,
    registry_ids,
    settle,
)
from sensorflow.localcloud.demo.verify import (
    Tally,
    TransitionObserver,
    notifications,
    read_stored,
    truth_check,
)
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.faults.plan import FaultPlan
from sensorflow.localcloud.soak.conservation import conservation
from sensorflow.localcloud.soak.sampler import Sample, Sampler
from sensorflow.localcloud.soak.verdict import Growth, lag_summary, memory_growth, warmup_s

Say = Callable[[str], None]

DEFAULT_MINUTES = 10.0
DEFAULT_RATE = 20.0  # readings/s: the committed fleet at its own intervals sends about 21.7
DEFAULT_SAMPLE_S = 10.0
DEFAULT_SEED = 7
DRAIN_TIMEOUT_S = 300.0
PROGRESS_EVERY_S = 30.0
# Forced excursions (each raises, escalates and clears inside the run) so alarms show at any rate.
FORCED_EXCURSIONS = 5
START_LEAD_S = 2.0  # device time starts a moment after generation
# The producer's own cap, above the steady rate so the pacing is the device clock's: its batches are then
# a fifth of a second's worth at this cap (KinesisProducer's paced batches).
PRODUCER_CAP_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class SoakOptions:
    minutes: float = DEFAULT_MINUTES
    rate: float = DEFAULT_RATE
    sample_every_s: float = DEFAULT_SAMPLE_S
    seed: int = DEFAULT_SEED
    faults: FaultPlan | None = None  # applied by the proxy from the moment publishing starts
    port: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS
    schema_versions: tuple[int, ...] = DEFAULT_SCHEMA_VERSIONS


@dataclass(slots=True)
class SoakResult:
    summary: dict[str, Any]
    samples: list[Sample]
    checks: dict[str, bool | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v is not False for v in self.checks.values())


def fleet_config(
    options: SoakOptions, start_ms: int, glue_version_ids: Any = None, excursions: int = FORCED_EXCURSIONS
) -> Any:
    """The simulation: the whole committed fleet, one reporting interval chosen so its sensors send
    ``options.rate`` readings per second, device time from ``start_ms`` for the soak's length."""
    from sensorflow.simulate import SimConfig, load_fleet
    from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE

    fleet = load_fleet()
    sensors = sum(len(d.sensor_types) for d in fleet)
    return SimConfig(
        duration_s=options.minutes * 60,
        interval_s=max(1.0, sensors / options.rate),
        seed=options.seed,
        start_ms=start_ms,
        scenario_mix={k: v for k, v in DEFAULT_SCENARIO_MIX.items() if k != DUPLICATE},
        min_excursions=min(excursions, len(fleet)),
        formats=options.formats,
        schema_versions=options.schema_versions,
        glue_version_ids=glue_version_ids,
    )


def forced_excursions(options: SoakOptions) -> int:
    """``FORCED_EXCURSIONS`` when they fit in the soak's device time (an excursion takes a few minutes
    of it), else 0: the random scenarios alone. ``SimulationError`` for options nothing fits."""
    from sensorflow.simulate import SimulationError, generate

    start_ms = int(time.time() * 1000)
    try:
        generate(fleet_config(options, start_ms))  # validates and plans; generates nothing yet
        return FORCED_EXCURSIONS
    except SimulationError:
        generate(fleet_config(options, start_ms, excursions=0))
        return 0


def paced(
    records: Iterable[Any],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    wait: Callable[[float], object] | None = None,
) -> Iterator[Any]:
    """``records`` (device-time order), each when the wall clock reaches its device tick; ends early when
    ``stop`` is set. A late reading's tick is in the past when it is released: it goes at once."""
    wait = wait or stop.wait
    for record in records:
        if stop.is_set():
            return
        delay = record.truth["tick_ms"] / 1000 - clock()
        if delay > 0:
            wait(delay)
        if stop.is_set():
            return
        yield record


class PacedPublisher:
    """Publishes the fleet's records on a thread as their device time comes; ``published`` holds the
    readings Kinesis accepted (a KPL aggregate's sub-records each), in order."""

    def __init__(self, cloud: LocalCloud, records: list[Any], rate: float, tally: Tally) -> None:
        from sensorflow.simulate import KinesisProducer

        assert cloud.endpoint is not None and cloud.info is not None
        self.records = records
        self.tally = tally
        self.published: list[Any] = []
        self.failed = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._producer = KinesisProducer(
            cloud.endpoint.client("kinesis"),
            cloud.info.outputs["SensorStreamName"],
            rate=max(rate * PRODUCER_CAP_FACTOR, 5.0),
        )
        self._thread = threading.Thread(target=self._run, name="soak-producer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _done(self, wire_record: Any, error: str | None) -> None:
        if error is None:
            self.published.extend(wire_record.readings)
            self.tally.published = len(self.published)
        else:
            self.failed += len(wire_record.readings)

    def _run(self) -> None:
        from sensorflow.simulate import wire

        try:
            self._producer.send(wire.kinesis_records(paced(self.records, self.stop)), on_done=self._done)
        except BaseException as exc:  # reported by run_soak after the join
            self.error = exc


def run_soak(options: SoakOptions, say: Say) -> SoakResult | None:
    """Up, publish at the steady rate while sampling, drain, read back, check, down. ``None`` when the
    stack did not deploy (``say`` has said why)."""
    excursions = forced_excursions(options)
    if excursions < FORCED_EXCURSIONS:
        say(f"soak: {options.minutes:g} min is too short for forced excursions; random scenarios only")
    cloud = LocalCloud(port=options.port, state_dir=project_root() / STATE_DIR / "soak")
    try:
        try:
            info = cloud.up(progress=say)
        except DeployError as exc:
            say(f"soak: {exc}")
            return None
        return _soak(cloud, options, excursions, info.timings_s, say)
    finally:
        say("tearing down the local cloud ...")
        cloud.down()


def _soak(
    cloud: LocalCloud, options: SoakOptions, excursions: int, timings: dict[str, float], say: Say
) -> SoakResult:
    from sensorflow.simulate import generate

    assert cloud.proxy is not None
    glue_ids = registry_ids(cloud, DemoOptions(formats=options.formats))
    tally = Tally()
    observer = TransitionObserver(cloud, tally)
    observer.start()
    try:
        start_ms = int((time.time() + START_LEAD_S) * 1000)
        records = list(generate(fleet_config(options, start_ms, glue_ids, excursions)))
        say(
            f"soak: {len(records)} readings over {options.minutes:g} min of device time "
            f"({options.rate:g} readings/s), sampling every {options.sample_every_s:g} s"
        )
        publisher, samples, summary = _publish_and_drain(cloud, options, records, tally, say)
    finally:
        observer.stop()
    summary["deploy_s"] = timings.get("deploy", 0.0)
    summary["forced_excursions"] = excursions
    summary["conservation"] = conservation(publisher.published, read_stored(cloud))
    summary["notifications"] = notifications(cloud, tally)
    # Heartbeats ran throughout, each seeing the fleet as it was then: Device Stale episodes are timing,
    # not checked; every reading-caused transition is (and must appear exactly once).
    summary["truth"] = truth_check(publisher.published, tally, None, heartbeats_during_replay=1)
    summary["alarms"] = tally.alarms()
    proxy_status = cloud.proxy.status()
    summary["faults_injected"] = sum(proxy_status["injected"].values())  # the armed ones (none here)
    summary["fault_plan"] = proxy_status["plan"]
    summary["mappings"] = _mapping_totals(cloud)
    summary.update(figures(samples, options.minutes * 60))
    return SoakResult(summary, samples, checks(summary))


def _publish_and_drain(
    cloud: LocalCloud, options: SoakOptions, records: list[Any], tally: Tally, say: Say
) -> tuple[PacedPublisher, list[Sample], dict[str, Any]]:
    """Publish at the steady rate while sampling, then wait for the drain and the deliveries."""
    assert cloud.runtime is not None
    runtime = cloud.runtime
    publisher = PacedPublisher(cloud, records, options.rate, tally)
    sampler = Sampler(runtime, options.sample_every_s, lambda: len(publisher.published))
    if options.faults is not None and cloud.proxy is not None:
        cloud.proxy.apply_plan(options.faults)  # its windows count from the first published record
        say(f"fault plan {options.faults.source or 'inline'} applied: {len(options.faults.rules)} rule(s)")
    sampler.start()
    publisher.start()
    started = time.monotonic()
    try:
        _watch(cloud, publisher, tally, len(records), say)
    finally:
        publisher.stop.set()
        publisher.join()
    publishing_s = time.monotonic() - started
    if publisher.error is not None:
        raise publisher.error
    sampler.phase = "draining"
    say("publishing done; waiting for the stream to drain and the deliveries to settle ...")
    drained = runtime.wait_idle(DRAIN_TIMEOUT_S)
    settled = settle(cloud, say)
    samples = sampler.stop()
    return (
        publisher,
        samples,
        {
            "minutes": options.minutes,
            "rate": options.rate,
            "sample_every_s": options.sample_every_s,
            "readings": len(records),
            "published": len(publisher.published),
            "publish_failed": publisher.failed,
            "publishing_s": round(publishing_s, 1),
            "drain_s": round(time.monotonic() - started - publishing_s, 1),
            "drained": drained,
            "settled": settled,
        },
    )


def _mapping_totals(cloud: LocalCloud) -> dict[str, int]:
    """What the event source mappings did about failures: retried and bisected batches, records sent to
    the on-failure destination."""
    assert cloud.runtime is not None
    totals: dict[str, int] = {}
    for mapping in cloud.runtime.status()["mappings"].values():
        for key in ("failed_invocations", "retries", "bisections", "records_discarded"):
            totals[key] = totals.get(key, 0) + int(mapping.get(key, 0))
    return totals


def _watch(cloud: LocalCloud, publisher: PacedPublisher, tally: Tally, total: int, say: Say) -> None:
    """Print a progress line every ``PROGRESS_EVERY_S`` while the publisher runs."""
    next_line = time.monotonic()
    while publisher.alive():
        if time.monotonic() >= next_line:
            progress_line(cloud, tally, total, say)
            next_line += PROGRESS_EVERY_S
        publisher.join(1.0)


def figures(samples: list[Sample], duration_s: float) -> dict[str, Any]:
    """Lag over the publishing, and memory per worker and in total, with their verdicts."""
    publishing = [s for s in samples if s.phase == "publishing"]
    lag = lag_summary([(s.t_s, s.iterator_age_ms) for s in publishing])
    warmup = warmup_s(duration_s)
    per_worker: dict[str, dict[str, Any]] = {}
    for pid in sorted({pid for s in samples for pid in s.workers}):
        series = [(s.t_s, s.workers[pid][1]) for s in samples if pid in s.workers]
        function = next(s.workers[pid][0] for s in samples if pid in s.workers)
        per_worker[f"{function}[{pid}]"] = _growth_dict(memory_growth(series, warmup))
    total = memory_growth([(s.t_s, s.workers_mib) for s in samples if s.workers], warmup)
    moto = memory_growth([(s.t_s, s.moto_mib) for s in samples if s.moto_mib is not None], warmup)
    return {
        "lag": {
            "peak_ms": round(lag.peak_ms, 1),
            "p50_ms": round(lag.p50_ms, 1),
            "last_ms": round(lag.last_ms, 1),
            "slope_ms_per_min": None if lag.slope_ms_per_min is None else round(lag.slope_ms_per_min, 1),
            "spark": lag.spark,
        },
        "memory": {
            "warmup_s": warmup,
            "workers": per_worker,
            "workers_total": _growth_dict(total),
            # moto keeps every object the run wrote: it grows by design and is not judged.
            "moto": _growth_dict(moto) | {"bounded": None},
        },
    }


def _growth_dict(growth: Growth) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in Growth.__slots__:
        value = getattr(growth, name)
        out[name] = round(value, 2) if isinstance(value, float) and math.isfinite(value) else value
    return out


def memory_bounded(workers: dict[str, dict[str, Any]]) -> bool | None:
    """False if any worker's memory grows without bound; True if at least one was judged and none does;
    None if none lived long enough to judge."""
    verdicts = [w["bounded"] for w in workers.values() if w["bounded"] is not None]
    if not verdicts:
        return None
    return all(verdicts)


def checks(summary: dict[str, Any]) -> dict[str, bool | None]:
    """The exit code's checks (``None``: could not be made)."""
    kept = summary["conservation"]
    return {
        "drained": bool(summary["drained"] and summary["settled"]),
        "published": summary["publish_failed"] == 0,
        "conservation": bool(kept["ok"]),
        "stored_once": kept["duplicates"] == 0,
        "transitions": summary["truth"]["ok"],
        "notifications": bool(summary["notifications"]["notifications_match"]),
        "memory_bounded": memory_bounded(summary["memory"]["workers"]),
    }
