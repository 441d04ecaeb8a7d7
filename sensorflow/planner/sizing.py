"""Shards: for writes (1 MiB/s and 1,000 records/s each), for reads (2 MiB/s and 2,000 records/s per shard
shared by every polling consumer, or 2 MiB/s per consumer per shard with enhanced fan-out), and what the
on-demand mode would be sized at instead.

Enhanced fan-out is recommended when more than two consumers read the stream: up to two, shared throughput
needs no shard beyond the write side's (each shard gives out twice what it takes in), while a third adds
read shards and contends for the shard's 5 GetRecords calls per second (Lambda polls each shard about once a
second per mapping). With EFO each consumer has its own 2 MiB/s per shard, pushed, at a price per
consumer-shard-hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from sensorflow.planner import service_limits as lim
from sensorflow.planner.workload import Traffic, ceil

EFO_RECOMMENDED_ABOVE_CONSUMERS = 2


@dataclass(frozen=True, slots=True)
class Shards:
    write: int  # for the write limits alone
    read_shared: int  # for the reads if every consumer polls (shared throughput)
    read_efo: int  # for the reads with enhanced fan-out
    efo: bool  # recommended: every consumer registered for enhanced fan-out
    shards: int  # what the stream needs: writes, and reads in the recommended read mode
    write_utilisation: float  # of the chosen shards' write limit (records or bytes, whichever is nearer)


def write_shards(records_per_s: Fraction, bytes_per_s: Fraction) -> int:
    return max(
        1,
        ceil(records_per_s / lim.SHARD_WRITE_RECORDS_PER_S),
        ceil(bytes_per_s / lim.SHARD_WRITE_BYTES_PER_S),
    )


def shared_read_shards(records_per_s: Fraction, bytes_per_s: Fraction, consumers: int) -> int:
    return max(
        1,
        ceil(consumers * records_per_s / lim.SHARD_READ_RECORDS_PER_S),
        ceil(consumers * bytes_per_s / lim.SHARD_READ_BYTES_PER_S),
    )


def efo_read_shards(bytes_per_s: Fraction) -> int:
    return max(1, ceil(bytes_per_s / lim.EFO_READ_BYTES_PER_S))


def size(t: Traffic, consumers: int) -> Shards:
    write = write_shards(t.records_per_s, t.bytes_per_s)
    shared = shared_read_shards(t.records_per_s, t.bytes_per_s, consumers)
    efo_read = efo_read_shards(t.bytes_per_s)
    efo = consumers > EFO_RECOMMENDED_ABOVE_CONSUMERS
    shards = max(write, efo_read if efo else shared)
    utilisation = max(
        t.records_per_s / (shards * lim.SHARD_WRITE_RECORDS_PER_S),
        t.bytes_per_s / (shards * lim.SHARD_WRITE_BYTES_PER_S),
    )
    return Shards(write, shared, efo_read, efo, shards, float(utilisation))
