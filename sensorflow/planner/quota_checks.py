"""Warnings where a plan meets a default quota (a support request lifts it) or a setting of the stack that
must change, each saying what to do."""

from __future__ import annotations

import math

from sensorflow.planner import service_limits as lim
from sensorflow.planner.cost import NOTIFY_ASSUMED_DURATION_S
from sensorflow.planner.measured import Measured
from sensorflow.planner.sizing import Shards
from sensorflow.planner.tuning import TARGET_UTILISATION, Tuning
from sensorflow.planner.workload import Traffic

WRITE_UTILISATION_WARN = 0.9  # above it, a burst or an uneven spread of partition keys is throttled
WRITE_UTILISATION_GOAL = 0.8
# serverless.yml: notify and incidents reserve 5 each, heartbeat 1.
OTHER_RESERVED_CONCURRENCY = 5 + 5 + 1
NOTIFY_RESERVED_CONCURRENCY = 5


def warnings(
    t: Traffic,
    s: Shards,
    tu: Tuning,
    m: Measured,
    *,
    consumers: int,
    alerts_per_s: float,
    device_batches_per_s: float,
) -> list[str]:
    out = _stream_warnings(t, s, consumers)
    out += _lambda_warnings(s, tu, alerts_per_s)
    out += _dynamodb_warnings(m, device_batches_per_s)
    return out


def _stream_warnings(t: Traffic, s: Shards, consumers: int) -> list[str]:
    out = []
    if s.shards > lim.ACCOUNT_SHARD_QUOTA:
        out.append(
            f"{s.shards:,} shards is over the default quota of {lim.ACCOUNT_SHARD_QUOTA:,} shards per "
            "account (us-east-1): request an increase in Service Quotas, or split the fleet over accounts"
        )
    if s.write_utilisation > WRITE_UTILISATION_WARN:
        more = math.ceil(s.shards * s.write_utilisation / WRITE_UTILISATION_GOAL)
        out.append(
            f"the stream runs at {s.write_utilisation:.0%} of its write limit: bursts and unevenly hashed "
            f"device ids get ProvisionedThroughputExceeded; consider {more:,} shards"
        )
    if s.efo and consumers > lim.EFO_MAX_CONSUMERS:
        out.append(
            f"{consumers} consumers: a stream takes at most {lim.EFO_MAX_CONSUMERS} enhanced fan-out "
            "consumers; feed the rest from a second stream"
        )
    if t.bytes_per_s > lim.ON_DEMAND_MAX_WRITE_BYTES_PER_S:
        out.append("on-demand mode cannot take this stream: over its 10 GiB/s write maximum (us-east-1)")
    elif t.bytes_per_s > lim.ON_DEMAND_INITIAL_WRITE_BYTES_PER_S:
        out.append(
            f"on-demand mode: a new stream starts at 4 MiB/s write and this fleet writes "
            f"{float(t.bytes_per_s) / lim.MIB:,.1f} MiB/s: ramp the fleet up or pre-warm the stream"
        )
    return out


def _lambda_warnings(s: Shards, tu: Tuning, alerts_per_s: float) -> list[str]:
    out = []
    if not tu.meets_target:
        more = math.ceil(s.shards * tu.utilisation / TARGET_UTILISATION)
        out.append(
            f"even parallelizationFactor {lim.PARALLELIZATION_FACTOR_MAX} leaves each batch slot "
            f"{tu.utilisation:.0%} busy: use about {more:,} shards so ingest keeps up with headroom"
        )
    needed = tu.max_concurrency + OTHER_RESERVED_CONCURRENCY + lim.UNRESERVED_CONCURRENCY_MIN
    if needed > lim.ACCOUNT_CONCURRENCY_QUOTA:
        out.append(
            f"Lambda concurrency: ingest needs {tu.max_concurrency:,} (shards x parallelizationFactor), "
            f"{needed:,} with the other functions and the 100 unreserved, over the default quota of "
            f"{lim.ACCOUNT_CONCURRENCY_QUOTA:,} per Region: request an increase to at least {needed:,}"
        )
    notify_rate = NOTIFY_RESERVED_CONCURRENCY / NOTIFY_ASSUMED_DURATION_S
    if alerts_per_s > notify_rate:
        out.append(
            f"{alerts_per_s:,.1f} alarm transitions/s: notify (reserved concurrency "
            f"{NOTIFY_RESERVED_CONCURRENCY}) posts about {notify_rate:g}/s; raise notifyReservedConcurrency "
            "or rely on silences and SNS filters, and mind the webhook's rate limit"
        )
    return out


def _dynamodb_warnings(m: Measured, device_batches_per_s: float) -> list[str]:
    out = []
    figures = (
        ("write", m.write_units_per_device_batch, "the alarms table"),
        ("write", m.gsi_write_units_per_device_batch, "its staleness index"),
        ("read", m.read_units_per_device_batch, "the alarms table"),
    )
    for kind, per_device_batch, where in figures:
        units = device_batches_per_s * per_device_batch
        if units > lim.TABLE_ON_DEMAND_UNITS_PER_S:
            out.append(
                f"DynamoDB: {units:,.0f} {kind} request units/s on {where}, over the default "
                f"{lim.TABLE_ON_DEMAND_UNITS_PER_S:,} per table (on-demand): request an increase"
            )
    return out
