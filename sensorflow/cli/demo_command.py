"""``sensorflow demo``: the whole pipeline on a local cloud, from simulated sensors to stored readings,
alarm transitions, webhook messages and incidents.

Brings the local cloud up (moto + the real serverless.yml + the local Lambda runtime + a loopback webhook
receiver whose URL is in the stage's SSM SecureString), publishes a simulated fleet with alarm
excursions (raise, escalate, clear), devices that go silent for good, and malformed records, makes the
readings bucket answer ``SlowDown`` to a few writes (a transient downstream fault, injected by the fault
proxy in front of moto, so retries show), and waits until the stream is drained, the heartbeat has run
after the last record was processed (so ``Device Stale`` can fire) and notify/incidents deliveries have
settled. Then it reads everything back and checks:

- every published record is accounted for exactly once: enriched + quarantined == published, nothing
  stored twice (the exit code);
- the alarm transitions (counted from a queue subscribed raw to the alerts topic) are the ones the
  simulator's ground truth predicts (the exit code too: the pipeline is deterministic and replay-safe);
- the webhook received exactly one message per transition notify's filter policy accepts (ditto).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sensorflow.cli.errors import UsageError
from sensorflow.cli.local_command import check_port
from sensorflow.localcloud.cloud import STATE_DIR, LocalCloud, project_root
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.emulator.fault_proxy import Fault
from sensorflow.localcloud.emulator.moto_server import PortInUseError

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
NOTIFY_FUNCTION_SUFFIX = "-notify"
TRANSITION_KEYS = {
    "Alarm Raised": "raised",
    "Alarm Escalated": "escalated",
    "Alarm Cleared": "cleared",
    "Device Stale": "stale",
}
_EVENT_ID_IN_MESSAGE = re.compile(r"\bevent ([0-9a-f]{32})\b")


@dataclass(slots=True)
class Tally:
    published: int = 0
    # event id -> (transition, severity, alarm id), each transition once however often it was published
    transitions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    messages: int = 0  # SNS messages on the raw tap, republished ones included
    notify_accepted: set[str] = field(default_factory=set)  # event ids notify's filter policy lets through

    def alarms(self) -> dict[str, int]:
        counts = dict.fromkeys(TRANSITION_KEYS.values(), 0)
        for transition, _, _ in self.transitions.values():
            key = TRANSITION_KEYS.get(transition)
            if key:
                counts[key] += 1
        return counts

    def alerts(self) -> dict[str, int]:
        """Raised + Escalated transitions by severity."""
        counts: Counter[str] = Counter(
            severity
            for transition, severity, _ in self.transitions.values()
            if transition in ("Alarm Raised", "Alarm Escalated")
        )
        return dict(sorted(counts.items()))


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the whole pipeline on a local cloud with a simulated fleet and print a summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--devices", type=int, default=DEFAULT_DEVICES, help=f"devices (default {DEFAULT_DEVICES})"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_DURATION_S,
        metavar="SECONDS",
        help=f"seconds of device time to simulate (default {DEFAULT_DURATION_S:g})",
    )
    parser.add_argument("--seed", type=int, default=7, help="simulator seed (default 7)")
    parser.add_argument("--port", type=int, default=0, help="moto server port (default: any free port)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object, last line")
    parser.add_argument(
        "--profile", action="store_true", help="also print moto's request count and time per AWS operation"
    )
    parser.set_defaults(func=run)
    return parser


def _validate(args: argparse.Namespace) -> None:
    if args.devices < 1:
        raise UsageError(f"--devices {args.devices}: need at least 1 device")
    if args.duration <= 0:
        raise UsageError(f"--duration {args.duration:g}: must be a positive number of seconds")
    if args.port:  # 0: any free port
        check_port(args.port)


def _sim_config(args: argparse.Namespace, devices: int) -> Any:
    """The fleet to publish: the default scenario mix without producer duplicates ("nothing stored twice"
    must then hold exactly), plus forced excursions and trailing dropouts when the simulator has them."""
    import dataclasses

    from sensorflow.simulate import SimConfig
    from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE

    mix = {k: v for k, v in DEFAULT_SCENARIO_MIX.items() if k != DUPLICATE}
    options: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(SimConfig)}
    if "min_excursions" in names and "trailing_dropouts" in names:
        dropouts = min(MAX_FORCED_DROPOUTS, devices // 5 or (1 if devices > 1 else 0))
        options = {
            "min_excursions": max(1, min(MAX_FORCED_EXCURSIONS, (devices - dropouts) // 3)),
            "trailing_dropouts": dropouts,
        }
    return SimConfig(devices=devices, duration_s=args.duration, seed=args.seed, scenario_mix=mix, **options)


def _records(args: argparse.Namespace, now_ms: int | None = None) -> list[Any]:
    """Generate the fleet, its device time ending at ``now_ms`` (default: now). Staleness is measured
    against the wall clock, so the demo generates right before publishing."""
    from sensorflow.simulate import SimulationError, generate, load_fleet

    fleet = load_fleet()
    if args.devices > len(fleet):
        raise UsageError(f"--devices {args.devices}: the committed fleet has {len(fleet)} devices")
    try:
        return list(generate(_sim_config(args, args.devices), now_ms=now_ms))
    except SimulationError as exc:
        raise UsageError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    _validate(args)
    _records(args)  # bad options fail here, before a minute of deploying
    say = (
        (lambda line: print(line, file=sys.stderr, flush=True))
        if args.json
        else (lambda line: print(line, flush=True))
    )
    cloud = LocalCloud(port=args.port, state_dir=project_root() / STATE_DIR / "demo")
    started = time.monotonic()
    profile: dict[str, Any] = {}
    try:
        try:
            info = cloud.up(progress=say)
        except PortInUseError as exc:
            raise UsageError(f"{exc}; pick another with --port N") from exc
        except DeployError as exc:
            say(f"sensorflow demo: {exc}")
            return 1
        assert cloud.proxy is not None and cloud.runtime is not None and cloud.endpoint is not None
        cloud.proxy.arm(
            Fault("s3", "PutObject", INJECTED_S3_FAULTS, 503, "SlowDown", path_contains="/readings/")
        )
        say(f"fault armed: the next {INJECTED_S3_FAULTS} PutObject calls on readings/ answer 503 SlowDown")
        tally = Tally()
        observer = TransitionObserver(cloud, tally)
        observer.start()
        records = _records(args)
        summary = _publish_and_drain(cloud, records, tally, say)
        heartbeat_ms = _await_heartbeat(cloud, summary["drained_at"], say)
        summary["settled"] = _settle(cloud, say)
        observer.stop()
        summary.update(read_back(cloud, len(records)))
        summary["alarms"] = tally.alarms()
        summary["alerts"] = tally.alerts()
        summary["transition_messages"] = tally.messages
        summary.update(_notifications(cloud, tally))
        summary["incidents"] = read_incidents(cloud)
        summary["critical_queue"] = _queue_depth(cloud, "CriticalTransitionsQueueUrl")
        summary["truth"] = _truth_check(records, tally, heartbeat_ms, summary["stale_during_replay"])
        summary["faults_injected"] = sum(cloud.proxy.status()["injected"].values())
        summary["expected"] = _expected(records)
        summary["crossing_readings"] = _crossing_readings(records)
        summary["wall_s"] = round(time.monotonic() - started, 1)
        summary["deploy_s"] = info.timings_s.get("deploy", 0.0)
        if args.profile and cloud.moto is not None:
            profile = {**cloud.moto.stats(), "functions": function_profile(cloud)}
    finally:
        say("tearing down the local cloud ...")
        cloud.down()
    accounted = (
        summary["drained"] and summary["duplicates"] == 0 and summary["accounted"] == summary["published"]
    )
    checks = {
        "accounted": accounted,
        "notifications": summary["notifications_match"],
        "truth": summary["truth"]["ok"],
    }
    ok = all(v is not False for v in checks.values())
    print(render(summary, checks))
    if args.profile:
        print(render_profile(profile))
    if args.json:
        keys = (
            "published",
            "enriched",
            "quarantined",
            "duplicates",
            "alerts",
            "notifications_delivered",
            "batches_retried",
            "latency_ms",
            "records_per_second",
            "alarms",
            "incidents",
        )
        print(json.dumps({**{k: summary[k] for k in keys}, "checks": checks}))
    return 0 if ok else 1


def _publish_and_drain(cloud: LocalCloud, records: list[Any], tally: Tally, say: Any) -> dict[str, Any]:
    from sensorflow.simulate import KinesisProducer

    assert cloud.runtime is not None and cloud.endpoint is not None and cloud.info is not None
    runtime = cloud.runtime

    def progress(sent: int, *_: int) -> None:
        tally.published = sent

    stream = cloud.info.outputs["SensorStreamName"]
    producer = KinesisProducer(cloud.endpoint.client("kinesis"), stream, progress=progress)

    producer_thread_error: list[BaseException] = []

    def publish() -> None:
        try:
            report = producer.send(records)
            tally.published = report.sent
        except BaseException as exc:  # reported after the join
            producer_thread_error.append(exc)

    t0 = time.monotonic()
    deadline = t0 + DRAIN_TIMEOUT_S
    thread = threading.Thread(target=publish, name="demo-producer")
    thread.start()
    while thread.is_alive() or not runtime.idle():
        _progress_line(cloud, tally, len(records), say)
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
        "stale_during_replay": _heartbeat_runs(cloud, t0_wall=drained_at - elapsed),
        "batches_retried": sum(m["retries"] + m["bisections"] for m in mapping_stats),
        "records_discarded": sum(m["records_discarded"] for m in mapping_stats),
        "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1)},
        "records_per_second": round(len(records) / elapsed, 1) if elapsed else 0.0,
        "processing_s": round(elapsed, 1),
    }


def _progress_line(cloud: LocalCloud, tally: Tally, total: int, say: Any) -> None:
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


def _function(cloud: LocalCloud, suffix: str) -> str | None:
    assert cloud.runtime is not None
    return next((name for name in cloud.runtime.functions if name.endswith(suffix)), None)


def _heartbeat_runs(cloud: LocalCloud, t0_wall: float, t1_wall: float | None = None) -> int:
    """Heartbeat invocations that started in [t0_wall, t1_wall)."""
    assert cloud.runtime is not None
    name = _function(cloud, HEARTBEAT_FUNCTION_SUFFIX)
    runs = 0
    for invocation in cloud.runtime.stats.history(name) if name else []:
        started = invocation.at - invocation.duration_ms / 1000
        if started >= t0_wall and (t1_wall is None or started < t1_wall):
            runs += 1
    return runs


def _await_heartbeat(cloud: LocalCloud, after: float, say: Any) -> int | None:
    """Wait for a heartbeat run that started after ``after`` (epoch s); its start time in epoch ms.

    Staleness is measured from device timestamps against the wall clock, so only a run after the last
    record was processed sees which devices went silent (an earlier one sees a half-replayed fleet)."""
    assert cloud.runtime is not None
    name = _function(cloud, HEARTBEAT_FUNCTION_SUFFIX)
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


def _settle(cloud: LocalCloud, say: Any) -> bool:
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


def _notifications(cloud: LocalCloud, tally: Tally) -> dict[str, Any]:
    """Webhook messages, and whether there is exactly one per transition notify's filter accepts."""
    assert cloud.webhook is not None
    messages = cloud.webhook.messages()
    delivered: Counter[str] = Counter()
    for message in messages:
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "context" else []:
                match = _EVENT_ID_IN_MESSAGE.search(str(element.get("text", "")))
                if match:
                    delivered[match.group(1)] += 1
    twice = sorted(e for e, n in delivered.items() if n > 1)
    missing = sorted(tally.notify_accepted - set(delivered))
    unexpected = sorted(set(delivered) - tally.notify_accepted)
    return {
        "notifications_delivered": len(messages),
        "notifications_expected": len(tally.notify_accepted),
        "notifications_match": len(messages) == len(tally.notify_accepted)
        and not (twice or missing or unexpected),
        "notifications_problems": {"twice": twice, "missing": missing, "unexpected": unexpected},
    }


