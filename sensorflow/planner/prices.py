"""us-east-1 list prices the planner's monthly cost uses, in dollars, each with its source and the date read.

No free tier is subtracted (an account's free allowances are shared with everything else in it). Where a
figure could not be confirmed from a page read on 2026-12-01, its comment says so: check the pricing page
before quoting the total. A month is 730 hours, the convention of AWS's own calculator.
"""

from __future__ import annotations

HOURS_PER_MONTH = 730
SECONDS_PER_MONTH = HOURS_PER_MONTH * 3_600
GB = 1_073_741_824  # AWS bills storage and transfer in binary GB

# --- Kinesis Data Streams, provisioned: aws.amazon.com/kinesis/data-streams/pricing/ ------------------
# $0.015 per shard-hour and $0.014 per million 25 KB PUT payload units (REFERENCE.md "Prices", "about"; the
# shard-hour also quoted by c3x.dev/resources/aws/aws_kinesis_stream, read 2026-12-01).
KINESIS_SHARD_HOUR = 0.015
KINESIS_PUT_PAYLOAD_UNIT = 0.014 / 1e6
KINESIS_PUT_PAYLOAD_UNIT_BYTES = 25 * 1_024
# Enhanced fan-out on a provisioned stream: $0.015 per consumer-shard-hour and $0.013 per GB retrieved
# (c3x.dev/resources/aws/aws_kinesis_stream, read 2026-12-01; not confirmed on AWS's own page, whose price
# table did not render in the stored copy).
KINESIS_EFO_CONSUMER_SHARD_HOUR = 0.015
KINESIS_EFO_GB = 0.013

# --- Kinesis Data Streams, on-demand Standard --------------------------------------------------------------
# $0.04 per stream-hour and $0.08 per GB written: AWS Big Data Blog, "Kinesis On-demand Advantage saves
# 60%+ on streaming costs", 2026-03-09, us-east-1 prices
# (aws.amazon.com/blogs/big-data/kinesis-on-demand-advantage-saves-60-on-streaming-costs/); each record is
# billed rounded up to 1 KB (the pricing page, "Data-In").
# Enhanced fan-out retrievals $0.05 per GB per consumer (the same post).
KINESIS_ON_DEMAND_STREAM_HOUR = 0.04
KINESIS_ON_DEMAND_IN_GB = 0.08
KINESIS_ON_DEMAND_RECORD_ROUNDING_BYTES = 1_024
KINESIS_ON_DEMAND_EFO_GB = 0.05
# Shared-throughput retrievals: $0.04 per GB. Not confirmed on a page read on 2026-12-01 (remembered from the
# pricing page); the planner assumes the same 1 KB rounding as writes.
KINESIS_ON_DEMAND_OUT_GB = 0.04

# --- Lambda: REFERENCE.md "Prices" (aws.amazon.com/lambda/pricing/), arm64 --------------------------------
LAMBDA_ARM_GB_S = 0.0000133334
LAMBDA_REQUEST = 0.20 / 1e6

# --- DynamoDB on-demand: aws.amazon.com/dynamodb/pricing/on-demand/, as of 2026-12 (BENCHMARKS.md) ---
DYNAMODB_WRITE_REQUEST_UNIT = 0.625 / 1e6
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1e6

# --- S3 Standard: aws.amazon.com/s3/pricing/ ------------------------------------------------------------
# PUT $0.005 per 1,000 requests (REFERENCE.md, BENCHMARKS.md); storage $0.023 per GB-month for the first 50 TB
# (devnotes.tech "Understanding AWS S3 Pricing", us-east-1, read 2026-12-01; not confirmed on AWS's page).
S3_PUT = 0.005 / 1_000
S3_STANDARD_GB_MONTH = 0.023

# --- SNS and EventBridge: REFERENCE.md "Prices" ------------------------------------------------------------
# SNS: about $0.50 per million publishes (each PublishBatch entry counts, per 64 KB chunk); deliveries to SQS
# and Lambda are free. EventBridge: $1.00 per million custom events (64 KB chunks).
SNS_PUBLISH = 0.50 / 1e6
EVENTBRIDGE_EVENT = 1.00 / 1e6

# --- CloudWatch: aws.amazon.com/cloudwatch/pricing/ ---------------------------------------------------
# Standard-resolution alarm $0.10 per alarm metric-month, dashboard $3.00 per month, custom metrics $0.30 per
# metric-month (first 10,000), logs ingestion $0.50 per GB (standard class; Lambda logs tiered from $0.50),
# logs storage $0.03 per GB-month: cloudburn.io/blog/amazon-cloudwatch-pricing ("sourced from the official AWS
# CloudWatch pricing page as of February 2026 for US East") and signoz.io/guides/cloudwatch-pricing (custom
# metrics, 2026-02-15), read 2026-12-01. The alarm and storage figures were not in the excerpts read.
CLOUDWATCH_ALARM_MONTH = 0.10
CLOUDWATCH_DASHBOARD_MONTH = 3.00
CLOUDWATCH_METRIC_MONTH = 0.30
CLOUDWATCH_LOGS_INGEST_GB = 0.50
CLOUDWATCH_LOGS_STORAGE_GB_MONTH = 0.03

__all__ = [
    "CLOUDWATCH_ALARM_MONTH",
    "CLOUDWATCH_DASHBOARD_MONTH",
    "CLOUDWATCH_LOGS_INGEST_GB",
    "CLOUDWATCH_LOGS_STORAGE_GB_MONTH",
    "CLOUDWATCH_METRIC_MONTH",
    "DYNAMODB_READ_REQUEST_UNIT",
    "DYNAMODB_WRITE_REQUEST_UNIT",
    "EVENTBRIDGE_EVENT",
    "GB",
    "HOURS_PER_MONTH",
    "KINESIS_EFO_CONSUMER_SHARD_HOUR",
    "KINESIS_EFO_GB",
    "KINESIS_ON_DEMAND_EFO_GB",
    "KINESIS_ON_DEMAND_IN_GB",
    "KINESIS_ON_DEMAND_OUT_GB",
    "KINESIS_ON_DEMAND_RECORD_ROUNDING_BYTES",
    "KINESIS_ON_DEMAND_STREAM_HOUR",
    "KINESIS_PUT_PAYLOAD_UNIT",
    "KINESIS_PUT_PAYLOAD_UNIT_BYTES",
    "KINESIS_SHARD_HOUR",
    "LAMBDA_ARM_GB_S",
    "LAMBDA_REQUEST",
    "S3_PUT",
    "S3_STANDARD_GB_MONTH",
    "SECONDS_PER_MONTH",
    "SNS_PUBLISH",
]
