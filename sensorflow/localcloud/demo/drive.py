"""How the demo drives the local cloud: publish a simulated fleet and wait for the pipeline to drain, for
the heartbeat's next run, and for the deliveries to settle; then gather the summary.

The waits are the demo's timing; what it checks is ``verify``, how it prints is ``report``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sensorflow.localcloud.cloud import STATE_DIR, LocalCloud, project_root
from sensorflow.localcloud.demo.lifecycle import (
    LifecyclePlan,
    acknowledge_latched,
    add_silence,
    lifecycle_plan,
)
from sensorflow.localcloud.demo.report import function_profile
from sensorflow.localcloud.demo.verify import (
    Tally,
    TransitionObserver,
    crossing_readings,
    delivered_event_ids,
    expected_outcomes,
    function_named,
    lifecycle_counts,
    notifications,
    queue_depth,
    read_back,
    read_incidents,
    truth_check,
    verdicts,
)
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.emulator.fault_proxy import Fault
from sensorflow.localcloud.faults.plan import FaultPlan

Say = Callable[[str], None]

DEFAULT_DEVICES = 50
DEFAULT_DURATION_S = 900.0  # device time: 15 minutes of fleet readings, published as fast as Kinesis allows
DRAIN_TIMEOUT_S = 300.0
# The ingest adapters' botocore Config asks for retries={"mode": "standard", "max_attempts": 3}, which
# botocore's Config treats as 3 retries after the first attempt: four consecutive SlowDown answers make
# the readings write fail, so the function reports the batch and the event source mapping retries it.
INJECTED_S3_FAULTS = 4
# Forced simulator scenarios (SimConfig min_excursions / trailing_dropouts), scaled to the fleet: each
# needs a device of its own, and the rest of the fleet keeps its random scenarios.
MAX_FORCED_EXCURSIONS = 3
MAX_FORCED_DROPOUTS = 2
# After the drain: the heartbeat (rate(1 minute)) must run once more, then its and the consumers'
# deliveries settle. Two periods cover a run that was already under way at the drain.
HEARTBEAT_WAIT_S = 150.0
SETTLE_TIMEOUT_S = 60.0
HEARTBEAT_FUNCTION_SUFFIX = "-heartbeat"
# A held excursion raises within its first few minutes of device time (a warning plateau of the rule's
# debounce, from the second tick of a device reporting every minute at most): a reminder shows only if
# repeat_every plus this fits in the run's device time.
HELD_RAISE_WITHIN_S = 240


# Every wire format the ingest function reads, mixed in one stream (one per device), and both firmware
# generations over the Glue and Confluent devices (sensorflow.simulate.wire).
DEFAULT_FORMATS = ("raw", "glue", "glue-zlib", "confluent", "kpl")
DEFAULT_SCHEMA_VERSIONS = (1, 2)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    devices: int = DEFAULT_DEVICES
    duration_s: float = DEFAULT_DURATION_S
    seed: int = 7
    port: int = 0  # 0: any free port
    profile: bool = False
    formats: tuple[str, ...] = DEFAULT_FORMATS
    schema_versions: tuple[int, ...] = DEFAULT_SCHEMA_VERSIONS
    faults: FaultPlan | None = None  # --faults: applied by the proxy from the moment publishing starts


@dataclass(slots=True)
class DemoResult:
    summary: dict[str, Any]
    checks: dict[str, bool | None]
    profile: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v is not False for v in self.checks.values())


def plan_lifecycle(options: DemoOptions) -> LifecyclePlan:
    """What the demo forces so the alarm lifecycle shows (see ``lifecycle``): needs room in the fleet for
    the excursion the silence takes besides the latched one, a device left for the held one, and device
    time for a reminder interval to pass after the held one raised."""
    from sensorflow.config import load_rule_book
    from sensorflow.simulate import load_fleet

    excursions, dropouts = _forced_counts(options.devices)
    plan = lifecycle_plan(load_fleet()[: options.devices], load_rule_book())
    if excursions < 2:
        plan = LifecyclePlan(None, plan.reminder_type, plan.repeat_every_s)
    room = options.devices - excursions - dropouts >= 1
    if not room or options.duration_s < (plan.repeat_every_s or 0) + HELD_RAISE_WITHIN_S:
        plan = LifecyclePlan(plan.latch_type)
    return plan


def _forced_counts(devices: int) -> tuple[int, int]:
    dropouts = min(MAX_FORCED_DROPOUTS, devices // 5 or (1 if devices > 1 else 0))
    return max(1, min(MAX_FORCED_EXCURSIONS, (devices - dropouts) // 3)), dropouts


def sim_config(options: DemoOptions, glue_version_ids: Any = None) -> Any:
    """The fleet to publish: the default scenario mix without producer duplicates ("nothing stored twice"
    must then hold exactly), plus forced excursions (one on the latch rule's sensor, one held to the end
    on a repeat_every rule's sensor: ``plan_lifecycle``) and trailing dropouts, its devices sending the
    demo's wire formats (with the Glue version ids the local registry assigned; None: placeholders)."""
    from sensorflow.simulate import SimConfig
    from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE

    mix = {k: v for k, v in DEFAULT_SCENARIO_MIX.items() if k != DUPLICATE}
    excursions, dropouts = _forced_counts(options.devices)
    plan = plan_lifecycle(options)
    return SimConfig(
        devices=options.devices,
        duration_s=options.duration_s,
        seed=options.seed,
        scenario_mix=mix,
        min_excursions=excursions,
        trailing_dropouts=dropouts,
        excursion_types=(plan.latch_type,) if plan.latch_type else (),
        held_excursion_types=(plan.reminder_type,) if plan.reminder_type else (),
        formats=options.formats,
        schema_versions=options.schema_versions,
        glue_version_ids=glue_version_ids,
    )


def generate_records(
    options: DemoOptions, now_ms: int | None = None, glue_version_ids: Any = None
) -> list[Any]:
    """Generate the fleet, its device time ending at ``now_ms`` (default: now). Staleness is measured
    against the wall clock, so the demo generates right before publishing. ``SimulationError`` when the
    options do not fit."""
    from sensorflow.simulate import generate

    return list(generate(sim_config(options, glue_version_ids), now_ms=now_ms))


def registry_ids(cloud: LocalCloud, options: DemoOptions) -> Any:
    """The Glue schema version ids ``sensorflow schemas publish`` registered when the local cloud came up,
    when the demo sends Glue-framed records (None otherwise)."""
    from sensorflow.simulate import wire

    if not any(f in (wire.GLUE, wire.GLUE_ZLIB) for f in options.formats):
        return None
    assert cloud.endpoint is not None and cloud.info is not None
    return wire.registry_glue_ids(cloud.endpoint.client("glue"), cloud.info.outputs["SchemaRegistryName"])


def run_demo(options: DemoOptions, say: Say) -> DemoResult | None:
    """Up, arm the fault, observe, publish, wait, read back, down. ``None`` when the stack did not deploy
    (``say`` has said why); ``PortInUseError`` and ``SimulationError`` propagate after the teardown."""
    cloud = LocalCloud(port=options.port, state_dir=project_root() / STATE_DIR / "demo")
    started = time.monotonic()
    profile: dict[str, Any] = {}
    try:
        try:
            info = cloud.up(progress=say)
        except DeployError as exc:
            say(f"sensorflow demo: {exc}")
            return None
        assert cloud.proxy is not None and cloud.runtime is not None and cloud.endpoint is not None
        glue_ids = registry_ids(cloud, options)
        cloud.proxy.arm(
            Fault("s3", "PutObject", INJECTED_S3_FAULTS, 503, "SlowDown", path_contains="/readings/")
        )
        say(f"fault armed: the next {INJECTED_S3_FAULTS} PutObject calls on readings/ answer 503 SlowDown")
        tally = Tally()
        observer = TransitionObserver(cloud, tally)
        observer.start()
        records = generate_records(options, glue_version_ids=glue_ids)
        plan = plan_lifecycle(options)
        silence = add_silence(cloud, records, {plan.latch_type} if plan.latch_type else set(), say)
        if options.faults is not None:
            cloud.proxy.apply_plan(options.faults)  # its windows count from the first published record
            say(
                f"fault plan {options.faults.source or 'inline'} applied: {len(options.faults.rules)} rule(s)"
            )
        summary = publish_and_drain(cloud, records, tally, say)
        heartbeat_ms = await_heartbeat(cloud, summary["drained_at"], say)
        summary["settled"] = settle(cloud, say)
        latched = acknowledge_latched(cloud, lambda: delivered_event_ids(cloud), say)
        summary["settled"] = settle(cloud, say) and summary["settled"]
        observer.stop()
        summary.update(read_back(cloud, records))
        summary["alarms"] = tally.alarms()
        summary["alerts"] = tally.alerts()
        summary["transition_messages"] = tally.messages
        summary.update(notifications(cloud, tally))
        summary["incidents"] = read_incidents(cloud)
        summary["critical_queue"] = queue_depth(cloud, "CriticalTransitionsQueueUrl")
        summary["truth"] = truth_check(
            records,
            tally,
            heartbeat_ms,
            summary["stale_during_replay"],
            [latched["alarm_id"]] if latched["acknowledged"] else [],
        )
        summary["lifecycle"] = lifecycle_counts(cloud, tally, plan, silence, latched)
        proxy_status = cloud.proxy.status()
        summary["faults_injected"] = sum(proxy_status["injected"].values())
        summary["fault_plan"] = proxy_status["plan"]
        summary["expected"] = expected_outcomes(records)
        summary["crossing_readings"] = crossing_readings(records)
        summary["wall_s"] = round(time.monotonic() - started, 1)
        summary["deploy_s"] = info.timings_s.get("deploy", 0.0)
        if options.profile and cloud.moto is not None:
            profile = {**cloud.moto.stats(), "functions": function_profile(cloud)}
    finally:
        say("tearing down the local cloud ...")
        cloud.down()
    return DemoResult(summary, verdicts(summary), profile)


def publish_and_drain(cloud: LocalCloud, records: list[Any], tally: Tally, say: Say) -> dict[str, Any]:
    from sensorflow.simulate import KinesisProducer, wire

    assert cloud.runtime is not None and cloud.endpoint is not None and cloud.info is not None
    runtime = cloud.runtime

    def progress(sent: int, *_: int) -> None:
        tally.published = sent

    stream = cloud.info.outputs["SensorStreamName"]
    producer = KinesisProducer(cloud.endpoint.client("kinesis"), stream, progress=progress)

    producer_thread_error: list[BaseException] = []
    kinesis_records = list(wire.kinesis_records(records))  # a KPL device's tick is one aggregated record

    def publish() -> None:
        try:
            report = producer.send(kinesis_records)
            tally.published = report.sent
        except BaseException as exc:  # reported after the join
            producer_thread_error.append(exc)

    t0 = time.monotonic()
    deadline = t0 + DRAIN_TIMEOUT_S
    thread = threading.Thread(target=publish, name="demo-producer")
    thread.start()
    while thread.is_alive() or not runtime.idle():
        progress_line(cloud, tally, len(kinesis_records), say)
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    thread.join()
    if producer_thread_error:
        raise producer_thread_error[0]
    drained = runtime.wait_idle(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - t0
    drained_at = time.time()
    mapping_stats = runtime.status()["mappings"].values()
    p50, p95 = runtime.stats.latency_percentiles(50, 95)
    return {
        "drained": drained,
        "drained_at": drained_at,
        "stale_during_replay": heartbeat_runs(cloud, t0_wall=drained_at - elapsed),
        "batches_retried": sum(m["retries"] + m["bisections"] for m in mapping_stats),
        "records_discarded": sum(m["records_discarded"] for m in mapping_stats),
        "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1)},
        "records_per_second": round(len(records) / elapsed, 1) if elapsed else 0.0,
        "processing_s": round(elapsed, 1),
    }


def progress_line(cloud: LocalCloud, tally: Tally, total: int, say: Say) -> None:
    assert cloud.runtime is not None
    runtime = cloud.runtime
    stats = runtime.stats.snapshot()
    processed = len(runtime.stats.latencies_ms)
    failures = sum(v.get("failures", 0) for v in stats.get("function", {}).values())
    errors = Counter(i.error_type for i in runtime.stats.history() if i.error_type)
    why = f" ({', '.join(f'{k} x{n}' for k, n in errors.most_common(2))})" if errors else ""
    webhook = len(cloud.webhook.messages()) if cloud.webhook else 0
    say(
        f"  published {tally.published:>6}/{total}   processed {processed:>6}   "
        f"failed invocations {failures:>3}{why}   transitions {len(tally.transitions):>4}   "
        f"webhook messages {webhook:>4}"
    )


def heartbeat_runs(cloud: LocalCloud, t0_wall: float, t1_wall: float | None = None) -> int:
    """Heartbeat invocations that started in [t0_wall, t1_wall)."""
    assert cloud.runtime is not None
    name = function_named(cloud, HEARTBEAT_FUNCTION_SUFFIX)
    runs = 0
    for invocation in cloud.runtime.stats.history(name) if name else []:
        started = invocation.at - invocation.duration_ms / 1000
        if started >= t0_wall and (t1_wall is None or started < t1_wall):
            runs += 1
    return runs


def await_heartbeat(cloud: LocalCloud, after: float, say: Say) -> int | None:
    """Wait for a heartbeat run that started after ``after`` (epoch s); its start time in epoch ms.

    Staleness is measured from device timestamps against the wall clock, so only a run after the last
    record was processed sees which devices went silent (an earlier one sees a half-replayed fleet)."""
    assert cloud.runtime is not None
    name = function_named(cloud, HEARTBEAT_FUNCTION_SUFFIX)
    if name is None:
        return None
    say("waiting for the heartbeat's next scheduled run (rate(1 minute)) to look for silent devices ...")
    deadline = time.monotonic() + HEARTBEAT_WAIT_S
    while time.monotonic() < deadline:
        for invocation in cloud.runtime.stats.history(name):
            started = invocation.at - invocation.duration_ms / 1000
            if started >= after:
                return int(started * 1000)
        time.sleep(0.5)
    say("the heartbeat did not run in time; Device Stale is not checked")
    return None


def settle(cloud: LocalCloud, say: Say) -> bool:
    """Wait until the stream is idle and notify/incidents have taken every message routed to them."""
    assert cloud.runtime is not None
    runtime = cloud.runtime
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if runtime.wait_idle(max(0.0, deadline - time.monotonic())) and (
            runtime.fanout is None or runtime.fanout.settled()
        ):
            # Settled twice in a row, a moment apart: nothing was mid-flight between the two looks.
            time.sleep(0.5)
            if runtime.idle() and (runtime.fanout is None or runtime.fanout.settled()):
                return True
        time.sleep(0.2)
    say("deliveries did not settle in time")
    return False
