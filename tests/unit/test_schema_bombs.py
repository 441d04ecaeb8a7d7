"""Schema regression tests (issue 14): the ``array<null>`` bomb, huge length claims and deep nesting.

A Glue-framed record names its writer schema, and anyone who may ``glue:RegisterSchemaVersion`` in the stage's
registry chooses that schema. BACKWARD compatibility lets a version add fields, which the reader skips, and
fastavro skips by reading. Measured before ``core.schema_bounds`` (fastavro 1.13.1):

- an added ``array<null>`` field: a record of 64 bytes claiming 10**7 null items took 0.7 s (70 ns per item,
  no allocation: skipped items are not kept); 10 bytes of varint claim 2**63 of them;
- an added record that contains itself (``Node {next: Node}``): the first record that names it killed the
  process (SIGSEGV in fastavro's C reader, which recurses with no depth check): in Lambda a crashed
  container, the batch retried, the shard stalled;
- a recursive type with a base case (a linked list through a union): SIGSEGV past ~15,000 levels.

Every bound is asserted structurally: the writer schema is refused before a byte of the body is read (the
reason does not depend on the claimed count), or the memory traced stays below what the claim would need.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.core import schema_bounds, schemas
from sensorflow.core.decode import ReadingDecoder, encode_reading
from sensorflow.core.errors import InvalidRecordError
from tests.factories import reading
from tests.fakes import FakeWriterSchemas

ROOT = Path(__file__).resolve().parents[2]  # the subprocess imports tests.*
V2 = schemas.history()[-1].schema
VERSION = uuid.UUID("0badc0de-0000-4000-8000-000000000014")
BODY = encode_reading(reading(seq=3))  # a valid current (v2) body
EMPTY_RECORD = {"type": "record", "name": "Empty", "fields": []}


def zigzag(n: int) -> bytes:
    """An Avro long: zig-zag, then a base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if not n:
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def writer_with(field_type: Any, default: Any = None, name: str = "junk") -> dict[str, Any]:
    """The current reading schema plus one field (what a hostile v3 registers: BACKWARD compatible)."""
    schema = copy.deepcopy(V2)
    field: dict[str, Any] = {"name": name, "type": field_type}
    if default is not None:
        field["default"] = default
    schema["fields"].append(field)
    return schema


def glue_record(body: bytes) -> bytes:
    return bytes([0x03, 0x00]) + VERSION.bytes + body


def decode_with(writer: dict[str, Any], tail: bytes) -> InvalidRecordError | None:
    decoder = ReadingDecoder(writer_schemas=FakeWriterSchemas(glue={VERSION: writer}))
    try:
        decoder.decode(glue_record(BODY + tail))
    except InvalidRecordError as exc:
        return exc
    return None


# --- array<null>: items that occupy no bytes ----------------------------------------------------------------

ZERO_BYTE_ITEMS = {
    "null": "null",
    "empty record": EMPTY_RECORD,
    "fixed of size 0": {"type": "fixed", "name": "Nothing", "size": 0},
    "record of nulls": {
        "type": "record",
        "name": "Nulls",
        "fields": [{"name": "a", "type": "null"}, {"name": "b", "type": "null"}],
    },
}


@pytest.mark.parametrize("items", ZERO_BYTE_ITEMS.values(), ids=ZERO_BYTE_ITEMS.keys())
def test_the_array_null_bomb_is_refused_before_the_body_is_read(items):
    # GIVEN a registered writer that adds an array whose items encode in zero bytes, and a 60-byte record
    # whose block claims 100,000 of them (before the fix: decoded and enriched, after ~14 ms of looping)
    writer = writer_with({"type": "array", "items": items}, default=[])
    for count in (100_000, 2**62):  # the reason cannot depend on the count: nothing is read
        # WHEN it is decoded
        err = decode_with(writer, zigzag(count) + b"\x00")
        # THEN it is quarantined for its schema, naming the field
        assert err is not None and err.reason == "schema_unsafe", err
        assert "$.junk[]" in err.detail and "zero bytes" in err.detail


@pytest.mark.parametrize(
    "field_type",
    [
        ["null", {"type": "array", "items": "null"}],
        {"type": "map", "values": {"type": "array", "items": "null"}},
        {
            "type": "record",
            "name": "Outer",
            "fields": [{"name": "x", "type": {"type": "array", "items": "null"}}],
        },
        {"type": "array", "items": {"type": "array", "items": "null"}},
    ],
    ids=["in a union", "in a map", "in a record", "in an array"],
)
def test_a_zero_byte_item_array_is_found_wherever_it_is_nested(field_type):
    assert any("zero bytes" in p for p in schema_bounds.problems(writer_with(field_type)))


