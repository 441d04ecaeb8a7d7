"""AWS limits and quotas the planner sizes against, each with its source and the date it was read.

Hard limits (a shard's throughput, ``ParallelizationFactor``'s range) decide the numbers; default quotas
(shards per account, Lambda concurrency, DynamoDB per-table throughput) only raise warnings, since a
support request lifts them. All figures are for us-east-1 unless a name says otherwise; read 2026-12-01.
"""

from __future__ import annotations

MIB = 1_048_576
KIB = 1_024

# --- Kinesis Data Streams: docs.aws.amazon.com/streams/latest/dev/service-sizes-and-limits.html ------
# "Each shard can support up to 1 MB/sec or 1,000 records/sec write throughput or up to 2 MB/sec or 2,000
# records/sec read throughput" (the page's MB are MiB: REFERENCE.md "Kinesis streams").
SHARD_WRITE_BYTES_PER_S = 1 * MIB
SHARD_WRITE_RECORDS_PER_S = 1_000
SHARD_READ_BYTES_PER_S = 2 * MIB  # shared by every consumer that polls (GetRecords) the shard
SHARD_READ_RECORDS_PER_S = 2_000  # shared, as above
SHARD_GET_RECORDS_PER_S = 5  # GetRecords calls per shard per second, shared; Lambda polls about once a second
# Enhanced fan-out: 2 MB/s per shard *per registered consumer*, up to 20 consumers per stream for on-demand
# Standard and provisioned streams. docs.aws.amazon.com/streams/latest/dev/enhanced-consumers.html
EFO_READ_BYTES_PER_S = 2 * MIB
EFO_MAX_CONSUMERS = 20
# Record data blob, before base64: 10 MiB since 2025-10 (the page above; 1 MiB before, as REFERENCE.md says).
# The planner keeps the older 1 MiB: a 1 MiB record fills a shard's write second on its own.
RECORD_MAX_BYTES = 1 * MIB
# Default shard quota per account: 20,000 in us-east-1, us-west-2 and eu-west-1; 1,000 or 6,000 elsewhere.
ACCOUNT_SHARD_QUOTA = 20_000
# On-demand: a new stream starts at 4 MB/s write (8 MB/s read) and scales with observed traffic, up to 10 GB/s
# write in us-east-1 (200 MB/s in most other Regions); 50 on-demand streams per account by default.
ON_DEMAND_INITIAL_WRITE_BYTES_PER_S = 4 * MIB
ON_DEMAND_MAX_WRITE_BYTES_PER_S = 10 * 1_024 * MIB

# --- Lambda ---------------------------------------------------------------------------------------------
# Concurrent executions per Region, default 1,000 (docs.aws.amazon.com/lambda/latest/dg/limits.html); at least
# 100 must stay unreserved (docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
ACCOUNT_CONCURRENCY_QUOTA = 1_000
UNRESERVED_CONCURRENCY_MIN = 100
# ESM for Kinesis: ParallelizationFactor 1..10, BatchSize up to 10,000, MaximumBatchingWindowInSeconds
# up to 300
# (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html; REFERENCE.md).
PARALLELIZATION_FACTOR_MAX = 10
BATCH_SIZE_MAX = 10_000
BATCHING_WINDOW_MAX_S = 300
# Synchronous invoke payload: 6 MB; the Kinesis event adds about 660 bytes per record and base64 grows the
# data by 4/3 (REFERENCE.md "Invoke payload": about 9,000 small records per batch at most).
INVOKE_PAYLOAD_MAX_BYTES = 6 * 1_000_000
EVENT_BYTES_PER_RECORD = 660
# 1,769 MB of memory is one vCPU; below it a function gets that share of one
# (docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html; REFERENCE.md "Prices").
FULL_VCPU_MEMORY_MB = 1_769

# --- DynamoDB: docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html ----------------
# On-demand tables: 40,000 read request units and 40,000 write request units per second per table (and per
# GSI) by default, raised on request.
TABLE_ON_DEMAND_UNITS_PER_S = 40_000

__all__ = [
    "ACCOUNT_CONCURRENCY_QUOTA",
    "ACCOUNT_SHARD_QUOTA",
    "BATCHING_WINDOW_MAX_S",
    "BATCH_SIZE_MAX",
    "EFO_MAX_CONSUMERS",
    "EFO_READ_BYTES_PER_S",
    "EVENT_BYTES_PER_RECORD",
    "FULL_VCPU_MEMORY_MB",
    "INVOKE_PAYLOAD_MAX_BYTES",
    "KIB",
    "MIB",
    "ON_DEMAND_INITIAL_WRITE_BYTES_PER_S",
    "ON_DEMAND_MAX_WRITE_BYTES_PER_S",
    "PARALLELIZATION_FACTOR_MAX",
    "RECORD_MAX_BYTES",
    "SHARD_GET_RECORDS_PER_S",
    "SHARD_READ_BYTES_PER_S",
    "SHARD_READ_RECORDS_PER_S",
    "SHARD_WRITE_BYTES_PER_S",
    "SHARD_WRITE_RECORDS_PER_S",
    "TABLE_ON_DEMAND_UNITS_PER_S",
    "UNRESERVED_CONCURRENCY_MIN",
]