def read_incidents(cloud: LocalCloud) -> dict[str, int]:
    """Incidents the incidents function opened, and how many are resolved (a Scan: fine for a demo)."""
    assert cloud.endpoint is not None and cloud.info is not None
    table = cloud.info.outputs.get("IncidentsTableName")
    counts = {"opened": 0, "resolved": 0}
    if not table:
        return counts
    dynamodb = cloud.endpoint.client("dynamodb")
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            if item.get("kind", {}).get("S") != "incident":
                continue
            counts["opened"] += 1
            if item.get("status", {}).get("S") == "RESOLVED":
                counts["resolved"] += 1
    return counts


def _queue_depth(cloud: LocalCloud, output: str) -> int | None:
    assert cloud.endpoint is not None and cloud.info is not None
    url = cloud.info.outputs.get(output)
    if not url:
        return None
    sqs = cloud.endpoint.client("sqs")
    url = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[-1])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _truth_check(
    records: list[Any], tally: Tally, heartbeat_ms: int | None, heartbeats_during_replay: int
) -> dict[str, Any]:
    """Compare the transitions seen with ``sensorflow.simulate.truth`` (when the simulator has it).

    Reading-caused transitions are deterministic (device time, replay-safe high-water marks): they must
    match exactly. ``Device Stale`` depends on when the heartbeat looked: it is checked against the
    first run after the drain, unless a run during the replay saw a half-replayed fleet (then stale
    raises and their clears are timing, not pipeline behaviour, and are reported unchecked)."""
    try:
        from sensorflow.simulate import truth
    except ImportError:
        return {
            "ok": None,
            "why": "the simulator has no ground-truth transitions (sensorflow.simulate.truth)",
        }
    stale_checked = heartbeat_ms is not None and heartbeats_during_replay == 0
    expected = truth.expected_transitions(records, now_ms=heartbeat_ms if stale_checked else None)
    seen: dict[str, list[tuple[str, str]]] = {}
    for transition, severity, alarm_id in sorted(tally.transitions.values(), key=lambda t: t[2]):
        if transition not in TRANSITION_KEYS:
            continue
        is_stale = transition == "Device Stale" or alarm_id.endswith(f"#{truth.STALE_RULE_ID}")
        if is_stale and not stale_checked:
            continue
        seen.setdefault(alarm_id, []).append((transition, severity))
    expected_counts = truth.summary(expected)
    seen_counts = truth.summary(seen)
    mismatches = []
    for alarm_id in sorted(set(expected) | set(seen)):
        want, got = sorted(expected.get(alarm_id, [])), sorted(seen.get(alarm_id, []))
        if want != got:
            mismatches.append({"alarm_id": alarm_id, "expected": want, "seen": got})
    return {
        "ok": not mismatches,
        "expected": expected_counts,
        "seen": seen_counts,
        "stale_checked": stale_checked,
        "mismatches": mismatches,
    }


