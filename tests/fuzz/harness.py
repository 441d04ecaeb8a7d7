"""The ingest record handler over in-memory ports, and the invariants every input must satisfy.

``Harness.handle`` runs ``IngestService.process`` (decode, KPL de-aggregation, checks, registry, enrichment,
quarantine) on a batch of ``Wire`` records, then ``violations`` says what broke:

- nothing escapes ``process`` (an exception is the first violation) and nothing is reported in
  ``batchItemFailures``: the fakes never fail, so a hostile input that fails its batch would stall a shard;
- every record ends up exactly once: one output (enriched or quarantined) with no sub-sequence number, or,
  for a KPL parent, one per sub-record numbered 0..n-1; both sinks were written exactly what the outcome says;
- a quarantined record has a known reason (never ``processing_error``: that is the one broad catch, a bug)
  and a non-empty detail, and a whole record keeps its exact bytes;
- a record valid by construction is enriched with the values it was written with, the device's registry
  entry and the canonical unit.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sensorflow.core import kpl
from sensorflow.core.decode import ReadingDecoder
from sensorflow.core.errors import InvalidRecordError
from sensorflow.core.ports import AlarmOutcome, QuarantineEntry, RemainingTime
from sensorflow.core.records import EnrichedReading, StreamRecord
from sensorflow.core.units import normalise
from sensorflow.services.ingest import BatchOutcome, IngestService
from tests.factories import NOW_MS, SHARD, device, seq_number
from tests.fakes import FakeRegistry, FakeWriterSchemas
from tests.fuzz.inputs import DEVICES, Wire, confluent_writers, glue_writers

# Every reason the record path quarantines with (core.decode, core.framing, core.kpl, core.checks,
# core.units, services.ingest). ``processing_error`` is deliberately absent: it means an unexpected exception.
KNOWN_REASONS = frozenset(
    {
        "too_large",
        "decode_error",
        "trailing_bytes",
        "schema_incompatible",
        "schema_unsafe",
        "glue_truncated",
        "glue_bad_version",
        "glue_bad_compression",
        "glue_bad_zlib",
        "glue_unknown_schema",
        "decompressed_too_large",
        "confluent_truncated",
        "confluent_bad_magic",
        "confluent_unknown_schema",
        "unknown_framing",
        "kpl_truncated",
        "kpl_bad_digest",
        "kpl_malformed",
        "kpl_empty",
        "partition_key_mismatch",
        "bad_device_id",
        "non_finite",
        "implausible_value",
        "bad_seq",
        "unknown_sensor_type",
        "bad_unit",
        "timestamp_out_of_range",
        "unknown_device",
    }
)
ENRICHED = "enriched"  # the outcome's name in the fuzz's counts, next to the reasons


class LastWrite:
    """A sink (readings or quarantine) that keeps only its last object: the fuzz writes 100,000 of them."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.entries: list[Any] = []
        self.writes = 0

    def write(self, key: str, entries: Sequence[Any]) -> None:
        self.key, self.entries, self.writes = key, list(entries), self.writes + 1


class NoAlarms:
    """The alarm lifecycle is not under test here: every reading commits, nothing transitions."""

    def evaluate(self, readings: Sequence[EnrichedReading], remaining_ms: RemainingTime) -> AlarmOutcome:
        return AlarmOutcome()


def plenty() -> int:
    return 900_000


@dataclass(slots=True)
class Handled:
    records: list[StreamRecord]
    outcome: BatchOutcome | None
    error: BaseException | None = None
    outputs: dict[str, list[str]] = field(default_factory=dict)  # by sequence number: enriched or reasons


class Harness:
    def __init__(self) -> None:
        self.registry = FakeRegistry([device(d) for d in DEVICES])
        self.readings = LastWrite()
        self.quarantine = LastWrite()
        self.writers = FakeWriterSchemas(glue=glue_writers(), confluent=confluent_writers())
        self.service = IngestService(
            self.registry,
            self.readings,
            self.quarantine,
            NoAlarms(),
            decoder=ReadingDecoder(writer_schemas=self.writers),
            deadline_margin_ms=0,
        )
        self._writes_before = (0, 0)

    def handle(self, wires: Sequence[Wire], first: int = 0) -> Handled:
        """One batch of ``wires``, sequence numbers from ``first``; exceptions are caught and returned."""
        records = [
            StreamRecord(SHARD, seq_number(first + i), w.partition_key, w.data, NOW_MS)
            for i, w in enumerate(wires)
        ]
        # the fakes record every lookup; 100,000 records of them would be the fuzz's own garbage to collect
        self.registry.lookups.clear()
        self.writers.lookups.clear()
        self._writes_before = (self.readings.writes, self.quarantine.writes)
        try:
            outcome = self.service.process(records, plenty)
        except Exception as exc:  # the property under test: nothing escapes
            return Handled(records, None, exc)
        return Handled(records, outcome, outputs=_outputs(outcome))

    def violations(self, handled: Handled, wires: Sequence[Wire]) -> list[str]:
        if handled.error is not None:
            return [f"escaped: {type(handled.error).__name__}: {handled.error}"]
        out = handled.outcome
        assert out is not None
        problems: list[str] = []
        if out.failed_sequence_numbers:
            problems.append(f"reported {out.failed_sequence_numbers} ({out.failure_cause})")
        problems += _exactly_once(handled.records, out)
        problems += [p for q in out.quarantined if (p := _bad_entry(q, handled.records))]
        problems += self._sinks(out)
        for record, wire in zip(handled.records, wires, strict=True):
            if wire.expected is not None:
                problems += _as_expected(record, wire, out)
        return problems

    def _sinks(self, out: BatchOutcome) -> list[str]:
        if self.quarantine.entries != out.quarantined or self.readings.entries != out.enriched:
            return ["the sinks hold other records than the outcome"]
        if (self.readings.writes, self.quarantine.writes) != tuple(w + 1 for w in self._writes_before):
            return ["not exactly one write per sink"]
        return []


