"""Hostile input through the ingest record handler (issue 14): hypothesis properties over in-memory ports.

Every input goes through ``IngestService.process`` (``tests.fuzz.harness``) and must satisfy its invariants:
no exception escapes, nothing is reported failed, every record is enriched or quarantined exactly once
(outputs counted per record and KPL sub-record), with a known reason and a non-empty detail; a record
valid by construction is enriched with exactly the values it was written with. The bounded fuzz
(``make fuzz``, ``tests/fuzz/run.py``) drives the same harness with 100,000 seeded mutations.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sensorflow.core import kpl
from sensorflow.core.checks import MAX_FUTURE_MS, MAX_PAST_MS
from tests.factories import NOW_MS
from tests.fuzz import inputs as fi
from tests.fuzz.harness import KNOWN_REASONS, Harness

HARNESS = Harness()  # the decoder's per-writer plans are kept across examples, as in a warm container
# Sized for make test (~10 s for the module on a busy 2-core runner); make fuzz is the long run.
PROPERTY = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
AGGREGATES = settings(PROPERTY, max_examples=50)  # each example draws up to 4 readings and their mutations


def handled_cleanly(wires: list[fi.Wire]) -> dict[str, list[str]]:
    """Handle one batch and assert the invariants; the outputs by sequence number."""
    handled = HARNESS.handle(wires)
    assert HARNESS.violations(handled, wires) == []
    return handled.outputs


# --- valid readings, generated from the schemas -------------------------------------------------------------

# Fields whose values the checks constrain (core.checks, core.units); any other field of a kept schema is
# generated from its Avro type, so a field a new version adds is covered without touching this test.
DOMAIN: dict[str, st.SearchStrategy[Any]] = {
    "device_id": st.sampled_from(fi.DEVICES),
    "timestamp": st.integers(NOW_MS - MAX_PAST_MS + 1, NOW_MS + MAX_FUTURE_MS - 1),
    "seq": st.integers(0, 2**63 - 1),
    "battery_pct": st.none() | st.floats(0.0, 100.0, width=32),
    "firmware_generation": st.integers(1, 2**31 - 1),
    "battery_mv": st.none() | st.integers(0, 60_000),
}
COUPLED = {"sensor_type", "unit", "value"}  # the value must be plausible once converted from its unit


def from_avro(t: Any) -> st.SearchStrategy[Any]:
    """Any value of an Avro type (the kinds the reading schemas use)."""
    if isinstance(t, list):
        return st.one_of([from_avro(b) for b in t])
    kind = t["type"] if isinstance(t, dict) else t
    plain = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-(2**31), 2**31 - 1),
        "long": st.integers(-(2**63), 2**63 - 1),
        "float": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "string": st.text(max_size=20),
        "bytes": st.binary(max_size=20),
    }
    if kind in plain:
        return plain[kind]
    if kind == "enum":
        return st.sampled_from(t["symbols"])
    raise NotImplementedError(f"no strategy for {t!r}")


@st.composite
def sensor_value(draw: st.DrawFn) -> dict[str, Any]:
    sensor = draw(st.sampled_from(sorted(fi.VALUE_RANGES)))
    unit, low, high = draw(st.sampled_from(fi.VALUE_RANGES[sensor]))
    return {"sensor_type": sensor, "unit": unit, "value": draw(st.floats(low, high))}


def readings(version: int) -> st.SearchStrategy[dict[str, Any]]:
    """Every field of schema ``version``: domain-constrained where the checks look, else any Avro value."""
    fields = {
        f["name"]: DOMAIN.get(f["name"], from_avro(f["type"]))
        for f in fi.WRITERS[version]["fields"]
        if f["name"] not in COUPLED
    }
    assert {f["name"] for f in fi.WRITERS[version]["fields"]} >= COUPLED
    return st.tuples(st.fixed_dictionaries(fields), sensor_value()).map(lambda p: {**p[0], **p[1]})


VERSIONS = sorted(fi.WRITERS)
parts = st.sampled_from(VERSIONS).flatmap(
    lambda v: st.tuples(readings(v), st.sampled_from(fi.SINGLE_FRAMINGS), st.just(v))
)


@st.composite
def valid_wires(draw: st.DrawFn, framing: str | None = None) -> fi.Wire:
    framing = framing or draw(st.sampled_from(fi.FRAMINGS))
    if framing == "kpl":
        return fi.aggregated(draw(st.lists(parts, min_size=1, max_size=4)))
    version = draw(st.sampled_from(VERSIONS))
    return fi.single(draw(readings(version)), framing, version)


@PROPERTY
@given(st.sampled_from(fi.FRAMINGS).flatmap(valid_wires))
def test_every_valid_reading_is_enriched_with_the_values_it_was_written_with_in_every_framing(wire):
    outputs = handled_cleanly([wire])
    [outs] = outputs.values()
    assert wire.expected is not None and outs == ["enriched"] * len(wire.expected)


# --- arbitrary bytes ----------------------------------------------------------------------------------------

PREFIXES = st.sampled_from([b"", b"\x00", b"\x03\x00", b"\x03\x05", kpl.MAGIC])


@PROPERTY
@given(PREFIXES, st.binary(max_size=400), st.sampled_from([*fi.DEVICES, fi.UNREGISTERED]))
@example(b"", b"", fi.DEVICES[0])  # the empty record
@example(b"\x03\x00", b"\x00" * 16 + b"\x02", fi.DEVICES[0])  # a Glue header, then one byte
@example(kpl.MAGIC, b"", fi.DEVICES[0])
def test_arbitrary_bytes_are_enriched_or_quarantined_exactly_once(prefix, data, key):
    outputs = handled_cleanly([fi.Wire(prefix + data, key)])
    assert all(o in KNOWN_REASONS | {"enriched"} for outs in outputs.values() for o in outs)


# --- mutations of valid payloads, in every framing ---------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    """1 to 4 of: truncation, a bit flip, inserted bytes, deleted bytes (positions shrink towards 0), or one
    of the fuzz's mutations (an interesting byte, a maximal varint, a repeated range)."""
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "fuzz"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            data = data[:at]
        elif kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (1 << draw(st.integers(0, 7)))]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 8)) :]
        else:
            name = draw(st.sampled_from(sorted(fi.MUTATIONS)))
            data = fi.MUTATIONS[name](data, random.Random(draw(st.integers(0, 2**32))))
    return data


