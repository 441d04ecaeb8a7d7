"""The reliability harness: the real ingest handler under moto with a fault plan, fed by a simulated fleet
through an emulation of the Kinesis event source mapping's contract, and read back against the truth.

- :func:`pipeline` builds the stack serverless.yml defines (stage ``test`` names) inside ``mock_aws``,
  seeds the device registry, sets the function's environment and installs the in-process fault
  injector, so the handler, bootstrap and adapters run unchanged: their cached clients are created
  after the injector is in place.
- :func:`deliver` is the ESM contract for one shard: batches in order, one in flight; a partial batch
  response checkpoints at the **lowest** reported sequence number and redelivers from there (records
  after it included); a function error, or an empty or unknown ``itemIdentifier``, redelivers the whole
  batch (services-kinesis-batchfailurereporting.html).
- :func:`conservation` checks every published record against the simulator's ground truth: enriched or
  quarantined exactly once, by sequence number and by (device id, seq).

Used by ``tests/integration/test_reliability.py`` (sized for ``make test``) and ``scripts/reliability.py``
(the figures in RELIABILITY.md).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from sensorflow.core.records import StreamRecord
from sensorflow.localcloud.faults.botocore_injector import BotocoreFaultInjector
from sensorflow.localcloud.faults.plan import FaultPlan
from sensorflow.localcloud.faults.virtual_clock import DeadlineContext, VirtualClock, virtual_botocore_backoff
from tests.factories import kinesis_event, seq_number

REGION = "us-east-1"
STAGE = "test"
PREFIX = f"sensorflow-{STAGE}"
READINGS_BUCKET = f"{PREFIX}-readings-123456789012-{REGION}"
QUARANTINE_BUCKET = f"{PREFIX}-quarantine-123456789012-{REGION}"
DEFAULT_TIMEOUT_MS = 60_000  # serverless.yml's ingest timeout
DEADLINE_MARGIN_MS = 1_000
SHARD_IDS = ("shardId-000000000000", "shardId-000000000001")


@dataclass
class Pipeline:
    clock: VirtualClock
    injector: BotocoreFaultInjector | None
    alerts_queue_url: str
    bus_queue_url: str
    _sns_messages: list[dict[str, Any]] = field(default_factory=list)
    _bus_events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, records: Sequence[StreamRecord], timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Invocation:
        """One invocation of the real handler with a context whose deadline is ``timeout_ms`` away."""
        from handlers.ingest import handler

        context = DeadlineContext(self.clock, timeout_ms)
        try:
            response: dict[str, Any] | None = handler(kinesis_event(list(records)), context)
            error = None
        except Exception as exc:  # a function error: the ESM redelivers the whole batch
            response, error = None, repr(exc)
        return Invocation(
            shard_id=records[0].shard_id,
            sequence_numbers=[r.sequence_number for r in records],
            response=response,
            error=error,
            margin_ms=context.margin_ms(),
        )

    def sns_messages(self) -> list[dict[str, Any]]:
        """Every message the alerts topic delivered so far (a raw-delivery queue subscribed to all)."""
        self._sns_messages += _drain(self.alerts_queue_url)
        return list(self._sns_messages)

    def bus_events(self) -> list[dict[str, Any]]:
        """Every event the bus's critical rule delivered so far."""
        self._bus_events += _drain(self.bus_queue_url)
        return list(self._bus_events)

    def counts(self) -> dict[str, dict[str, int]]:
        return self.injector.counts() if self.injector is not None else {}


@dataclass
class Invocation:
    shard_id: str
    sequence_numbers: list[str]
    response: dict[str, Any] | None
    error: str | None
    margin_ms: int  # time left when the handler returned (negative: past the deadline)

    @property
    def reported(self) -> list[str]:
        return [f.get("itemIdentifier") for f in (self.response or {}).get("batchItemFailures") or []]