@pytest.mark.parametrize(
    "field_type",
    [
        {"type": "array", "items": "long"},
        {"type": "array", "items": ["null", "long"]},  # a union index is a byte
        {"type": "array", "items": {"type": "enum", "name": "One", "symbols": ["a"]}},  # an index too
        {"type": "map", "values": "null"},  # every entry has a key, at least its length byte
        {"type": "array", "items": {"type": "array", "items": "long"}},  # an empty array is its 0 byte
    ],
    ids=["long", "union", "enum", "map<null>", "array<array>"],
)
def test_items_of_a_byte_or_more_are_accepted_and_a_count_beyond_the_bytes_ends_at_eof(field_type):
    # GIVEN a writer whose added array or map has items of at least one byte: any count is bounded by the
    # bytes left (1 KiB at most), so the writer is fine
    writer = writer_with(field_type)
    assert schema_bounds.problems(writer) == []
    # WHEN a record claims 2**62 items with a few bytes
    tracemalloc.start()
    err = decode_with(writer, zigzag(2**62) + b"\x02\x02")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # THEN it ends as a decode error, having allocated nothing like the claim
    assert err is not None and err.reason == "decode_error"
    assert peak < 256 * 1024


# --- huge length claims -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (zigzag(2**62) + b"dev", "device_id (raw)"),
        (glue_record(BODY + zigzag(2**62) + b"xyz"), "an added bytes field (skipped)"),
        (glue_record(BODY + zigzag(2**62) + b"xyz"), "an added string field (skipped)"),
    ],
    ids=["device_id", "bytes", "string"],
)
def test_a_huge_length_claim_is_a_decode_error_without_allocating_it(data, where):
    # GIVEN a length of 2**62 bytes followed by three: a naive reader would allocate the claim
    kind = "string" if "string" in where else "bytes"
    writers = FakeWriterSchemas(glue={VERSION: writer_with(kind)})
    decoder = ReadingDecoder(writer_schemas=writers)
    tracemalloc.start()
    with pytest.raises(InvalidRecordError) as err:
        decoder.decode(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # THEN it is a decode error and memory stays bounded by the record (1 KiB), not by the claim
    assert err.value.reason == "decode_error"
    assert peak < 256 * 1024


def test_a_negative_block_count_with_a_negative_block_size_does_not_rewind():
    # GIVEN a skipped array block of count -1 whose block size (-2) would seek back onto the count
    writer = writer_with({"type": "array", "items": "long"})
    # THEN it ends (EOF), it does not loop
    err = decode_with(writer, zigzag(-1) + zigzag(-2))
    assert err is not None and err.reason == "decode_error"


# --- recursion and deep nesting -----------------------------------------------------------------------------

NODE_WITHOUT_BASE = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": "Node"}]}
LINKED_LIST = {"type": "record", "name": "Link", "fields": [{"name": "next", "type": ["null", "Link"]}]}


@pytest.mark.parametrize(
    ("field_type", "tail"),
    [(NODE_WITHOUT_BASE, b""), (["null", LINKED_LIST], b"\x02" * 900 + b"\x00")],
    ids=["no base case", "linked list"],
)
def test_a_recursive_writer_schema_is_refused(field_type, tail):
    err = decode_with(writer_with(field_type), tail)
    assert err is not None and err.reason == "schema_unsafe", err
    assert "contains itself" in err.detail


def test_a_record_that_contains_itself_no_longer_kills_the_process():
    # GIVEN the record that crashed the interpreter before the fix (SIGSEGV, exit -11), in its own process
    script = textwrap.dedent(
        f"""
        import uuid
        from sensorflow.core.decode import ReadingDecoder
        from sensorflow.core.errors import InvalidRecordError
        from tests.fakes import FakeWriterSchemas
        from tests.unit.test_schema_bombs import NODE_WITHOUT_BASE, BODY, glue_record, writer_with
        decoder = ReadingDecoder(
            writer_schemas=FakeWriterSchemas(glue={{uuid.UUID("{VERSION}"): writer_with(NODE_WITHOUT_BASE)}})
        )
        try:
            decoder.decode(glue_record(BODY))
        except InvalidRecordError as exc:
            print(exc.reason)
        """
    )
    # WHEN it is decoded
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )
    # THEN the process lives and the record is quarantined
    assert (proc.returncode, proc.stdout.strip()) == (0, "schema_unsafe"), proc.stderr[-2000:]


def nested_arrays(depth: int) -> Any:
    schema: Any = "long"
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    return schema


def test_nesting_deeper_than_the_bound_is_refused_and_at_the_bound_accepted():
    # The reading's own fields are at depth 2 (record, then a field's type); the added field adds 1 more.
    at_bound = schema_bounds.MAX_DEPTH - 2
    assert schema_bounds.problems(writer_with(nested_arrays(at_bound))) == []
    err = decode_with(writer_with(nested_arrays(at_bound + 1)), b"\x00")
    assert err is not None and err.reason == "schema_unsafe"
    assert "deeper than" in err.detail


def test_a_named_type_used_many_times_counts_each_use():
    # GIVEN a record used by 20 fields, each of 40 longs: 800 fields to read, from a short definition
    wide = {
        "type": "record",
        "name": "Wide",
        "fields": [{"name": f"f{i}", "type": "long"} for i in range(40)],
    }
    schema = writer_with({"type": "record", "name": "Uses", "fields": [{"name": "w0", "type": wide}]})
    schema["fields"][-1]["type"]["fields"] += [{"name": f"w{i}", "type": "Wide"} for i in range(1, 20)]
    # THEN the size is the expanded one, over the bound
    assert any("nodes" in p for p in schema_bounds.problems(schema))


