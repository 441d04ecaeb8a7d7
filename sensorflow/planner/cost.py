"""The monthly cost, line by line, from the traffic, the sizing, the tuning and the measured figures.

Every line is ``quantity x unit price`` with the price a named constant of ``planner.prices``; what is
measured comes from ``planner.measured``, and what is neither measured nor a price is a named assumption
below, said to be one. Kinesis is priced both ways (provisioned and on-demand Standard) so the plan can
compare them; the total uses the cheaper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sensorflow.planner import prices as p
from sensorflow.planner.measured import Measured
from sensorflow.planner.sizing import Shards
from sensorflow.planner.stack_counts import StackCounts
from sensorflow.planner.tuning import Tuning
from sensorflow.planner.workload import Traffic

# Assumptions (not measured): the notify function (256 MB) posting one webhook message per transition, the
# heartbeat (256 MB) once a minute, and the log bytes per invocation (an EMF blob of the batch's metrics, two
# structured lines, Lambda's START/END/REPORT lines).
NOTIFY_MEMORY_GB = 0.25
NOTIFY_ASSUMED_DURATION_S = 0.5
HEARTBEAT_MEMORY_GB = 0.25
HEARTBEAT_ASSUMED_DURATION_S = 1.0
HEARTBEAT_RUNS_PER_MONTH = p.HOURS_PER_MONTH * 60  # rate(1 minute)
NOTIFY_LEDGER_WRITES_PER_ALERT = 2  # the notifications table: claim, then mark delivered (one unit each)
LOG_BYTES_PER_INGEST_BATCH = 2_500
LOG_BYTES_PER_NOTIFICATION = 1_000
LOG_RETENTION_MONTHS = 1  # serverless.yml params.default.logRetentionDays: 30
# The EMF metric series the functions emit: about 22 names, some per reason, transition or severity
# (an estimate; the alarms and dashboards are counted, see planner.stack_counts).
EMF_METRIC_SERIES = 50


@dataclass(frozen=True, slots=True)
class CostLine:
    service: str
    item: str
    quantity: float
    unit: str
    unit_price: float

    @property
    def monthly(self) -> float:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class Costs:
    provisioned_kinesis: list[CostLine]
    on_demand_kinesis: list[CostLine]
    rest: list[CostLine]
    stream_mode: str  # "provisioned" or "on-demand": the cheaper Kinesis

    @property
    def lines(self) -> list[CostLine]:
        kinesis = self.provisioned_kinesis if self.stream_mode == "provisioned" else self.on_demand_kinesis
        return [*kinesis, *self.rest]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)


def provisioned_kinesis(t: Traffic, s: Shards, consumers: int) -> list[CostLine]:
    units_per_record = math.ceil(t.record_bytes / p.KINESIS_PUT_PAYLOAD_UNIT_BYTES)
    lines = [
        CostLine("Kinesis", "shard-hours", s.shards * p.HOURS_PER_MONTH, "shard-hour", p.KINESIS_SHARD_HOUR),
        CostLine(
            "Kinesis",
            "PUT payload units (25 KB)",
            float(t.records_per_s) * units_per_record * p.SECONDS_PER_MONTH,
            "unit",
            p.KINESIS_PUT_PAYLOAD_UNIT,
        ),
    ]
    if s.efo:
        lines += [
            CostLine(
                "Kinesis",
                f"enhanced fan-out, {consumers} consumers",
                consumers * s.shards * p.HOURS_PER_MONTH,
                "consumer-shard-hour",
                p.KINESIS_EFO_CONSUMER_SHARD_HOUR,
            ),
            CostLine(
                "Kinesis",
                "enhanced fan-out data",
                consumers * float(t.bytes_per_s) * p.SECONDS_PER_MONTH / p.GB,
                "GB",
                p.KINESIS_EFO_GB,
            ),
        ]
    return lines


def on_demand_kinesis(t: Traffic, s: Shards, consumers: int) -> list[CostLine]:
    rounding = p.KINESIS_ON_DEMAND_RECORD_ROUNDING_BYTES
    billed_gb = float(t.records_per_s) * math.ceil(t.record_bytes / rounding) * rounding
    billed_gb *= p.SECONDS_PER_MONTH / p.GB
    out_price = p.KINESIS_ON_DEMAND_EFO_GB if s.efo else p.KINESIS_ON_DEMAND_OUT_GB
    return [
        CostLine(
            "Kinesis",
            "on-demand stream-hours",
            p.HOURS_PER_MONTH,
            "stream-hour",
            p.KINESIS_ON_DEMAND_STREAM_HOUR,
        ),
        CostLine(
            "Kinesis", "on-demand data in (1 KB per record)", billed_gb, "GB", p.KINESIS_ON_DEMAND_IN_GB
        ),
        CostLine(
            "Kinesis",
            f"on-demand data out, {consumers} consumer{'s' if consumers > 1 else ''}"
            + (" (EFO)" if s.efo else ""),
            consumers * billed_gb,
            "GB",
            out_price,
        ),
    ]


def lambda_lines(tu: Tuning, m: Measured, alerts_per_s: float) -> list[CostLine]:
    invocations = tu.invocations_per_s * p.SECONDS_PER_MONTH
    alerts = alerts_per_s * p.SECONDS_PER_MONTH
    return [
        CostLine(
            "Lambda",
            f"ingest compute ({m.memory_mb} MB {m.architecture}, {tu.batch_duration_s:.3f} s/batch)",
            invocations * tu.batch_duration_s * m.memory_mb / 1024,
            "GB-s",
            p.LAMBDA_ARM_GB_S,
        ),
        CostLine("Lambda", "ingest requests", invocations, "request", p.LAMBDA_REQUEST),
        CostLine(
            "Lambda",
            f"notify compute (assumed {NOTIFY_ASSUMED_DURATION_S:g} s per alert)",
            alerts * NOTIFY_ASSUMED_DURATION_S * NOTIFY_MEMORY_GB,
            "GB-s",
            p.LAMBDA_ARM_GB_S,
        ),
        CostLine("Lambda", "notify requests", alerts, "request", p.LAMBDA_REQUEST),
        CostLine(
            "Lambda",
            f"heartbeat (1/min, assumed {HEARTBEAT_ASSUMED_DURATION_S:g} s)",
            HEARTBEAT_RUNS_PER_MONTH * HEARTBEAT_ASSUMED_DURATION_S * HEARTBEAT_MEMORY_GB,
            "GB-s",
            p.LAMBDA_ARM_GB_S,
        ),
    ]


def dynamodb_lines(device_batches_per_s: float, m: Measured, alerts_per_s: float) -> list[CostLine]:
    device_batches = device_batches_per_s * p.SECONDS_PER_MONTH
    return [
        CostLine(
            "DynamoDB",
            "alarm state writes (1 per device per batch, + GSI)",
            device_batches * (m.write_units_per_device_batch + m.gsi_write_units_per_device_batch),
            "write unit",
            p.DYNAMODB_WRITE_REQUEST_UNIT,
        ),
        CostLine(
            "DynamoDB",
            "alarm state reads (1 per device per batch)",
            device_batches * m.read_units_per_device_batch,
            "read unit",
            p.DYNAMODB_READ_REQUEST_UNIT,
        ),
        CostLine(
            "DynamoDB",
            "notification ledger writes",
            alerts_per_s * p.SECONDS_PER_MONTH * NOTIFY_LEDGER_WRITES_PER_ALERT,
            "write unit",
            p.DYNAMODB_WRITE_REQUEST_UNIT,
        ),
    ]


def s3_lines(t: Traffic, tu: Tuning, m: Measured) -> list[CostLine]:
    return [
        CostLine(
            "S3",
            f"PUTs ({m.s3_puts_per_batch:g} objects per batch: readings, quarantine)",
            tu.invocations_per_s * m.s3_puts_per_batch * p.SECONDS_PER_MONTH,
            "request",
            p.S3_PUT,
        ),
        CostLine(
            "S3",
            "storage of a month of readings (grows monthly)",
            float(t.readings_per_s) * p.SECONDS_PER_MONTH * m.s3_bytes_per_reading / p.GB,
            "GB-month",
            p.S3_STANDARD_GB_MONTH,
        ),
    ]


def fan_out_lines(alerts_per_s: float) -> list[CostLine]:
    alerts = alerts_per_s * p.SECONDS_PER_MONTH
    return [
        CostLine("SNS", "publishes (1 per alarm transition)", alerts, "publish", p.SNS_PUBLISH),
        CostLine("EventBridge", "events (1 per alarm transition)", alerts, "event", p.EVENTBRIDGE_EVENT),
    ]


def cloudwatch_lines(tu: Tuning, alerts_per_s: float, stack: StackCounts) -> list[CostLine]:
    log_gb = tu.invocations_per_s * LOG_BYTES_PER_INGEST_BATCH + alerts_per_s * LOG_BYTES_PER_NOTIFICATION
    log_gb *= p.SECONDS_PER_MONTH / p.GB
    return [
        CostLine(
            "CloudWatch", "alarms (standard resolution)", stack.alarms, "alarm", p.CLOUDWATCH_ALARM_MONTH
        ),
        CostLine("CloudWatch", "dashboard", stack.dashboards, "dashboard", p.CLOUDWATCH_DASHBOARD_MONTH),
        CostLine(
            "CloudWatch", "custom metrics (EMF)", EMF_METRIC_SERIES, "metric", p.CLOUDWATCH_METRIC_MONTH
        ),
        CostLine("CloudWatch", "logs ingestion (incl. EMF)", log_gb, "GB", p.CLOUDWATCH_LOGS_INGEST_GB),
        CostLine(
            "CloudWatch",
            "logs storage (30-day retention)",
            log_gb * LOG_RETENTION_MONTHS,
            "GB-month",
            p.CLOUDWATCH_LOGS_STORAGE_GB_MONTH,
        ),
    ]


def monthly(
    t: Traffic,
    s: Shards,
    tu: Tuning,
    m: Measured,
    *,
    consumers: int,
    alerts_per_s: float,
    device_batches_per_s: float,
    stack: StackCounts,
) -> Costs:
    provisioned = provisioned_kinesis(t, s, consumers)
    on_demand = on_demand_kinesis(t, s, consumers)
    rest = [
        *lambda_lines(tu, m, alerts_per_s),
        *dynamodb_lines(device_batches_per_s, m, alerts_per_s),
        *s3_lines(t, tu, m),
        *fan_out_lines(alerts_per_s),
        *cloudwatch_lines(tu, alerts_per_s, stack),
    ]
    cheaper = sum(x.monthly for x in provisioned) <= sum(x.monthly for x in on_demand)
    return Costs(provisioned, on_demand, rest, "provisioned" if cheaper else "on-demand")
