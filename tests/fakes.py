"""In-memory fakes for the pipeline's ports (no mocks: they behave like the real thing, in a dict)."""

from __future__ import annotations

from collections.abc import Sequence

from sensorflow.core.errors import TransientError
from sensorflow.core.ports import AlarmOutcome, QuarantineEntry, RemainingTime
from sensorflow.core.records import Device, EnrichedReading


class FakeRegistry:
    def __init__(self, devices: Sequence[Device] = (), failing: set[str] | None = None) -> None:
        self.devices = {d.device_id: d for d in devices}
        self.failing = failing or set()
        self.lookups: list[str] = []

    def get(self, device_id: str) -> Device | None:
        self.lookups.append(device_id)
        if device_id in self.failing:
            raise TransientError(
                f"dynamodb:GetItem failed: ProvisionedThroughputExceededException ({device_id})"
            )
        return self.devices.get(device_id)


class FakeReadingSink:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, list[EnrichedReading]] = {}
        self.fail = fail

    def write(self, key: str, readings: Sequence[EnrichedReading]) -> None:
        if self.fail:
            raise TransientError("s3:PutObject readings failed: SlowDown")
        self.objects[key] = list(readings)


class FakeQuarantineSink:
    def __init__(self, fail: bool = False) -> None:
        self.objects: dict[str, list[QuarantineEntry]] = {}
        self.fail = fail

    def write(self, key: str, entries: Sequence[QuarantineEntry]) -> None:
        if self.fail:
            raise TransientError("s3:PutObject quarantine failed: InternalError")
        self.objects[key] = list(entries)


class FakeAlarms:
    """Stands in for ``AlarmEvaluator``: records what it was given and fails from the chosen readings."""

    def __init__(self, failing_seqs: set[int] | None = None) -> None:
        self.seen: list[EnrichedReading] = []
        self.failing_seqs = failing_seqs or set()

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome:
        self.seen += readings
        out = AlarmOutcome()
        for i, r in enumerate(readings):
            if r.reading.seq in self.failing_seqs:
                out.fail_from(i)
                break
        return out