def test_every_kept_schema_is_within_the_bounds():
    for version in schemas.history():
        assert schema_bounds.problems(version.schema) == [], version.path
    for name in (schemas.READING, schemas.ENRICHED, schemas.TRANSITION):
        assert schema_bounds.problems(schemas.load(name)) == [], name


def test_a_schema_that_is_not_one_is_a_problem_not_an_exception():
    for junk in (42, None, {"type": 7}, {"type": "record"}, {"type": "array"}, "NoSuchType", [[]]):
        assert schema_bounds.problems(junk), junk


# --- any schema: refused for zero-byte arrays exactly when it has them ------------------------------------

PRIMITIVE = st.sampled_from(["null", "boolean", "int", "long", "float", "double", "bytes", "string"])


def avro_types() -> st.SearchStrategy[Any]:
    names = iter(range(10**9))

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.builds(lambda t: {"type": "array", "items": t}, children),
            st.builds(lambda t: {"type": "map", "values": t}, children),
            st.lists(children, min_size=1, max_size=3).map(_distinct_union),
            st.lists(children, max_size=3).map(
                lambda ts: {
                    "type": "record",
                    "name": f"R{next(names)}",
                    "fields": [{"name": f"f{i}", "type": t} for i, t in enumerate(ts)],
                }
            ),
        )

    leaves = st.one_of(
        PRIMITIVE,
        st.integers(0, 2).map(lambda n: {"type": "fixed", "name": f"F{next(names)}", "size": n}),
    )
    return st.recursive(leaves, extend, max_leaves=12)


def _distinct_union(branches: list[Any]) -> list[Any]:
    # Avro unions may not hold two branches of one unnamed type, nor a union: keep the first of each
    seen: set[str] = set()
    out = []
    for b in branches:
        if isinstance(b, list):
            continue
        key = b if isinstance(b, str) else b["type"] if b["type"] in ("array", "map") else b["name"]
        if key not in seen:
            seen.add(key)
            out.append(b)
    return out or ["null"]


def min_bytes(t: Any) -> int:
    """The fewest bytes a value of ``t`` encodes in (the oracle, written independently of the module)."""
    if isinstance(t, list):
        return 1
    if isinstance(t, str):
        return {"null": 0, "boolean": 1, "float": 4, "double": 8}.get(t, 1)
    if t["type"] == "fixed":
        return int(t["size"])
    if t["type"] == "record":
        return sum(min_bytes(f["type"]) for f in t["fields"])
    return 1  # array, map: the closing 0 count


def has_zero_byte_array(t: Any) -> bool:
    if isinstance(t, list):
        return any(has_zero_byte_array(b) for b in t)
    if isinstance(t, str) or t["type"] == "fixed":
        return False
    if t["type"] == "record":
        return any(has_zero_byte_array(f["type"]) for f in t["fields"])
    inner = t["items"] if t["type"] == "array" else t["values"]
    return (t["type"] == "array" and min_bytes(inner) == 0) or has_zero_byte_array(inner)


@settings(max_examples=150, deadline=None)
@given(avro_types())
def test_a_schema_is_refused_for_zero_byte_items_exactly_when_it_has_them(t):
    import fastavro

    schema = {"type": "record", "name": "Top", "fields": [{"name": "x", "type": t}]}
    fastavro.parse_schema(schema)  # a valid schema
    found = schema_bounds.problems(schema)
    zero = [p for p in found if "zero bytes" in p]
    assert bool(zero) == has_zero_byte_array(t), (found, t)
    assert not [p for p in found if "contains itself" in p]  # these schemas are never recursive


class DeepDefinitionGlue:
    """A Glue client (``get_schema_version`` only) whose one version is nested 100,000 deep: 1.6 MB here,
    but json.loads gives up at the interpreter's recursion limit (~1,000 levels, a few KB under Glue's
    170 KB definition limit)."""

    def __init__(self) -> None:
        self.calls = 0

    def get_schema_version(self, SchemaVersionId: str) -> dict[str, Any]:
        self.calls += 1
        return {
            "Status": "AVAILABLE",
            "SchemaArn": "arn:aws:glue:us-east-1:123456789012:schema/sensorflow-test/SensorReading",
            "DataFormat": "AVRO",
            "SchemaDefinition": '{"type": ' * 100_000 + '"long"' + "}" * 100_000,
        }


def test_a_definition_nested_past_the_json_limit_is_an_unknown_schema_remembered_as_such():
    from sensorflow.adapters.glue_schemas import GlueSchemaVersions
    from sensorflow.core.errors import UnknownSchemaError

    # GIVEN a registered version whose definition json.loads cannot parse for depth (RecursionError)
    glue = DeepDefinitionGlue()
    versions = GlueSchemaVersions("sensorflow-test", client=glue)
    # WHEN two records name it
    for _ in range(2):
        with pytest.raises(UnknownSchemaError, match="RecursionError"):
            versions.get(VERSION)
    # THEN it is a permanent unknown schema (glue_unknown_schema), asked for once, not once per record
    assert glue.calls == 1
