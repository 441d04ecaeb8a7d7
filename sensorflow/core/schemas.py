"""Avro schemas from ``schemas/``, parsed once per process (once per Lambda container)."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import fastavro.schema

# The repo root in a checkout, and the zip root in Lambda: both hold sensorflow/ and schemas/.
SCHEMA_DIR = Path(os.environ.get("SENSORFLOW_SCHEMA_DIR", Path(__file__).resolve().parents[2] / "schemas"))

READING = "sensorflow.SensorReading"
ENRICHED = "sensorflow.EnrichedReading"
TRANSITION = "sensorflow.TransitionEvent"


@functools.cache
def load(full_name: str) -> Any:
    """Parse ``schemas/<full_name>.avsc``; named types resolve from files in the same directory."""
    return fastavro.schema.load_schema(str(SCHEMA_DIR / f"{full_name}.avsc"))


def schema_files() -> list[Path]:
    return sorted(SCHEMA_DIR.glob("*.avsc"))