def read_back(cloud: LocalCloud, published: int) -> dict[str, Any]:
    """Read every stored reading and quarantine line from S3 and count each record once."""
    import fastavro

    assert cloud.endpoint is not None and cloud.info is not None
    s3 = cloud.endpoint.client("s3")
    readings: Counter[tuple[str, int]] = Counter()
    for key in _keys(s3, cloud.info.outputs["ReadingsBucketName"], "readings/"):
        body = s3.get_object(Bucket=cloud.info.outputs["ReadingsBucketName"], Key=key)["Body"].read()
        for row in fastavro.reader(io.BytesIO(body)):
            assert isinstance(row, dict)
            readings[(row["device_id"], row["seq"])] += 1
    quarantined: Counter[tuple[str, str]] = Counter()
    reasons: Counter[str] = Counter()
    for key in _keys(s3, cloud.info.outputs["QuarantineBucketName"], "quarantine/"):
        body = s3.get_object(Bucket=cloud.info.outputs["QuarantineBucketName"], Key=key)["Body"].read()
        for line in body.decode().splitlines():
            if line.strip():
                entry = json.loads(line)
                quarantined[(entry["shard_id"], entry["sequence_number"])] += 1
                if quarantined[(entry["shard_id"], entry["sequence_number"])] == 1:
                    reasons[entry["reason"]] += 1
    duplicates = sum(n - 1 for n in readings.values()) + sum(n - 1 for n in quarantined.values())
    return {
        "published": published,
        "enriched": len(readings),
        "quarantined": dict(sorted(reasons.items())),
        "duplicates": duplicates,
        "accounted": len(readings) + len(quarantined),
    }


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def _expected(records: list[Any]) -> dict[str, int]:
    return dict(Counter(r.truth["outcome"] for r in records))


