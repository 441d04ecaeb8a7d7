"""Sensor stream simulator: a realistic fleet, injected faults, exact ground truth, a careful producer.

Runs outside Lambda (``sensorflow simulate``, the local cloud's demo); nothing in ``sensorflow.core``,
the adapters or the handlers imports it, and packaging leaves it out of the zip.

    from sensorflow.simulate import SimConfig, generate
    for record in generate(SimConfig(devices=20, duration_s=3600, seed=7, start_ms=...)):
        record.partition_key, record.data, record.truth
"""

from __future__ import annotations

from sensorflow.simulate.errors import ProducerError, SimulationError
from sensorflow.simulate.fleet import DeviceSpec, FleetError, load_fleet, registry_items
from sensorflow.simulate.generator import SimConfig, SimRecord, generate
from sensorflow.simulate.producer import FailedRecord, KinesisProducer, ProducerReport

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
    "generate",
    "load_fleet",
    "registry_items",
]
