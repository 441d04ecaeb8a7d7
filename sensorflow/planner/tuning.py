"""The ingest mapping's settings: ``batchSize``, ``batchWindow`` (MaximumBatchingWindowInSeconds) and
``parallelizationFactor``, from the benchmark's measured time per batch, so each shard keeps up with headroom.

The time model. The benchmark measured ``batch_wall_s`` for ``batch_records`` readings on a full core of the
bench machine, AWS calls slept at typical latencies. On Lambda the function gets ``memory / 1,769`` of a vCPU,
so the CPU part (``cpu_us_per_reading`` per reading) is stretched by that share; the rest is waiting on AWS.
The two batch objects (S3 PutObject, 25 ms each in the model) are the per-batch fixed part; the rest scales
with readings. A batch of ``b`` readings takes ``fixed + b * per_reading`` seconds.

Steady state: each of a shard's ``parallelizationFactor`` slots gets one batch per window, holding
``window * rate / factor`` readings (fewer if the batch fills first: ``batchSize``, the 6 MB payload or
``MAX_BATCH_DURATION_S``; it then spans less than the window), and is busy ``duration(batch) / span`` of the
time. The factor is the smallest that keeps that at or below ``TARGET_UTILISATION``, so a backlog drains at
least as fast as it built up.

The window is 1 s unless a shard is so quiet that batches would hold fewer than
``TARGET_MIN_BATCH_READINGS``: every batch writes two S3 objects and is one request, so tiny batches cost
more than they save in latency. ``--batch-window`` imposes one: a batch spanning more than the devices'
interval holds several readings of a device, and the alarm state is written once per device per batch.
``batchSize`` is twice the steady batch (room to catch up after a stall with larger batches), at least 100,
and at most what fits the 6 MB invoke payload and ``MAX_BATCH_DURATION_S``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from sensorflow.planner import service_limits as lim
from sensorflow.planner.measured import BENCH_S3_PUT_LATENCY_S, Measured
from sensorflow.planner.workload import Traffic

TARGET_UTILISATION = 0.5
TARGET_MIN_BATCH_READINGS = 100
WINDOW_CAP_S = 10  # alert latency a quiet fleet trades for fewer batches
MAX_BATCH_DURATION_S = (
    15.0  # a quarter of ingest's 60 s timeout (serverless.yml), 5 s of it the deadline margin
)
BATCH_SIZE_MIN = 100
STALL_S = 600  # the iterator-age headroom is shown as how long a 10-minute stall takes to drain
MAX_RECORD_AGE_S = 3_600  # ingest's maximumRecordAgeInSeconds in serverless.yml
# serverless.yml params.default.ingestReservedConcurrency (prod: 8).
DEPLOYED_RESERVED_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class BatchModel:
    """Seconds per batch on Lambda: ``fixed_s + readings * per_reading_s``."""

    fixed_s: float
    per_reading_s: float
    cpu_share: float  # of a vCPU, from the memory

    def duration(self, readings: float) -> float:
        return self.fixed_s + readings * self.per_reading_s

    def capacity(self, readings: float) -> float:
        """Readings per second one busy slot processes in batches of ``readings``."""
        return readings / self.duration(readings)


@dataclass(frozen=True, slots=True)
class Tuning:
    batch_size: int  # records (Kinesis records, i.e. aggregates with KPL)
    batch_window_s: int
    parallelization_factor: int
    steady_batch_readings: float
    batch_span_s: (
        float  # seconds of a shard's traffic a steady batch holds: the window, unless it fills first
    )
    batch_duration_s: float  # of a steady batch, on Lambda
    utilisation: float  # of each slot in steady state
    meets_target: bool  # False: even a factor of 10 runs hotter than TARGET_UTILISATION
    max_concurrency: int  # shards x factor: what the mapping can run at once
    mean_concurrency: float  # invocations/s x duration (Little's law)
    invocations_per_s: float
    iterator_age_s: float  # steady: the window plus a batch's duration
    stall_drain_s: float | None  # a STALL_S stall drains in this long (None: never, at this factor)
    model: BatchModel


def batch_model(m: Measured) -> BatchModel:
    share = min(1.0, m.memory_mb / lim.FULL_VCPU_MEMORY_MB)
    cpu = m.cpu_us_per_reading * 1e-6 * m.batch_records
    on_lambda = m.batch_wall_s - cpu + cpu / share
    fixed = m.s3_puts_per_batch * BENCH_S3_PUT_LATENCY_S
    return BatchModel(fixed, max(on_lambda - fixed, 0.0) / m.batch_records, share)


def payload_ceiling(record_bytes: int) -> int:
    """Records per batch that fit the 6 MB invoke payload (base64 data plus the event's per-record fields)."""
    per_record = math.ceil(record_bytes * 4 / 3) + lim.EVENT_BYTES_PER_RECORD
    return max(1, lim.INVOKE_PAYLOAD_MAX_BYTES // per_record)


def tune(t: Traffic, shards: int, aggregation: int, m: Measured, window_s: int | None = None) -> Tuning:
    """The settings for ``shards`` shards; ``window_s`` imposes a batching window instead of choosing one."""
    model = batch_model(m)
    rate = float(t.readings_per_s) / shards  # readings per shard per second
    window = window_s or min(WINDOW_CAP_S, max(1, math.ceil(TARGET_MIN_BATCH_READINGS / rate)))
    ceiling = min(
        lim.BATCH_SIZE_MAX,
        payload_ceiling(t.record_bytes),
        max(1, int((MAX_BATCH_DURATION_S - model.fixed_s) / max(model.per_reading_s, 1e-9) / aggregation)),
    )
    factor, steady, span, utilisation = 1, 0.0, float(window), 1.0
    for factor in range(1, lim.PARALLELIZATION_FACTOR_MAX + 1):
        # a slot's batch holds the window's records, unless it fills up first (size, payload, duration)
        steady = min(rate * window / factor, ceiling * aggregation)
        span = steady * factor / rate
        utilisation = model.duration(steady) / span
        if utilisation <= TARGET_UTILISATION:
            break
    batch_size = min(ceiling, max(BATCH_SIZE_MIN, 100 * math.ceil(2 * steady / aggregation / 100)))
    invocations = min(shards * factor / span, float(t.records_per_s))
    duration = model.duration(steady)
    spare = factor * model.capacity(batch_size * aggregation) - rate
    return Tuning(
        batch_size=batch_size,
        batch_window_s=window,
        parallelization_factor=factor,
        steady_batch_readings=steady,
        batch_span_s=span,
        batch_duration_s=duration,
        utilisation=utilisation,
        meets_target=utilisation <= TARGET_UTILISATION,
        max_concurrency=shards * factor,
        mean_concurrency=invocations * duration,
        invocations_per_s=invocations,
        iterator_age_s=span + duration,
        stall_drain_s=rate * STALL_S / spare if spare > 0 else None,
        model=model,
    )


def readings_per_device_batch(sensors_per_device: int, interval_s: Fraction, span_s: float) -> float:
    """Readings of one device in one batch: its tick's readings (one record each, or one KPL aggregate, land
    in the same batch), times the ticks a batch spans when it spans more than the interval."""
    return sensors_per_device * max(1.0, span_s / float(interval_s))
