"""One plan: the traffic, the shards, the mapping's settings, the monthly cost and the warnings, for a fleet.

``make_plan`` composes the modules, each one concept: ``workload`` (inputs and traffic), ``sizing`` (shards),
``tuning`` (batch size, window, parallelization factor, concurrency), ``cost`` (monthly lines) and
``quota_checks`` (warnings). ``Plan.to_dict`` is what ``sensorflow plan --json`` prints, rounded so that a
plan diffs cleanly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sensorflow.planner import cost, quota_checks, sizing, stack_counts, tuning
from sensorflow.planner import service_limits as lim
from sensorflow.planner.measured import Measured
from sensorflow.planner.stack_counts import StackCounts
from sensorflow.planner.workload import PlanInputs, Traffic, traffic

RESERVED_CONCURRENCY_HEADROOM = 1.25  # room for a reshard in flight


@dataclass(frozen=True, slots=True)
class Plan:
    inputs: PlanInputs
    measured: Measured
    traffic: Traffic
    shards: sizing.Shards
    tuning: tuning.Tuning
    alerts_per_s: float
    readings_per_device_batch: float
    device_batches_per_s: float
    costs: cost.Costs
    warnings: list[str]

    @property
    def settings(self) -> dict[str, int]:
        """serverless.yml values for this plan (params and the ingest stream event)."""
        return {
            "shardCount": self.shards.shards,
            "ingestBatchSize": self.tuning.batch_size,
            "batchWindow": self.tuning.batch_window_s,
            "parallelizationFactor": self.tuning.parallelization_factor,
            "ingestReservedConcurrency": math.ceil(
                self.tuning.max_concurrency * RESERVED_CONCURRENCY_HEADROOM
            ),
        }

    def to_dict(self) -> dict[str, Any]:
        t, s, tu, i = self.traffic, self.shards, self.tuning, self.inputs
        return {
            "inputs": {
                "devices": i.devices,
                "interval_s": float(i.interval_s),
                "sensors_per_device": i.sensors_per_device,
                "payload_bytes": i.payload_bytes,
                "alert_rate": round(self.alerts_per_s / float(t.readings_per_s), 6),
                "consumers": i.consumers,
                "aggregation": i.aggregation,
                "batch_window_s": i.batch_window_s,
            },
            "measured_from": self.measured.source,
            "traffic": {
                "readings_per_s": _r(t.readings_per_s),
                "records_per_s": _r(t.records_per_s),
                "record_bytes": t.record_bytes,
                "write_mib_per_s": _r(float(t.bytes_per_s) / lim.MIB),
                "alerts_per_s": _r(self.alerts_per_s),
            },
            "shards": {
                "write": s.write,
                "read_shared": s.read_shared,
                "read_enhanced_fan_out": s.read_efo,
                "enhanced_fan_out": s.efo,
                "stream": s.shards,
                "write_utilisation": _r(s.write_utilisation),
                "stream_mode": self.costs.stream_mode,
            },
            "tuning": {
                "batch_size": tu.batch_size,
                "batch_window_s": tu.batch_window_s,
                "parallelization_factor": tu.parallelization_factor,
                "steady_batch_readings": _r(tu.steady_batch_readings),
                "batch_span_s": _r(tu.batch_span_s),
                "batch_duration_s": _r(tu.batch_duration_s),
                "slot_utilisation": _r(tu.utilisation),
                "max_concurrency": tu.max_concurrency,
                "mean_concurrency": _r(tu.mean_concurrency),
                "invocations_per_s": _r(tu.invocations_per_s),
                "iterator_age_s": _r(tu.iterator_age_s),
                "stall_600s_drains_in_s": None if tu.stall_drain_s is None else _r(tu.stall_drain_s),
                "readings_per_device_batch": _r(self.readings_per_device_batch),
            },
            "settings": self.settings,
            "monthly_cost_usd": {
                "lines": [_line(x) for x in self.costs.lines],
                "kinesis_provisioned": round(sum(x.monthly for x in self.costs.provisioned_kinesis), 2),
                "kinesis_on_demand": round(sum(x.monthly for x in self.costs.on_demand_kinesis), 2),
                "total": round(self.costs.total, 2),
            },
            "warnings": self.warnings,
        }


def _r(x: Any) -> float:
    """Six significant digits: stable across platforms, plenty for a plan."""
    return float(f"{float(x):.6g}")


def _line(x: cost.CostLine) -> dict[str, Any]:
    return {
        "service": x.service,
        "item": x.item,
        "quantity": _r(x.quantity),
        "unit": x.unit,
        "unit_price": x.unit_price,
        "monthly": round(x.monthly, 2),
    }


def make_plan(inputs: PlanInputs, measured: Measured, stack: StackCounts | None = None) -> Plan:
    """The plan for ``inputs``; ``stack`` counts CloudWatch alarms and dashboards (default: the repo's)."""
    stack = stack or stack_counts.count()
    t = traffic(inputs)
    s = sizing.size(t, inputs.consumers)
    tu = tuning.tune(t, s.shards, inputs.aggregation, measured, inputs.batch_window_s)
    rate = measured.alerts_per_reading if inputs.alert_rate is None else inputs.alert_rate
    alerts = float(t.readings_per_s) * rate
    per_device = tuning.readings_per_device_batch(
        inputs.sensors_per_device, inputs.interval_s, tu.batch_span_s
    )
    device_batches = float(t.readings_per_s) / per_device
    kwargs: dict[str, Any] = {
        "consumers": inputs.consumers,
        "alerts_per_s": alerts,
        "device_batches_per_s": device_batches,
    }
    return Plan(
        inputs=inputs,
        measured=measured,
        traffic=t,
        shards=s,
        tuning=tu,
        alerts_per_s=alerts,
        readings_per_device_batch=per_device,
        device_batches_per_s=device_batches,
        costs=cost.monthly(t, s, tu, measured, stack=stack, **kwargs),
        warnings=quota_checks.warnings(t, s, tu, measured, **kwargs),
    )
