"""Sensor stream simulator: a realistic fleet, injected faults, exact ground truth, a careful producer.

Runs outside Lambda (``sensorflow simulate``, the local cloud's demo); nothing in ``sensorflow.core``,
the adapters or the handlers imports it, and packaging leaves it out of the zip.

    from sensorflow.simulate import SimConfig, generate
    for record in generate(SimConfig(devices=20, duration_s=3600, seed=7, start_ms=...)):
        record.partition_key, record.data, record.truth

What the alarm pipeline should emit for a run (``sensorflow.simulate.truth``):

    records = list(generate(SimConfig(devices=50, duration_s=900, min_excursions=5, trailing_dropouts=2)))
    expected_transitions(records, now_ms=heartbeat_time)  # {alarm_id: [(transition, severity), ...]}
    expected_stale(records, now_ms=heartbeat_time)  # {device_id, ...}
"""

from __future__ import annotations

from sensorflow.simulate.errors import ProducerError, SimulationError
from sensorflow.simulate.fleet import DeviceSpec, FleetError, load_fleet, registry_items
from sensorflow.simulate.generator import generate
from sensorflow.simulate.producer import FailedRecord, KinesisProducer, ProducerReport
from sensorflow.simulate.sim_types import SimConfig, SimRecord
from sensorflow.simulate.truth import expected_stale, expected_transitions

__all__ = [
    "DeviceSpec",
    "FailedRecord",
    "FleetError",
    "KinesisProducer",
    "ProducerError",
    "ProducerReport",
    "SimConfig",
    "SimRecord",
    "SimulationError",
    "expected_stale",
    "expected_transitions",
    "generate",
    "load_fleet",
    "registry_items",
]