@dataclass
class ShardRun:
    invocations: list[Invocation] = field(default_factory=list)
    lowest_failed: dict[str, str] = field(default_factory=dict)  # shard -> lowest sequence number reported
    max_stall: int = 0  # most consecutive invocations of one shard whose checkpoint did not move

    def extend(self, other: ShardRun) -> None:
        self.invocations += other.invocations
        for shard, seq in other.lowest_failed.items():
            mine = self.lowest_failed.get(shard)
            self.lowest_failed[shard] = seq if mine is None else min(mine, seq, key=int)
        self.max_stall = max(self.max_stall, other.max_stall)


def _drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    out: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return out
        for m in messages:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


# -- the stack ----------------------------------------------------------------------------------------


ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "DEVICE_TABLE_NAME": f"{PREFIX}-devices",
    "READINGS_BUCKET_NAME": READINGS_BUCKET,
    "QUARANTINE_BUCKET_NAME": QUARANTINE_BUCKET,
    "ALARMS_TABLE_NAME": f"{PREFIX}-alarms",
    "ALERTS_EVENT_BUS_NAME": f"{PREFIX}-alerts",
    "DEADLINE_MARGIN_MS": str(DEADLINE_MARGIN_MS),
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "sensorflow",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (*values, "AWS_ENDPOINT_URL", "AWS_PROFILE")}
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _create_stack(registry: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """Tables, buckets, topic, bus and two observing queues; (topic ARN, alerts queue, bus queue)."""
    from tests.integration.conftest import _queue, create_alarms_table

    c = {name: boto3.client(name, region_name=REGION) for name in ("s3", "sns", "sqs", "events", "dynamodb")}
    c["dynamodb"].create_table(
        TableName=f"{PREFIX}-devices",
        AttributeDefinitions=[{"AttributeName": "device_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "device_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    create_alarms_table(c["dynamodb"])
    for bucket in (READINGS_BUCKET, QUARANTINE_BUCKET):
        c["s3"].create_bucket(Bucket=bucket)
    topic_arn = c["sns"].create_topic(Name=f"{PREFIX}-alerts")["TopicArn"]
    alerts_url, alerts_arn = _queue(c["sqs"], "all-alerts")
    c["sns"].subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=alerts_arn, Attributes={"RawMessageDelivery": "true"}
    )
    bus = f"{PREFIX}-alerts"
    c["events"].create_event_bus(Name=bus)
    bus_url, bus_arn = _queue(c["sqs"], "bus-critical")
    c["events"].put_rule(
        Name="critical-alerts",
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": ["sensorflow.alarms"], "detail": {"alarm": {"severity": ["critical"]}}}
        ),
    )
    c["events"].put_targets(Rule="critical-alerts", EventBusName=bus, Targets=[{"Id": "q", "Arn": bus_arn}])
    table = boto3.resource("dynamodb", region_name=REGION).Table(f"{PREFIX}-devices")
    with table.batch_writer() as batch:
        for item in registry:
            batch.put_item(Item=item)
    return topic_arn, alerts_url, bus_url


@contextlib.contextmanager
def pipeline(
    plan: FaultPlan | None,
    registry: Sequence[dict[str, Any]],
    *,
    clock: VirtualClock | None = None,
    store_clock_ms: int | None = None,
    deadline_margin_ms: int = DEADLINE_MARGIN_MS,
) -> Iterator[Pipeline]:
    """The stack under ``mock_aws`` with ``plan`` injected into every call the function makes (the set-up
    calls go first, without faults). ``store_clock_ms``: the alarm store's wall clock (staleness
    buckets), fixed to the simulated end of device time as the scenario tests do. ``deadline_margin_ms``:
    the function's DEADLINE_MARGIN_MS (what it keeps for the alarm writes and the two S3 writes after it
    stops taking records)."""
    from moto import mock_aws

    from sensorflow import bootstrap
    from sensorflow.adapters import clients as client_factory
    from sensorflow.adapters import dynamodb_alarms

    clock = clock or VirtualClock()
    with _environment({**ENVIRONMENT, "DEADLINE_MARGIN_MS": str(deadline_margin_ms)}), mock_aws():
        topic_arn, alerts_url, bus_url = _create_stack(registry)
        os.environ["ALERTS_TOPIC_ARN"] = topic_arn
        original_clock = dynamodb_alarms.wall_clock_ms
        if store_clock_ms is not None:
            dynamodb_alarms.wall_clock_ms = lambda: store_clock_ms  # type: ignore[assignment]
        client_factory.reset()
        bootstrap.ingest_service.cache_clear()
        injector = BotocoreFaultInjector(plan, sleep=clock.sleep, clock=clock.now) if plan else None
        try:
            with virtual_botocore_backoff(clock):
                if injector is not None:
                    injector.install()
                yield Pipeline(clock, injector, alerts_url, bus_url)
        finally:
            if injector is not None:
                injector.uninstall()
            dynamodb_alarms.wall_clock_ms = original_clock  # type: ignore[assignment]
            bootstrap.ingest_service.cache_clear()
            client_factory.reset()
            os.environ.pop("ALERTS_TOPIC_ARN", None)


# -- the stream and the ESM contract ------------------------------------------------------------------


def shard_streams(records: Sequence[Any], arrival_ms: int, shards: int = 1) -> dict[str, list[StreamRecord]]:
    """The simulator's records as Kinesis would hold them: each partition key on one shard (a stable hash
    of it), sequence numbers increasing in publishing order."""
    import zlib

    out: dict[str, list[StreamRecord]] = {SHARD_IDS[i]: [] for i in range(shards)}
    for i, r in enumerate(records):
        shard = SHARD_IDS[zlib.crc32(r.partition_key.encode()) % shards]
        out[shard].append(StreamRecord(shard, seq_number(i), r.partition_key, r.data, arrival_ms))
    return out


def deliver(
    pipe: Pipeline,
    stream: Sequence[StreamRecord],
    batch_size: int,
    *,
    start: int = 0,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    max_invocations: int = 2_000,
) -> ShardRun:
    """Deliver one shard from ``start`` to its end as the event source mapping does."""
    run = ShardRun()
    position, stalled = start, 0
    while position < len(stream):
        if len(run.invocations) >= max_invocations:
            raise AssertionError(f"shard stuck at record {position} after {max_invocations} invocations")
        batch = stream[position : position + batch_size]
        invocation = pipe.invoke(batch, timeout_ms)
        run.invocations.append(invocation)
        advance = _checkpoint(invocation, batch)
        if invocation.reported and advance < len(batch):
            shard = batch[0].shard_id
            lowest = batch[advance].sequence_number
            known = run.lowest_failed.get(shard)
            run.lowest_failed[shard] = lowest if known is None else min(known, lowest, key=int)
        stalled = stalled + 1 if advance == 0 else 0
        run.max_stall = max(run.max_stall, stalled)
        position += advance
    return run


def _checkpoint(invocation: Invocation, batch: Sequence[StreamRecord]) -> int:
    """How many records of ``batch`` the invocation committed: all without failures, none after a
    function error or an invalid identifier, else those before the lowest reported one."""
    if invocation.error is not None:
        return 0
    reported = invocation.reported
    if not reported:
        return len(batch)
    index = {r.sequence_number: i for i, r in enumerate(batch)}
    if any(not seq or seq not in index for seq in reported):
        return 0
    return min(index[seq] for seq in reported)


def deliver_all(
    pipe: Pipeline,
    streams: dict[str, list[StreamRecord]],
    batch_size: int,
    *,
    starts: dict[str, int] | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    order: Callable[[list[str]], list[str]] | None = None,
) -> ShardRun:
    """Every shard to its end, one after the other (in ``order`` of shard ids, default sorted)."""
    run = ShardRun()
    for shard in (order or sorted)(list(streams)):
        start = (starts or {}).get(shard, 0)
        run.extend(deliver(pipe, streams[shard], batch_size, start=start, timeout_ms=timeout_ms))
    return run


# -- reading back -------------------------------------------------------------------------------------


@dataclass
class Stored:
    readings: Counter[str]  # sequence number -> rows with it
    by_reading: Counter[tuple[str, int]]  # (device_id, seq) -> rows
    quarantined: Counter[str]  # sequence number -> quarantine lines with it
    reasons: dict[str, str]  # sequence number -> reason


def read_stored() -> Stored:
    import fastavro

    s3 = boto3.client("s3", region_name=REGION)
    readings: Counter[str] = Counter()
    by_reading: Counter[tuple[str, int]] = Counter()
    for key in _keys(s3, READINGS_BUCKET, "readings/"):
        body = s3.get_object(Bucket=READINGS_BUCKET, Key=key)["Body"].read()
        for row in fastavro.reader(io.BytesIO(body)):
            assert isinstance(row, dict)
            readings[row["sequence_number"]] += 1
            by_reading[(row["device_id"], row["seq"])] += 1
    quarantined: Counter[str] = Counter()
    reasons: dict[str, str] = {}
    for key in _keys(s3, QUARANTINE_BUCKET, "quarantine/"):
        if key.startswith("quarantine/transitions/"):
            continue
        body = s3.get_object(Bucket=QUARANTINE_BUCKET, Key=key)["Body"].read()
        for line in body.decode().splitlines():
            if line.strip():
                entry = json.loads(line)
                quarantined[entry["sequence_number"]] += 1
                reasons[entry["sequence_number"]] = entry["reason"]
    return Stored(readings, by_reading, quarantined, reasons)


def _keys(s3: Any, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            yield obj["Key"]


@dataclass
class Conservation:
    published: int
    enriched: int
    quarantined: int
    duplicates: int  # producer duplicates published (each enriched as its own record)
    stored_twice: list[str]  # sequence numbers with more than one output
    missing: list[str]  # sequence numbers with none
    wrong_outcome: list[str]  # enriched where the truth says quarantined, or the reverse, or the wrong reason
    by_reading_mismatch: dict[str, tuple[int, int]]  # "device#seq" -> (expected rows, stored rows)

    @property
    def ok(self) -> bool:
        return not (self.stored_twice or self.missing or self.wrong_outcome or self.by_reading_mismatch)


def conservation(records: Sequence[Any], stored: Stored) -> Conservation:
    """Every published record (the simulator's, ``seq_number(i)`` for the i-th) against its ground truth."""
    from sensorflow.simulate.scenarios import OUTCOME, OUTCOME_QUARANTINED

    twice, missing, wrong = [], [], []
    expected_rows: Counter[tuple[str, int]] = Counter()
    for i, r in enumerate(records):
        seq = seq_number(i)
        outputs = stored.readings[seq] + stored.quarantined[seq]
        if outputs > 1:
            twice.append(seq)
        elif outputs == 0:
            missing.append(seq)
        quarantine = OUTCOME[r.truth["kind"]] == OUTCOME_QUARANTINED
        reason = r.truth.get("expected_reason")
        if quarantine and (stored.readings[seq] or (reason and stored.reasons.get(seq, reason) != reason)):
            wrong.append(seq)
        if not quarantine:
            if stored.quarantined[seq]:
                wrong.append(seq)
            expected_rows[(r.truth["device_id"], r.truth["seq"])] += 1
    mismatch = {
        f"{d}#{s}": (expected_rows[(d, s)], stored.by_reading[(d, s)])
        for d, s in set(expected_rows) | set(stored.by_reading)
        if expected_rows[(d, s)] != stored.by_reading[(d, s)]
    }
    return Conservation(
        published=len(records),
        enriched=sum(stored.readings.values()),
        quarantined=sum(stored.quarantined.values()),
        duplicates=sum(1 for r in records if r.truth["kind"] == "duplicate"),
        stored_twice=twice,
        missing=missing,
        wrong_outcome=wrong,
        by_reading_mismatch=mismatch,
    )


def transitions_by_alarm(messages: Sequence[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """The transitions per alarm, in the order of the readings that caused them (as the truth lists them)."""
    out: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for m in messages:
        seq = (m.get("reading") or {}).get("seq", -1)
        out[m["alarm"]["alarm_id"]].append((m["transition"], m["alarm"]["severity"], seq))
    return {k: [(t, s) for t, s, _ in sorted(v, key=lambda x: x[2])] for k, v in out.items()}


def duplicated_event_ids(
    messages: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], str]
) -> list[str]:
    counts = Counter(key(m) for m in messages)
    return sorted(k for k, n in counts.items() if n > 1)
