"""Value objects that flow through the pipeline. All frozen; the domain never mutates a record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One Kinesis record as Lambda delivers it, with the payload already base64-decoded; or one user record
    of a KPL aggregated record (``sensorflow.core.kpl``), which shares its parent's sequence number and
    arrival time and has its own partition key and ``sub_sequence_number`` (its position in the parent)."""

    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival_time_ms: int
    sub_sequence_number: int | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """A decoded ``sensorflow.SensorReading``."""

    device_id: str
    sensor_type: str
    value: float
    unit: str
    timestamp_ms: int
    seq: int
    battery_pct: float | None = None
    firmware: str | None = None
    firmware_generation: int = 1  # since v2 of the schema; v1 writers read as 1
    battery_mv: int | None = None  # since v2


@dataclass(frozen=True, slots=True)
class Device:
    """A device registry entry. ``thresholds`` overrides rule fields per sensor type.

    Every string here goes into each transition of the device: ``core.limits.check_device`` caps them, at
    the registry write and again when the ingest reads the entry."""

    device_id: str
    site: str
    location: str
    model: str
    owner_team: str
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EnrichedReading:
    """A reading with registry context, canonical units and arrival latency."""

    reading: Reading
    device: Device
    value: float
    unit: str
    ingest_time_ms: int
    shard_id: str
    sequence_number: str
    sub_sequence_number: int | None = None  # a KPL sub-record's position in its parent

    @property
    def latency_ms(self) -> int:
        return self.ingest_time_ms - self.reading.timestamp_ms

    def to_avro(self) -> dict[str, Any]:
        """The ``sensorflow.EnrichedReading`` dictionary fastavro writes."""
        r, d = self.reading, self.device
        return {
            "device_id": r.device_id,
            "sensor_type": r.sensor_type,
            "value": self.value,
            "unit": self.unit,
            "raw_value": r.value,
            "raw_unit": r.unit,
            "timestamp": r.timestamp_ms,
            "seq": r.seq,
            "battery_pct": r.battery_pct,
            "firmware": r.firmware,
            "firmware_generation": r.firmware_generation,
            "battery_mv": r.battery_mv,
            "site": d.site,
            "location": d.location,
            "model": d.model,
            "owner_team": d.owner_team,
            "ingest_time": self.ingest_time_ms,
            "latency_ms": self.latency_ms,
            "shard_id": self.shard_id,
            "sequence_number": self.sequence_number,
            "sub_sequence_number": self.sub_sequence_number,
        }
