"""``make soak``: bring the local cloud up, publish at the steady rate while sampling, drain, read back,
check, tear down.

What it reuses from the demo: the transition tap and the tally (``demo.verify.TransitionObserver``), the
read-back of S3 (``read_stored``), the ground-truth and notification checks, the progress line and the
settle wait (``demo.drive``). Its own: what it publishes and how (``publisher``), the sampler
(``sampler``), conservation by device and seq (``conservation``), the figures and checks (``figures``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sensorflow.localcloud.cloud import STATE_DIR, LocalCloud, project_root
from sensorflow.localcloud.demo.drive import DemoOptions, progress_line, registry_ids, settle
from sensorflow.localcloud.demo.verify import (
    Tally,
    TransitionObserver,
    notifications,
    read_stored,
    truth_check,
)
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.soak.conservation import conservation
from sensorflow.localcloud.soak.figures import checks, figures
from sensorflow.localcloud.soak.options import SoakOptions, SoakResult
from sensorflow.localcloud.soak.publisher import (
    FORCED_EXCURSIONS,
    START_LEAD_S,
    PacedPublisher,
    fleet_config,
    forced_excursions,
)
from sensorflow.localcloud.soak.sampler import Sample, Sampler

Say = Callable[[str], None]

DRAIN_TIMEOUT_S = 300.0
PROGRESS_EVERY_S = 30.0


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
