"""``sensorflow plan``: shard counts at the limits, read-side sizing, tuning from a bench fixture, cost lines
from the named prices, the million-device golden plan and the CLI's one-line errors.

Regenerate the golden file deliberately, after a change to the planner that should change it:
``SENSORFLOW_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_planner.py -q`` (and review the diff).
"""

from __future__ import annotations

import json
import math
import os
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.cli.main import main
from sensorflow.planner import COMMITTED, PlanInputError, PlanInputs, load, make_plan
from sensorflow.planner import prices as p
from sensorflow.planner import service_limits as lim
from sensorflow.planner.measured import Measured, from_results
from sensorflow.planner.sizing import efo_read_shards, shared_read_shards, write_shards
from sensorflow.planner.stack_counts import StackCounts, count
from sensorflow.planner.tuning import batch_model, payload_ceiling, tune
from sensorflow.planner.workload import PARTITION_KEY_BYTES, traffic

GOLDEN = Path(__file__).parent / "golden"
BENCH_FIXTURE = GOLDEN / "plan-bench-results.json"
MILLION_GOLDEN = GOLDEN / "plan-1000000-devices-10s.json"
MIB = lim.MIB


STACK = StackCounts(alarms=18, dashboards=1, source="test")


def plan_for(**kw):
    kw.setdefault("interval_s", Fraction(1))
    return make_plan(PlanInputs(**kw), COMMITTED, STACK)


# --- shards for writes, at the limits ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records_per_s", "bytes_per_s", "shards"),
    [
        (1_000, 1_000 * 60, 1),  # exactly 1,000 records/s: one shard
        (1_001, 1_001 * 60, 2),  # one record more: two
        (1, MIB, 1),  # exactly 1 MiB/s in one record/s
        (2, MIB + 1, 2),  # one byte over
        (100_000, 100_000 * 10, 100),  # many small records: the record limit decides
        (10, 10 * 512 * 1_024, 5),  # few large records: the byte limit decides
        (Fraction(1, 10), 6, 1),  # a trickle still needs a shard
    ],
)
def test_write_shards_at_the_limits(records_per_s, bytes_per_s, shards):
    assert write_shards(Fraction(records_per_s), Fraction(bytes_per_s)) == shards


@pytest.mark.parametrize(("devices", "shards"), [(1_000, 1), (1_001, 2), (2_000, 2), (100_000, 100)])
def test_fleet_of_one_reading_per_device_per_second(devices, shards):
    plan = plan_for(devices=devices)
    assert plan.traffic.records_per_s == devices
    assert plan.traffic.record_bytes == 48 + PARTITION_KEY_BYTES
    assert plan.shards.write == shards
    assert plan.shards.shards == shards