def _outputs(out: BatchOutcome) -> dict[str, list[str]]:
    """By sequence number, ``enriched`` or the reason of each output, in sub-record order."""
    by_record: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for e in out.enriched:
        by_record[e.sequence_number].append((e.sub_sequence_number or 0, ENRICHED))
    for q in out.quarantined:
        by_record[q.sequence_number].append((q.sub_sequence_number or 0, q.reason))
    return {seq: [o for _, o in sorted(outs)] for seq, outs in by_record.items()}


def _exactly_once(records: list[StreamRecord], out: BatchOutcome) -> list[str]:
    subs: dict[str, list[int | None]] = defaultdict(list)
    for item in [*out.enriched, *out.quarantined]:
        subs[item.sequence_number].append(item.sub_sequence_number)
    problems = []
    for r in records:
        got = sorted(subs.pop(r.sequence_number, []), key=lambda s: -1 if s is None else s)
        want = _sub_records(r.data)
        if got != ([None] if want is None else list(range(want))):
            problems.append(
                f"record {r.sequence_number}: outputs {got}, not exactly once ({want} sub-records)"
            )
    if subs:
        problems.append(f"outputs for records not in the batch: {sorted(subs)}")
    return problems


def _sub_records(data: bytes) -> int | None:
    """How many outputs a record owes: None for one whole record (not aggregated, or quarantined whole as
    it cannot be de-aggregated), else its sub-records' count, by the de-aggregator alone."""
    if not kpl.is_aggregated(data):
        return None
    try:
        return len(kpl.deaggregate(data)) or None
    except InvalidRecordError:
        return None


def _bad_entry(q: QuarantineEntry, records: list[StreamRecord]) -> str:
    if q.reason not in KNOWN_REASONS:
        return f"unknown reason {q.reason!r}: {q.detail}"
    if not isinstance(q.detail, str) or not q.detail:
        return f"{q.reason}: empty detail"
    if q.sub_sequence_number is None:
        record = next(r for r in records if r.sequence_number == q.sequence_number)
        if q.payload != record.data:
            return f"{q.reason}: the quarantined payload is not the record's bytes"
    return ""


def float32(x: float | None) -> float | None:
    return None if x is None else struct.unpack("<f", struct.pack("<f", x))[0]


def _as_expected(record: StreamRecord, wire: Wire, out: BatchOutcome) -> list[str]:
    assert wire.expected is not None
    mine = sorted(
        (e for e in out.enriched if e.sequence_number == record.sequence_number),
        key=lambda e: -1 if e.sub_sequence_number is None else e.sub_sequence_number,
    )
    if len(mine) != len(wire.expected):
        reasons = [q.reason for q in out.quarantined if q.sequence_number == record.sequence_number]
        return [f"{wire.label}: {len(mine)} of {len(wire.expected)} enriched (quarantined: {reasons})"]
    problems = []
    for e, want in zip(mine, wire.expected, strict=True):
        r = e.reading
        got = (
            r.device_id,
            r.sensor_type,
            r.value,
            r.unit,
            r.timestamp_ms,
            r.seq,
            r.battery_pct,
            r.firmware,
            r.firmware_generation,
            r.battery_mv,
        )
        expected = tuple(
            float32(want[k]) if k == "battery_pct" else want[k]
            for k in (
                "device_id",
                "sensor_type",
                "value",
                "unit",
                "timestamp",
                "seq",
                "battery_pct",
                "firmware",
                "firmware_generation",
                "battery_mv",
            )
        )
        if got != expected:
            problems.append(f"{wire.label}: enriched {got}, written {expected}")
        if (e.value, e.unit) != normalise(want["sensor_type"], want["value"], want["unit"]):
            problems.append(f"{wire.label}: canonical {(e.value, e.unit)}")
        if e.device.device_id != want["device_id"] or e.ingest_time_ms != record.arrival_time_ms:
            problems.append(f"{wire.label}: enriched with device {e.device.device_id}")
    return problems
