"""``sensorflow demo``: the whole pipeline on a local cloud, from simulated sensors to stored readings.

Brings the local cloud up (moto + the real serverless.yml + the local Lambda runtime), publishes a
simulated fleet with threshold excursions and malformed records, makes the readings bucket answer
``SlowDown`` to a few writes (a transient downstream fault, injected by the fault proxy in front of moto,
so retries show), waits until the stream is drained, reads everything back from S3 and checks that every
published record is accounted for exactly once: enriched + quarantined == published, nothing stored twice.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sensorflow.cli import UsageError
from sensorflow.localcloud.cloud import STATE_DIR, LocalCloud, project_root
from sensorflow.localcloud.deploy import DeployError
from sensorflow.localcloud.faults import Fault
from sensorflow.localcloud.motoserver import PortInUseError, port_is_free

DEFAULT_DEVICES = 50
DEFAULT_DURATION_S = 900.0  # device time: 15 minutes of fleet readings, published as fast as Kinesis allows
DRAIN_TIMEOUT_S = 300.0
# The ingest adapters' botocore Config asks for retries={"mode": "standard", "max_attempts": 3}, which
# botocore's Config treats as 3 retries after the first attempt: four consecutive SlowDown answers make
# the readings write fail, so the function reports the batch and the event source mapping retries it.
INJECTED_S3_FAULTS = 4


@dataclass(slots=True)
class Tally:
    published: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    notifications: int = 0


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
    if args.port and not port_is_free(args.port):
        raise UsageError(f"port {args.port} on 127.0.0.1 is already in use; pick another with --port N")


def _records(args: argparse.Namespace) -> list[Any]:
    from sensorflow.simulate import SimConfig, SimulationError, generate, load_fleet
    from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE

    fleet = load_fleet()
    if args.devices > len(fleet):
        raise UsageError(f"--devices {args.devices}: the committed fleet has {len(fleet)} devices")
    # Producer duplicates are left out: "nothing stored twice" must then hold exactly.
    mix = {k: v for k, v in DEFAULT_SCENARIO_MIX.items() if k != DUPLICATE}
    try:
        return list(
            generate(
                SimConfig(devices=args.devices, duration_s=args.duration, seed=args.seed, scenario_mix=mix)
            )
        )
    except SimulationError as exc:
        raise UsageError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    _validate(args)
    records = _records(args)
    say = (
        (lambda line: print(line, file=sys.stderr, flush=True))
        if args.json
        else (lambda line: print(line, flush=True))
    )
    cloud = LocalCloud(port=args.port, state_dir=project_root() / STATE_DIR / "demo")
    started = time.monotonic()
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
        observer = AlertObserver(cloud, tally)
        observer.start()
        summary = _publish_and_drain(cloud, records, tally, say)
        observer.stop()
        summary.update(read_back(cloud, len(records)))
        summary["alerts"] = dict(sorted(tally.alerts.items()))
        summary["notifications_delivered"] = tally.notifications + sum(
            d["delivered"] for d in cloud.runtime.status().get("subscriptions", {}).values()
        )
        summary["faults_injected"] = sum(cloud.proxy.status()["injected"].values())
        summary["expected"] = _expected(records)
        summary["wall_s"] = round(time.monotonic() - started, 1)
        summary["deploy_s"] = info.timings_s.get("deploy", 0.0)
        if args.profile and cloud.moto is not None:
            profile = cloud.moto.stats()
    finally:
        say("tearing down the local cloud ...")
        cloud.down()
    ok = summary["drained"] and summary["duplicates"] == 0 and summary["accounted"] == summary["published"]
    print(render(summary, ok))
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
        )
        print(json.dumps({k: summary[k] for k in keys}))
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
        stats = runtime.stats.snapshot()
        processed = len(runtime.stats.latencies_ms)
        failures = sum(v.get("failures", 0) for v in stats.get("function", {}).values())
        errors = Counter(i.error_type for i in runtime.stats.history() if i.error_type)
        why = f" ({', '.join(f'{k} x{n}' for k, n in errors.most_common(2))})" if errors else ""
        say(
            f"  published {tally.published:>6}/{len(records)}   processed {processed:>6}   "
            f"failed invocations {failures:>3}{why}   alerts {sum(tally.alerts.values()):>4}"
        )
        if time.monotonic() > deadline:
            break
        time.sleep(1.0)
    thread.join()
    if producer_thread_error:
        raise producer_thread_error[0]
    drained = runtime.wait_idle(max(0.0, deadline - time.monotonic()))
    elapsed = time.monotonic() - t0
    mapping_stats = runtime.status()["mappings"].values()
    p50, p95 = runtime.stats.latency_percentiles(50, 95)
    return {
        "drained": drained,
        "batches_retried": sum(m["retries"] + m["bisections"] for m in mapping_stats),
        "records_discarded": sum(m["records_discarded"] for m in mapping_stats),
        "invocations": sum(f["invocations"] for f in runtime.status()["functions"].values()),
        "latency_ms": {"p50": round(p50, 1), "p95": round(p95, 1)},
        "records_per_second": round(len(records) / elapsed, 1) if elapsed else 0.0,
        "processing_s": round(elapsed, 1),
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


class AlertObserver:
    """Counts alerts by severity from a queue subscribed to the alerts topic, and the critical-alerts
    queue the stack's EventBridge rule feeds (notifications delivered to a subscriber)."""

    def __init__(self, cloud: LocalCloud, tally: Tally) -> None:
        assert cloud.endpoint is not None and cloud.info is not None
        self.sqs = cloud.endpoint.client("sqs")
        sns = cloud.endpoint.client("sns")
        self.tally = tally
        self.alerts_url = self.sqs.create_queue(QueueName="sensorflow-demo-alert-observer")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.alerts_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=cloud.info.outputs["AlertsTopicArn"], Protocol="sqs", Endpoint=arn)
        critical = cloud.info.outputs.get("CriticalAlertsQueueUrl", "")
        self.critical_url = (
            self.sqs.get_queue_url(QueueName=critical.rsplit("/", 1)[-1])["QueueUrl"] if critical else None
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-alerts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._drain_once()
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._drain_once():
                self._stop.wait(0.5)

    def _drain_once(self) -> bool:
        got = False
        for url, kind in ((self.alerts_url, "alerts"), (self.critical_url, "critical")):
            if url is None:
                continue
            while True:
                messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                got = True
                for message in messages:
                    if kind == "alerts":
                        envelope = json.loads(message["Body"])
                        attributes = envelope.get("MessageAttributes", {})
                        severity = attributes.get("severity", {}).get("Value", "unknown")
                        self.tally.alerts[severity] += 1
                    else:
                        self.tally.notifications += 1
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        return got


def render(summary: dict[str, Any], ok: bool) -> str:
    quarantined = summary["quarantined"]
    rows = [
        ("published", summary["published"]),
        ("enriched (stored readings)", summary["enriched"]),
        ("quarantined", sum(quarantined.values())),
        *((f"  {reason}", count) for reason, count in quarantined.items()),
        ("stored twice", summary["duplicates"]),
        ("alerts published", sum(summary["alerts"].values())),
        *((f"  {severity}", count) for severity, count in summary["alerts"].items()),
        ("notifications delivered", summary["notifications_delivered"]),
        ("transient faults injected", summary["faults_injected"]),
        ("batches retried", summary["batches_retried"]),
        ("records sent to on-failure", summary["records_discarded"]),
        ("invocations", summary["invocations"]),
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
    verdict = "every published record accounted for exactly once" if ok else "MISMATCH"
    lines.append(
        f"{'OK' if ok else 'FAILED'}: enriched {summary['enriched']} "
        f"+ quarantined {sum(quarantined.values())} "
        f"= {summary['accounted']} of {summary['published']} published, {summary['duplicates']} stored twice "
        f"({verdict})"
    )
    return "\n".join(lines)


def render_profile(profile: dict[str, Any], top: int = 25) -> str:
    """moto's time per AWS operation, busiest first: where the local cloud's one moto core goes."""
    operations = profile["operations"]
    total = sum(o["service_s"] for o in operations.values()) or 1.0
    lines = [
        "",
        f"moto profile: {sum(o['count'] for o in operations.values())} requests, {total:.1f} s in moto "
        f"over {profile['uptime_s']:.0f} s up",
        f"{'operation':<40} {'requests':>8} {'moto s':>8} {'share':>6} {'mean ms':>8} {'queued s':>9}",
    ]
    ranked = sorted(operations.items(), key=lambda kv: kv[1]["service_s"], reverse=True)
    for name, o in ranked[:top]:
        lines.append(
            f"{name:<40} {o['count']:>8} {o['service_s']:>8.2f} {o['service_s'] / total:>6.1%} "
            f"{1000 * o['service_s'] / max(1, o['count']):>8.2f} {o['wait_s']:>9.2f}"
        )
    return "\n".join(lines)