def test_payload_at_exactly_one_mib_per_second_is_one_shard():
    # 16 devices x 1 reading/s x (65,524 + 12) bytes = 1,048,576 bytes/s
    at = plan_for(devices=16, payload_bytes=MIB // 16 - PARTITION_KEY_BYTES)
    over = plan_for(devices=16, payload_bytes=MIB // 16 - PARTITION_KEY_BYTES + 1)
    assert at.traffic.bytes_per_s == MIB
    assert (at.shards.write, over.shards.write) == (1, 2)


def test_kpl_aggregation_turns_the_record_limit_into_a_byte_limit():
    # 10,000 readings/s: 10 shards one per record; aggregated 10 to a record, 1,000 records/s of 562 bytes.
    plain = plan_for(devices=10_000)
    kpl = plan_for(devices=1_000, sensors_per_device=10, aggregation=10)
    assert plain.shards.write == 10
    assert kpl.traffic.records_per_s == 1_000
    assert kpl.traffic.record_bytes == 22 + 2 * PARTITION_KEY_BYTES + 10 * (48 + 6)
    assert kpl.shards.write == 1


@given(st.integers(1, 10**6), st.integers(1, 2 * 10**9))
def test_write_shards_are_the_fewest_that_take_the_load(records, size_bytes):
    n = write_shards(Fraction(records), Fraction(size_bytes))
    assert records <= n * lim.SHARD_WRITE_RECORDS_PER_S and size_bytes <= n * lim.SHARD_WRITE_BYTES_PER_S
    fewer = n - 1
    assert n == 1 or records > fewer * lim.SHARD_WRITE_RECORDS_PER_S or size_bytes > fewer * MIB


# --- reads: shared throughput vs enhanced fan-out ---------------------------------------------------------


@pytest.mark.parametrize(
    ("consumers", "shared", "efo", "stream"),
    [
        (1, 1, False, 2),  # 2 write shards; one reader needs 1
        (2, 2, False, 2),  # two readers use exactly the 2 MiB/s and 2,000 records/s each shard gives out
        (3, 3, True, 2),  # a third would need a read shard: enhanced fan-out instead, no extra shard
        (8, 8, True, 2),
    ],
)
def test_read_shards_shared_or_enhanced_fan_out(consumers, shared, efo, stream):
    plan = plan_for(devices=2_000, consumers=consumers)  # 2,000 records/s of 60 bytes
    assert plan.shards.write == 2
    assert plan.shards.read_shared == shared
    assert plan.shards.read_efo == 1
    assert (plan.shards.efo, plan.shards.shards) == (efo, stream)


def test_read_side_bytes_limits():
    assert shared_read_shards(Fraction(10), Fraction(2 * MIB), consumers=2) == 2
    assert shared_read_shards(Fraction(10), Fraction(MIB), consumers=2) == 1
    assert efo_read_shards(Fraction(2 * MIB)) == 1
    assert efo_read_shards(Fraction(2 * MIB + 1)) == 2


def test_more_enhanced_fan_out_consumers_than_a_stream_takes_is_a_warning():
    plan = plan_for(devices=100, consumers=21)
    assert plan.shards.efo
    assert any("at most 20 enhanced fan-out" in w for w in plan.warnings)


# --- tuning from a bench fixture ------------------------------------------------------------------------


def fixture_measured(**overrides) -> Measured:
    results = json.loads(BENCH_FIXTURE.read_text(encoding="utf-8"))
    results["latency"].update(batch_records=500, batch_wall_s=0.3)
    results["cpu"]["ours_us"] = 200.0
    results["function"]["memory_mb"] = overrides.pop("memory_mb", 1769)
    return from_results(results, "fixture")


def test_batch_model_rescales_the_cpu_part_to_the_vcpu_share():
    full = batch_model(fixture_measured())  # 1,769 MB: one vCPU, the bench's wall time as measured
    half = batch_model(fixture_measured(memory_mb=1769 // 2))
    assert full.fixed_s == pytest.approx(2 * 0.025)  # the two batch objects, 25 ms each
    assert full.per_reading_s == pytest.approx((0.3 - 0.05) / 500)
    # 0.1 s of CPU per 500 readings takes 0.2 s at half a vCPU: 0.1 s more per batch.
    assert half.per_reading_s == pytest.approx((0.3 + 0.1 * (1769 / 884 - 1) - 0.05) / 500)


def test_tuning_keeps_each_shard_under_the_target_utilisation():
    m = fixture_measured()
    t = traffic(PlanInputs(devices=1_000, interval_s=Fraction(1)))  # 1,000 readings/s on one shard
    tu = tune(t, shards=1, aggregation=1, m=m)
    # factor 1: a batch of 1,000 takes 0.05 + 1,000 x 0.0005 = 0.55 s per 1 s window (55% > 50%);
    # factor 2: 500 each, 0.3 s (30%).
    assert (tu.batch_window_s, tu.parallelization_factor) == (1, 2)
    assert tu.steady_batch_readings == pytest.approx(500)
    assert tu.batch_duration_s == pytest.approx(0.3)
    assert tu.utilisation == pytest.approx(0.3)
    assert tu.batch_size == 1_000  # twice the steady batch
    assert tu.max_concurrency == 2
    assert tu.invocations_per_s == pytest.approx(2)
    assert tu.mean_concurrency == pytest.approx(0.6)
    # backlog of 600 s x 1,000 readings; full batches of 1,000 do 1,000/0.55 = 1,818/s per slot, 2 slots.
    assert tu.stall_drain_s == pytest.approx(600_000 / (2 * 1_000 / 0.55 - 1_000))


def test_a_quiet_shard_batches_over_a_longer_window():
    m = fixture_measured()
    t = traffic(PlanInputs(devices=100, interval_s=Fraction(10)))  # 10 readings/s
    tu = tune(t, shards=1, aggregation=1, m=m)
    assert (tu.batch_window_s, tu.parallelization_factor, tu.batch_size) == (10, 1, 200)
    assert tu.invocations_per_s == pytest.approx(0.1)


def test_batch_size_stays_inside_the_invoke_payload():
    assert payload_ceiling(60) == 6_000_000 // (80 + 660)
    m = fixture_measured()
    t = traffic(PlanInputs(devices=100_000, interval_s=Fraction(100), payload_bytes=400_000))
    assert tune(t, shards=t.records_per_s.__ceil__(), aggregation=1, m=m).batch_size <= payload_ceiling(
        400_012
    )


def test_a_slow_batch_time_needs_more_shards_than_parallelization_can_give():
    slow = fixture_measured()
    slow = Measured(**{**{f: getattr(slow, f) for f in slow.__slots__}, "batch_wall_s": 50.0})
    plan = make_plan(PlanInputs(devices=1_000, interval_s=Fraction(1)), slow)
    assert plan.tuning.parallelization_factor == lim.PARALLELIZATION_FACTOR_MAX
    assert not plan.tuning.meets_target
    assert any("even parallelizationFactor 10" in w for w in plan.warnings)


def test_bench_results_are_read_when_present_else_the_committed_figures(tmp_path):
    assert load(None) is COMMITTED
    assert load(tmp_path / "absent.json") is COMMITTED
    m = load(BENCH_FIXTURE)
    assert m.batch_records == 500 and m.memory_mb == 1024 and m.architecture == "arm64"
    assert m.readings_per_device_batch == pytest.approx(500 / 232.7)
    bad = tmp_path / "bench-results.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(PlanInputError, match=r"not a bench-results\.json"):
        load(bad)


# --- cost lines from the named prices ---------------------------------------------------------------------


def lines(plan) -> dict[str, float]:
    return {x.item: x.monthly for x in plan.costs.lines}


def test_kinesis_provisioned_and_on_demand_lines():
    plan = plan_for(devices=1_000)  # 1,000 records/s of 60 bytes, one shard
    kinesis = {x.item: x.monthly for x in plan.costs.provisioned_kinesis}
    assert kinesis["shard-hours"] == pytest.approx(1 * p.HOURS_PER_MONTH * p.KINESIS_SHARD_HOUR)
    assert kinesis["PUT payload units (25 KB)"] == pytest.approx(
        1_000 * p.SECONDS_PER_MONTH * p.KINESIS_PUT_PAYLOAD_UNIT
    )
    on_demand = {x.item: x.monthly for x in plan.costs.on_demand_kinesis}
    gb = 1_000 * 1_024 * p.SECONDS_PER_MONTH / p.GB  # each 60-byte record billed as 1 KB
    assert on_demand["on-demand stream-hours"] == pytest.approx(
        p.HOURS_PER_MONTH * p.KINESIS_ON_DEMAND_STREAM_HOUR
    )
    assert on_demand["on-demand data in (1 KB per record)"] == pytest.approx(gb * p.KINESIS_ON_DEMAND_IN_GB)
    assert on_demand["on-demand data out, 1 consumer"] == pytest.approx(gb * p.KINESIS_ON_DEMAND_OUT_GB)
    assert plan.costs.stream_mode == "provisioned"


def test_enhanced_fan_out_lines():
    plan = plan_for(devices=1_000, consumers=3)
    kinesis = {x.item: x.monthly for x in plan.costs.provisioned_kinesis}
    assert kinesis["enhanced fan-out, 3 consumers"] == pytest.approx(
        3 * 1 * p.HOURS_PER_MONTH * p.KINESIS_EFO_CONSUMER_SHARD_HOUR
    )
    assert kinesis["enhanced fan-out data"] == pytest.approx(
        3 * 60_000 * p.SECONDS_PER_MONTH / p.GB * p.KINESIS_EFO_GB
    )


def test_lambda_dynamodb_s3_and_fan_out_lines():
    m = COMMITTED
    plan = plan_for(devices=1_000, alert_rate=0.01)
    tu, got = plan.tuning, lines(plan)
    invocations = tu.invocations_per_s * p.SECONDS_PER_MONTH
    assert got["ingest requests"] == pytest.approx(invocations * p.LAMBDA_REQUEST)
    compute = next(v for k, v in got.items() if k.startswith("ingest compute"))
    assert compute == pytest.approx(invocations * tu.batch_duration_s * (1024 / 1024) * p.LAMBDA_ARM_GB_S)
    # one alarm-state item per device per batch: 1,000 device-batches/s at 1 reading each
    device_batches = 1_000 * p.SECONDS_PER_MONTH
    assert got["alarm state writes (1 per device per batch, + GSI)"] == pytest.approx(
        device_batches
        * m.readings_per_device_batch
        * (m.write_units_per_reading + m.gsi_write_units_per_reading)
        * p.DYNAMODB_WRITE_REQUEST_UNIT
    )
    assert got["alarm state reads (1 per device per batch)"] == pytest.approx(
        device_batches * m.readings_per_device_batch * m.read_units_per_reading * p.DYNAMODB_READ_REQUEST_UNIT
    )
    assert got["PUTs (2 objects per batch: readings, quarantine)"] == pytest.approx(
        invocations * 2 * p.S3_PUT
    )
    alerts = 10 * p.SECONDS_PER_MONTH
    assert got["publishes (1 per alarm transition)"] == pytest.approx(alerts * p.SNS_PUBLISH)
    assert got["events (1 per alarm transition)"] == pytest.approx(alerts * p.EVENTBRIDGE_EVENT)
    assert got["alarms (standard resolution)"] == pytest.approx(18 * p.CLOUDWATCH_ALARM_MONTH)
    assert got["dashboard"] == pytest.approx(1 * p.CLOUDWATCH_DASHBOARD_MONTH)
    assert plan.costs.total == pytest.approx(sum(x.monthly for x in plan.costs.lines))


def test_a_longer_window_than_the_interval_coalesces_alarm_state_writes():
    quiet = plan_for(devices=10, interval_s=Fraction(2))  # 5 readings/s: a 10 s window spans 5 ticks
    assert quiet.tuning.batch_window_s == 10
    assert quiet.readings_per_device_batch == 5
    assert quiet.device_batches_per_s == pytest.approx(1)


def test_an_imposed_window_longer_than_the_interval_coalesces_the_alarm_state_writes():
    base = make_plan(PlanInputs(devices=1_000_000, interval_s=Fraction(10)), COMMITTED)
    wide = make_plan(PlanInputs(devices=1_000_000, interval_s=Fraction(10), batch_window_s=20), COMMITTED)
    tu = wide.tuning
    assert base.readings_per_device_batch == 1
    # 20 s of a shard is 20,000 readings: a batch fills at the 6 MB payload's 8,108 records first
    assert tu.steady_batch_readings == payload_ceiling(60) == tu.batch_size
    assert tu.batch_span_s == pytest.approx(8_108 * tu.parallelization_factor / 1_000)
    assert wide.readings_per_device_batch == pytest.approx(tu.batch_span_s / 10)
    assert wide.device_batches_per_s == pytest.approx(
        base.device_batches_per_s / wide.readings_per_device_batch
    )
    assert tu.utilisation <= 0.5


def test_a_batch_that_fills_before_the_window_spans_less():
    plan = make_plan(PlanInputs(devices=1_000_000, interval_s=Fraction(10), batch_window_s=300), COMMITTED)
    tu = plan.tuning
    assert tu.steady_batch_readings <= tu.batch_size  # never more than the batch size
    assert tu.batch_span_s < 300
    assert plan.readings_per_device_batch == pytest.approx(tu.batch_span_s / 10)


def test_alarms_and_dashboards_are_counted_in_the_generated_monitoring_resources(tmp_path):
    f = tmp_path / "monitoring.yml"
    f.write_text(
        "Resources:\n  A:\n    Type: AWS::CloudWatch::Alarm\n  B:\n    Type: AWS::CloudWatch::Alarm\n"
        "  D:\n    Type: AWS::CloudWatch::Dashboard\n  T:\n    Type: AWS::SNS::Topic\n",
        encoding="utf-8",
    )
    assert (count(f).alarms, count(f).dashboards) == (2, 1)
    assert count(tmp_path / "absent.yml").alarms == 18


# --- the million-device fleet -------------------------------------------------------------------------------


def million_plan() -> dict:
    return make_plan(
        PlanInputs(devices=1_000_000, interval_s=Fraction(10)), load(BENCH_FIXTURE), STACK
    ).to_dict()


def test_million_device_plan_matches_the_golden_file():
    got = million_plan()
    if os.environ.get("SENSORFLOW_REGENERATE_GOLDEN"):
        MILLION_GOLDEN.write_text(json.dumps(got, indent=2) + "\n", encoding="utf-8")
    assert got == json.loads(MILLION_GOLDEN.read_text(encoding="utf-8"))


def test_million_device_plan_is_credible():
    plan = million_plan()
    assert plan["traffic"]["readings_per_s"] == 100_000
    assert plan["shards"]["stream"] == 100  # the record limit: 100,000 records/s
    assert plan["tuning"]["max_concurrency"] <= lim.ACCOUNT_CONCURRENCY_QUOTA - 111
    assert plan["tuning"]["parallelization_factor"] <= lim.PARALLELIZATION_FACTOR_MAX
    warnings = " ".join(plan["warnings"])
    for expected in ("100% of its write limit", "over the default 40,000 per table", "4 MiB/s write"):
        assert expected in warnings


# --- the CLI ------------------------------------------------------------------------------------------------


def test_cli_prints_a_table_and_json(capsys):
    assert main(["plan", "--devices", "5000", "--interval", "10", "--bench", str(BENCH_FIXTURE)]) == 0
    table = capsys.readouterr().out
    assert "shards for writes          1 (" in table and "parallelizationFactor" in table
    assert table.count("Total") == 1 and "Warnings" not in table
    assert main(["plan", "--devices", "20000", "--interval", "10", "--bench", "none", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["shards"]["stream"] == 2 and doc["measured_from"].startswith("committed figures")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--devices", "-5", "--interval", "10"], "--devices must be a whole number >= 1; got -5"),
        (["--devices", "0", "--interval", "10"], "--devices must be a whole number >= 1; got 0"),
        (["--devices", "many", "--interval", "10"], "--devices must be a whole number; got 'many'"),
        (["--devices", "1.5", "--interval", "10"], "--devices must be a whole number; got '1.5'"),
        (
            ["--devices", "10", "--interval", "0"],
            "--interval must be a number of seconds > 0 and <= 86,400; got 0",
        ),
        (["--devices", "10", "--interval", "-1"], "--interval must be a number of seconds > 0 and"),
        (["--devices", "10", "--interval", "1e400"], "--interval must be a number of seconds > 0 and"),
        (
            ["--devices", "10", "--interval", "10", "--batch-window", "0"],
            "--batch-window must be a whole number",
        ),
        (["--devices", "10", "--interval", "10", "--batch-window", "301"], "from 1 to 300; got 301"),
        (["--devices", "10", "--interval", "10", "--batch-window", "2.5"], "--batch-window must be a whole"),
        (["--devices", "10", "--interval", "soon"], "--interval must be a number; got 'soon'"),
        (["--devices", "10", "--interval", "nan"], "--interval must be a number; got 'nan'"),
        (
            ["--devices", "10", "--interval", "10", "--alert-rate", "1.5"],
            "--alert-rate must be between 0 and 1",
        ),
        (
            ["--devices", "10", "--interval", "10", "--alert-rate", "-0.1"],
            "--alert-rate must be between 0 and 1",
        ),
        (
            ["--devices", "10", "--interval", "10", "--consumers", "0"],
            "--consumers must be a whole number >= 1",
        ),
        (
            ["--devices", "10", "--interval", "10", "--sensors-per-device", "-2"],
            "--sensors-per-device must be",
        ),
        (["--devices", "10", "--interval", "10", "--payload-bytes", "0"], "--payload-bytes must be"),
        (["--devices", "10", "--interval", "10", "--aggregation", "0"], "--aggregation must be"),
        (["--devices", "10", "--interval", "10", "--payload-bytes", "2000000"], "over the 1,048,576-byte"),
        (["--interval", "10"], "--devices is required"),
        (["--devices", "10"], "--interval is required"),
        (
            ["--devices", "10", "--interval", "10", "--bench", "/nonexistent.json"],
            "--bench /nonexistent.json",
        ),
    ],
)
def test_cli_bad_input_is_one_line(capsys, argv, message):
    assert main(["plan", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("sensorflow plan: error: ")
    assert message in err


def test_inputs_are_checked_outside_the_cli_too():
    with pytest.raises(PlanInputError, match="--interval"):
        PlanInputs(devices=1, interval_s=Fraction(0))
    assert math.isclose(float(traffic(PlanInputs(devices=3, interval_s=Fraction(1, 2))).readings_per_s), 6)
