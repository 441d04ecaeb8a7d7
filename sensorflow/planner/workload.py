"""What the fleet sends: the planner's inputs, checked, and the stream traffic they make.

How readings map to Kinesis records: the simulator and every producer framing but KPL put **one reading per
Kinesis record** (partition key = device id); ingest decodes one reading per record, and de-aggregates KPL
records (``sensorflow.core.kpl``) into their sub-records. ``aggregation`` is readings per Kinesis record:
1 (the default) for raw, Glue and Confluent framing; with KPL aggregation (``--format kpl`` aggregates one
device tick, i.e. ``sensors_per_device`` readings) more. A shard's 1,000 records/s is then a limit on
aggregates, not readings, and on-demand's 1 KB rounding is paid once per aggregate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from sensorflow.planner import service_limits as lim
from sensorflow.planner.errors import PlanInputError

DEFAULT_SENSORS_PER_DEVICE = 1
# The simulator's raw Avro readings are 42 bytes on average and 116 at most (a 300 s dry run of 50 devices,
# 2026-12-01); 48 leaves a little room for firmware adding fields.
DEFAULT_PAYLOAD_BYTES = 48
DEFAULT_CONSUMERS = 1
DEFAULT_AGGREGATION = 1
MAX_INTERVAL_S = 86_400  # a device reporting less than daily is not a stream's workload
# Kinesis counts the partition key with the data. The simulator's "dev-00001" is 9 bytes; a million-device
# fleet's ids are a few longer.
PARTITION_KEY_BYTES = 12
# KPL framing (core.kpl): 4 magic bytes + 16 of MD5 per record, the partition key table entry (key + 2), and
# about 6 bytes of protobuf per sub-record (measured with core.kpl.aggregate on 48-byte readings: 87 bytes
# for 1, 573 for 10).
KPL_RECORD_OVERHEAD_BYTES = 20 + 2
KPL_SUBRECORD_OVERHEAD_BYTES = 6


@dataclass(frozen=True, slots=True)
class PlanInputs:
    devices: int
    interval_s: Fraction
    sensors_per_device: int = DEFAULT_SENSORS_PER_DEVICE
    payload_bytes: int = DEFAULT_PAYLOAD_BYTES
    alert_rate: float | None = None  # alarm transitions per reading; None: as the benchmark measured
    consumers: int = DEFAULT_CONSUMERS
    aggregation: int = DEFAULT_AGGREGATION
    batch_window_s: int | None = None  # None: the planner chooses

    def __post_init__(self) -> None:
        _at_least("--devices", self.devices, 1)
        if not 0 < self.interval_s <= MAX_INTERVAL_S:
            raise PlanInputError(
                f"--interval must be a number of seconds > 0 and <= {MAX_INTERVAL_S:,}; "
                f"got {_show(self.interval_s)}"
            )
        _at_least("--sensors-per-device", self.sensors_per_device, 1)
        _at_least("--payload-bytes", self.payload_bytes, 1)
        _at_least("--consumers", self.consumers, 1)
        _at_least("--aggregation", self.aggregation, 1)
        if self.batch_window_s is not None and not 1 <= self.batch_window_s <= lim.BATCHING_WINDOW_MAX_S:
            raise PlanInputError(
                f"--batch-window must be a whole number of seconds from 1 to {lim.BATCHING_WINDOW_MAX_S}; "
                f"got {self.batch_window_s}"
            )
        if self.alert_rate is not None and not 0.0 <= self.alert_rate <= 1.0:
            raise PlanInputError(
                f"--alert-rate must be between 0 and 1 (transitions per reading); got {self.alert_rate:g}"
            )
        if record_bytes(self) > lim.RECORD_MAX_BYTES:
            raise PlanInputError(
                f"a Kinesis record of {record_bytes(self):,} bytes is over the {lim.RECORD_MAX_BYTES:,}-byte "
                "record limit: lower --payload-bytes or --aggregation"
            )


def _show(x: Fraction) -> str:
    return f"{float(x):g}" if abs(x) < 10**300 else "more than 1e300"


def _at_least(flag: str, value: int, minimum: int) -> None:
    if value < minimum:
        raise PlanInputError(f"{flag} must be a whole number >= {minimum}; got {value}")


@dataclass(frozen=True, slots=True)
class Traffic:
    readings_per_s: Fraction
    records_per_s: Fraction
    record_bytes: int  # data + partition key, as a shard's write limit counts it
    bytes_per_s: Fraction


def record_bytes(inputs: PlanInputs) -> int:
    if inputs.aggregation == 1:
        return inputs.payload_bytes + PARTITION_KEY_BYTES
    sub = inputs.payload_bytes + KPL_SUBRECORD_OVERHEAD_BYTES
    return KPL_RECORD_OVERHEAD_BYTES + 2 * PARTITION_KEY_BYTES + inputs.aggregation * sub


def traffic(inputs: PlanInputs) -> Traffic:
    readings = Fraction(inputs.devices * inputs.sensors_per_device) / inputs.interval_s
    records = readings / inputs.aggregation
    size = record_bytes(inputs)
    return Traffic(readings, records, size, records * size)


def ceil(x: Fraction | float) -> int:
    """Exact ceiling: 1,000 records/s on a 1,000 records/s shard is one shard, not two."""
    return math.ceil(x)