@PROPERTY
@given(st.sampled_from(fi.FRAMINGS).flatmap(valid_wires), st.data())
def test_a_mutated_valid_payload_is_enriched_or_quarantined_exactly_once_in_every_framing(wire, data):
    bad = data.draw(mutated(wire.data))
    handled_cleanly([fi.Wire(bad, wire.partition_key, label=wire.label)])


@AGGREGATES
@given(st.lists(parts, min_size=2, max_size=4), st.data())
def test_a_mutated_sub_record_is_quarantined_alone_and_its_siblings_are_enriched(subs, data):
    # GIVEN an aggregate (right digest) whose sub-record k is mutated, the others valid
    wires = [fi.single(*p) for p in subs]
    k = data.draw(st.integers(0, len(wires) - 1))
    records = [
        (w.partition_key, data.draw(mutated(w.data)) if i == k else w.data) for i, w in enumerate(wires)
    ]
    # WHEN it is handled
    [outs] = handled_cleanly([fi.Wire(kpl.aggregate(records), wires[0].partition_key, label="kpl")]).values()
    # THEN one output per sub-record, and every sub-record but k enriched (k may still be a valid reading)
    assert len(outs) == len(wires)
    assert [o for i, o in enumerate(outs) if i != k] == ["enriched"] * (len(wires) - 1)


@AGGREGATES
@given(st.lists(parts, min_size=1, max_size=4), st.data())
def test_a_mutated_aggregate_that_still_passes_its_digest_is_handled_exactly_once(subs, data):
    wire = fi.aggregated(subs)
    message = data.draw(mutated(fi.kpl_message(wire.data)))
    handled_cleanly([fi.Wire(fi.kpl_with_digest(message), wire.partition_key, label="kpl")])


@AGGREGATES
@given(
    st.lists(
        st.one_of(valid_wires(), st.builds(fi.Wire, st.binary(max_size=60), st.just("dev-00001"))),
        min_size=1,
        max_size=6,
    )
)
def test_a_batch_of_valid_and_hostile_records_accounts_for_each_once(wires):
    outputs = handled_cleanly(wires)
    assert len(outputs) == len(wires)  # every record has its outputs; none has another's