def _crossing_readings(records: list[Any]) -> int:
    """Stored readings past a warning or critical bound: what one-alert-per-reading would have sent."""
    return sum(
        1
        for r in records
        if r.truth.get("outcome") == "stored" and r.truth.get("expected_level") in ("warning", "critical")
    )


class TransitionObserver:
    """Two queues on the alerts topic, as any subscriber would have them:

    - a tap with no filter: every transition once per publish (severity from its message attributes,
      event id, transition and alarm from the body); republished events are counted once by event id;
    - a tap with notify's own filter policy (read back from notify's subscription): the transitions SNS
      routes to notify, so "one webhook message per event notify receives" can be checked exactly.
    """

    def __init__(self, cloud: LocalCloud, tally: Tally) -> None:
        assert cloud.endpoint is not None and cloud.info is not None and cloud.runtime is not None
        self.sqs = cloud.endpoint.client("sqs")
        sns = cloud.endpoint.client("sns")
        topic = cloud.info.outputs["AlertsTopicArn"]
        self.tally = tally
        notify = _function(cloud, NOTIFY_FUNCTION_SUFFIX)
        policy = next(
            (
                d.filter_policy
                for d in (cloud.runtime.fanout.deliveries if cloud.runtime.fanout else [])
                if d.kind == "sns" and d.function == notify and d.source_arn == topic
            ),
            None,
        )
        self.queues: list[tuple[str, str]] = []
        for name, kind, attributes in (
            ("sensorflow-demo-transitions", "all", {}),
            ("sensorflow-demo-notify-filter", "notify", {"FilterPolicy": policy} if policy else {}),
        ):
            url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            self.queues.append((url, kind))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-transitions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._drain_once()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._drain_once():
                self._stop.wait(0.5)

    def _drain_once(self) -> bool:
        got = False
        for url, kind in self.queues:
            while True:
                messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                got = True
                for message in messages:
                    envelope = json.loads(message["Body"])
                    event = json.loads(envelope["Message"])
                    if kind == "notify":
                        self.tally.notify_accepted.add(event["event_id"])
                        continue
                    self.tally.messages += 1
                    attributes = envelope.get("MessageAttributes", {})
                    severity = attributes.get("severity", {}).get("Value", "unknown")
                    alarm_id = event.get("alarm", {}).get("alarm_id", "")
                    self.tally.transitions[event["event_id"]] = (event["transition"], severity, alarm_id)
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        return got


