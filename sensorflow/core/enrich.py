"""Enrichment: registry context, canonical units and arrival latency."""

from __future__ import annotations

from sensorflow.core.records import Device, EnrichedReading, Reading, StreamRecord


def enrich(
    reading: Reading, value: float, unit: str, device: Device, record: StreamRecord
) -> EnrichedReading:
    """Combine a checked reading (already converted to ``value`` in ``unit``) with its device."""
    return EnrichedReading(
        reading=reading,
        device=device,
        value=value,
        unit=unit,
        ingest_time_ms=record.arrival_time_ms,
        shard_id=record.shard_id,
        sequence_number=record.sequence_number,
        sub_sequence_number=record.sub_sequence_number,
    )
