"""What a soak is asked to do (``SoakOptions``) and what it found (``SoakResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sensorflow.localcloud.demo.drive import DEFAULT_FORMATS, DEFAULT_SCHEMA_VERSIONS
from sensorflow.localcloud.faults.plan import FaultPlan
from sensorflow.localcloud.soak.sampler import Sample

DEFAULT_MINUTES = 10.0
DEFAULT_RATE = 20.0  # readings/s: the committed fleet at its own intervals sends about 21.7
DEFAULT_SAMPLE_S = 10.0
DEFAULT_SEED = 7


@dataclass(frozen=True, slots=True)
class SoakOptions:
    minutes: float = DEFAULT_MINUTES
    rate: float = DEFAULT_RATE
    sample_every_s: float = DEFAULT_SAMPLE_S
    seed: int = DEFAULT_SEED
    faults: FaultPlan | None = None  # applied by the proxy from the moment publishing starts
    port: int = 0
    formats: tuple[str, ...] = DEFAULT_FORMATS
    schema_versions: tuple[int, ...] = DEFAULT_SCHEMA_VERSIONS


@dataclass(slots=True)
class SoakResult:
    summary: dict[str, Any]
    samples: list[Sample]
    checks: dict[str, bool | None] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(v is not False for v in self.checks.values())