def render(summary: dict[str, Any], checks: dict[str, bool | None]) -> str:
    quarantined = summary["quarantined"]
    alarms = summary["alarms"]
    incidents = summary["incidents"]
    rows = [
        ("published", summary["published"]),
        ("enriched (stored readings)", summary["enriched"]),
        ("quarantined", sum(quarantined.values())),
        *((f"  {reason}", count) for reason, count in quarantined.items()),
        ("stored twice", summary["duplicates"]),
        ("alarm transitions", sum(alarms.values())),
        *((f"  {name}", count) for name, count in alarms.items()),
        ("alerts (raised + escalated)", sum(summary["alerts"].values())),
        *((f"  {severity}", count) for severity, count in summary["alerts"].items()),
        ("notifications delivered", summary["notifications_delivered"]),
        ("  expected (notify's filter)", summary["notifications_expected"]),
        ("incidents opened", incidents["opened"]),
        ("incidents resolved", incidents["resolved"]),
        (
            "critical transitions queued",
            "-" if summary["critical_queue"] is None else summary["critical_queue"],
        ),
        ("transient faults injected", summary["faults_injected"]),
        ("batches retried", summary["batches_retried"]),
        ("records sent to on-failure", summary["records_discarded"]),
        (
            "latency p50 / p95 (ms)",
            f"{summary['latency_ms']['p50']:.0f} / {summary['latency_ms']['p95']:.0f}",
        ),
        ("records per second", summary["records_per_second"]),
        ("processing time (s)", summary["processing_s"]),
        ("deploy time (s)", summary["deploy_s"]),
        ("total time (s)", summary["wall_s"]),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["", "sensorflow demo summary", "-" * (width + 12)]
    lines += [f"{label:<{width}}{value!s:>12}" for label, value in rows]
    lines.append("-" * (width + 12))
    expected = summary["expected"]
    lines.append(f"simulator ground truth: {', '.join(f'{k} {v}' for k, v in sorted(expected.items()))}")
    crossing = summary["crossing_readings"]
    lines.append(
        f"alarm lifecycle: {sum(alarms.values())} transitions for {summary['enriched']} readings, "
        f"{crossing} of them past a threshold (one alert per crossing reading would have sent {crossing})"
    )
    truth = summary["truth"]
    if truth["ok"] is None:
        lines.append(f"transitions vs ground truth: not checked ({truth['why']})")
    else:
        stale = "" if truth["stale_checked"] else " (Device Stale not checked: a heartbeat ran mid-replay)"
        lines.append(
            f"transitions vs ground truth: {'match' if truth['ok'] else 'MISMATCH'}{stale}; "
            f"expected {truth['expected']}, seen {truth['seen']}"
        )
        for m in truth["mismatches"][:10]:
            lines.append(f"  {m['alarm_id']}: expected {m['expected']}, seen {m['seen']}")
    problems = summary["notifications_problems"]
    if not summary["notifications_match"]:
        lines.append(
            f"webhook: MISMATCH: {len(problems['missing'])} missing, {len(problems['twice'])} sent twice, "
            f"{len(problems['unexpected'])} not routed to notify"
        )
    verdict = "every published record accounted for exactly once" if checks["accounted"] else "MISMATCH"
    failed = [name for name, value in checks.items() if value is False]
    lines.append(
        f"{'OK' if not failed else 'FAILED (' + ', '.join(failed) + ')'}: enriched {summary['enriched']} "
        f"+ quarantined {sum(quarantined.values())} "
        f"= {summary['accounted']} of {summary['published']} published, {summary['duplicates']} stored twice "
        f"({verdict})"
    )
    return "\n".join(lines)


LONG_POLL = "sqs:ReceiveMessage"  # not serialized: its time is mostly waiting for messages


def function_profile(cloud: LocalCloud) -> dict[str, dict[str, float]]:
    """Invocations per function with their mean and p50/max duration (ms), from the runtime's history."""
    assert cloud.runtime is not None
    out: dict[str, dict[str, float]] = {}
    for name in sorted(cloud.runtime.functions):
        durations = sorted(i.duration_ms for i in cloud.runtime.stats.history(name))
        if durations:
            out[name] = {
                "invocations": len(durations),
                "mean_ms": round(sum(durations) / len(durations), 1),
                "p50_ms": round(durations[len(durations) // 2], 1),
                "max_ms": round(durations[-1], 1),
            }
    return out


def render_profile(profile: dict[str, Any], top: int = 25) -> str:
    """moto's time per AWS operation, busiest first (where the local cloud's one moto core goes), and the
    functions' invocation times."""
    operations = {k: v for k, v in profile["operations"].items() if k != LONG_POLL}
    total = sum(o["service_s"] for o in operations.values()) or 1.0
    polls = profile["operations"].get(LONG_POLL, {"count": 0})
    lines = [
        "",
        f"moto profile: {sum(o['count'] for o in operations.values())} serialized requests, {total:.1f} s "
        f"in moto over {profile['uptime_s']:.0f} s up (plus {polls['count']} SQS long polls, not serialized)",
        f"{'operation':<40} {'requests':>8} {'moto s':>8} {'share':>6} {'mean ms':>8} {'queued s':>9}",
    ]
    ranked = sorted(operations.items(), key=lambda kv: kv[1]["service_s"], reverse=True)
    for name, o in ranked[:top]:
        lines.append(
            f"{name[:40]:<40} {o['count']:>8} {o['service_s']:>8.2f} {o['service_s'] / total:>6.1%} "
            f"{1000 * o['service_s'] / max(1, o['count']):>8.2f} {o['wait_s']:>9.2f}"
        )
    functions = profile.get("functions", {})
    if functions:
        lines += ["", f"{'function':<40} {'invocations':>11} {'mean ms':>9} {'p50 ms':>9} {'max ms':>9}"]
        for name, f in functions.items():
            lines.append(
                f"{name[:40]:<40} {f['invocations']:>11} {f['mean_ms']:>9.0f} {f['p50_ms']:>9.0f} "
                f"{f['max_ms']:>9.0f}"
            )
    return "\n".join(lines)
