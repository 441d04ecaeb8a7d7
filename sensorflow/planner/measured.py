"""The benchmark's measured figures the planner scales from: ``bench-results.json`` (``make bench``) when
present, else the figures committed here from the run of 2026-12-01 19:27 UTC (BENCHMARKS.md).

What is taken, and from where in the results (the larger of the two benchmark fleets):

- ``latency.batch_wall_s`` / ``batch_records``: wall time of one ingest batch under the latency model (AWS
  calls slept at typical latencies), and ``calls_per_batch["s3:PutObject"]``: the two batch objects;
- ``cpu.ours_us``: CPU per reading of the warm handler (in-memory clients), to rescale the CPU part of the
  wall time from the bench machine's full core to the share of a vCPU the function's memory buys;
- ``function.memory_mb`` / ``arch``: the ingest function's, as the bench read them from serverless.yml;
- ``workload.<N>.shares.distinct_devices_per_batch``: the alarm state is one item per device, read and written
  once per device per batch, so DynamoDB units scale with devices per batch, not with readings;
- ``aws.<N>.write_units`` / ``gsi_write_units`` / ``read_units``: capacity units per reading;
- ``aws.<N>.billed["s3:bytes"]``: bytes of readings objects stored per reading; ``billed["events:events"]``:
  alarm transitions (one SNS publish and one EventBridge event each) per reading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sensorflow.planner.errors import PlanInputError

BENCH_RESULTS_PATH = Path(__file__).resolve().parents[2] / "bench-results.json"
# The latency model's S3 PutObject (BENCHMARKS.md "How it is measured"): the fixed part of a batch.
BENCH_S3_PUT_LATENCY_S = 0.025


@dataclass(frozen=True, slots=True)
class Measured:
    source: str
    batch_records: int
    batch_wall_s: float
    cpu_us_per_reading: float
    s3_puts_per_batch: float
    memory_mb: int
    architecture: str
    readings_per_device_batch: float
    write_units_per_reading: float
    gsi_write_units_per_reading: float
    read_units_per_reading: float
    s3_bytes_per_reading: float
    alerts_per_reading: float

    @property
    def write_units_per_device_batch(self) -> float:
        return self.write_units_per_reading * self.readings_per_device_batch

    @property
    def gsi_write_units_per_device_batch(self) -> float:
        return self.gsi_write_units_per_reading * self.readings_per_device_batch

    @property
    def read_units_per_device_batch(self) -> float:
        return self.read_units_per_reading * self.readings_per_device_batch


# bench-results.json of 2026-12-01 19:27 UTC (commit de63b65), the 2,000-device fleet.
COMMITTED = Measured(
    source="committed figures (make bench, 2026-12-01 19:27 UTC)",
    batch_records=500,
    batch_wall_s=0.3750562372492823,
    cpu_us_per_reading=381.8587017000027,
    s3_puts_per_batch=2.0,
    memory_mb=1024,
    architecture="arm64",
    readings_per_device_batch=500 / 232.7,
    write_units_per_reading=0.4633 + 0.005,
    gsi_write_units_per_reading=0.3047,
    read_units_per_reading=0.462 + 0.0004,
    s3_bytes_per_reading=41.3026,
    alerts_per_reading=0.0025,
)


def load(path: Path | None = BENCH_RESULTS_PATH) -> Measured:
    """The figures of ``path`` (a ``bench-results.json``); ``COMMITTED`` when it is None or absent."""
    if path is None or not path.exists():
        return COMMITTED
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
        return from_results(results, f"{path.name} (make bench, {results['machine']['date']})")
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise PlanInputError(
            f"{path}: not a bench-results.json the planner can read ({type(exc).__name__}: {exc}); "
            "run `make bench` again or pass --bench none for the committed figures"
        ) from None


def from_results(results: dict[str, Any], source: str) -> Measured:
    fleet = str(max(int(k) for k in results["workload"]))
    workload, aws, lat = results["workload"][fleet], results["aws"][fleet], results["latency"]
    return Measured(
        source=source,
        batch_records=int(lat["batch_records"]),
        batch_wall_s=float(lat["batch_wall_s"]),
        cpu_us_per_reading=float(results["cpu"]["ours_us"]),
        s3_puts_per_batch=float(lat["calls_per_batch"].get("s3:PutObject", 2.0)),
        memory_mb=int(results["function"]["memory_mb"]),
        architecture=str(results["function"]["arch"]),
        readings_per_device_batch=workload["batch_size"] / workload["shares"]["distinct_devices_per_batch"],
        write_units_per_reading=float(sum(aws["write_units"].values())),
        gsi_write_units_per_reading=float(sum(aws["gsi_write_units"].values())),
        read_units_per_reading=float(sum(aws["read_units"].values())),
        s3_bytes_per_reading=float(aws["billed"].get("s3:bytes", 0.0)),
        alerts_per_reading=float(aws["billed"].get("events:events", 0.0)),
    )
