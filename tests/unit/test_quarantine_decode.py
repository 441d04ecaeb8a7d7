"""``core.partial_decode``: a quarantined payload decoded as far as it goes, and its hex dump."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.core import kpl, schemas
from sensorflow.core.decode import encode_reading
from sensorflow.core.partial_decode import hex_dump, partial_decode, read_fields
from sensorflow.core.quarantined import device_of, from_line, leading_device_id
from tests.factories import reading

CANDIDATES = tuple((f"v{v.version}", v.schema) for v in reversed(schemas.history()))
V1 = schemas.history()[0].schema
VALID = encode_reading(reading())
NAMES = [f["name"] for f in schemas.history()[-1].schema["fields"]]


def glue(body: bytes, compression: int = 0) -> bytes:
    return bytes([3, compression]) + bytes(range(16)) + body


def test_a_valid_reading_decodes_completely_with_the_newest_version_that_reads_it_all():
    d = partial_decode(VALID, CANDIDATES)
    assert (d.framing, d.writer, d.error, d.complete) == ("raw", "v2 (guessed)", None, True)
    assert [f.name for f in d.fields] == NAMES
    assert {f.name: f.value for f in d.fields}["timestamp"] == "2026-09-21T14:13:19Z"
    assert d.fields[0].start == 0 and d.fields[-1].end == len(VALID)


def test_a_v1_body_is_guessed_as_v1_when_v2_leaves_nothing_to_read():
    v1 = encode_reading({k: v for k, v in reading().items()}, schemas.version(1))
    d = partial_decode(v1, CANDIDATES)
    assert (d.writer, d.error) == ("v1 (guessed)", None)


def test_a_truncated_reading_shows_the_fields_before_the_cut_and_where_it_stopped():
    d = partial_decode(VALID[:15], CANDIDATES)
    assert [f.name for f in d.fields] == ["device_id", "sensor_type"]
    assert d.error == "field 'value' at byte 11: EOFError: cannot read double"
    assert d.error_offset == 11 and not d.complete


def test_trailing_bytes_are_reported_after_the_last_field():
    _, error, offset = read_fields(VALID + b"\x00\x00", schemas.history()[-1].schema)
    assert (error, offset) == ("trailing_bytes: 2 bytes left after the last field", len(VALID))


def test_glue_header_fields_and_a_named_writer():
    d = partial_decode(glue(VALID), CANDIDATES, named=lambda framed: ("registry v2", CANDIDATES[0][1]))
    assert d.framing == "glue" and d.writer == "registry v2" and d.complete
    assert d.header == {
        "header_version": "0x03",
        "compression": "none",
        "schema_version_id": "00010203-0405-0607-0809-0a0b0c0d0e0f",
    }


def test_glue_zlib_bodies_are_inflated_and_a_bad_compression_byte_is_the_error():
    assert partial_decode(glue(zlib.compress(VALID), 5), CANDIDATES).complete
    bad = partial_decode(glue(VALID, 7), CANDIDATES)
    assert bad.header["compression"] == "0x07 (unknown)"
    assert bad.error is not None and bad.error.startswith("glue_bad_compression: compression byte 0x07")
    assert bad.fields == ()


def test_confluent_header_and_truncated_headers():
    d = partial_decode(b"\x00\x00\x00\x00\x02" + VALID, CANDIDATES)
    assert d.header == {"magic": "0x00", "schema_id": 2} and d.complete
    short = partial_decode(b"\x00\x01", CANDIDATES)
    assert short.header == {"magic": "0x00"} and short.error == (
        "confluent_truncated: 2 bytes; the Confluent header alone is 5"
    )


def test_kpl_records_are_decoded_per_sub_record():
    agg = kpl.aggregate([("dev-00001", VALID), ("dev-00002", b"\x06abc\x7e")])
    d = partial_decode(agg, CANDIDATES)
    assert d.framing == "kpl" and d.header["sub_records"] == 2
    assert [(i, k, s.complete) for i, k, s in d.sub_records] == [
        (0, "dev-00001", True),
        (1, "dev-00002", False),
    ]
    assert not d.complete
    broken = partial_decode(agg[:-1], CANDIDATES)
    assert broken.error is not None and broken.error.startswith("kpl_")


def test_empty_payload():
    d = partial_decode(b"", CANDIDATES)
    assert (d.framing, d.error) == ("unknown", "empty payload")


def test_hex_dump_lines_and_limit():
    assert hex_dump(b"\x06abc\x7e") == ["00000000  06 61 62 63 7e" + " " * 33 + "  |.abc~|"]
    lines = hex_dump(bytes(range(40)), limit=20)
    assert lines[0].startswith("00000000  00 01 02") and lines[1].startswith("00000010  10 11 12 13  ")
    assert lines[-1] == "... 20 more bytes" and len(lines) == 3
    assert hex_dump(b"") == []


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_decode_partially_without_raising(data: bytes):
    d = partial_decode(data, CANDIDATES)
    assert d.size == len(data)
    assert d.complete or d.error
    assert all(f.start <= f.end for f in d.fields)
    assert len("".join(hex_dump(data))) >= 0


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=len(VALID) - 1))
def test_a_truncation_keeps_the_fields_that_fit(cut: int):
    full = read_fields(VALID, CANDIDATES[0][1])[0]
    got = read_fields(VALID[:cut], CANDIDATES[0][1])
    assert got[1] is not None
    assert list(got[0]) == [f for f in full if f.end <= cut][: len(got[0])]
    assert all(f.end <= cut for f in got[0])


def test_the_device_comes_from_the_partition_key_else_the_payload():
    assert device_of("dev-00001", b"") == "dev-00001"
    assert device_of("", VALID) == "dev-00001"
    assert device_of("", glue(VALID)) == "dev-00001"
    assert device_of("", b"\x01") is None
    assert leading_device_id(b"\x06ab") is None  # length past the end
    assert leading_device_id(b"\x06\xff\xfe\xfd") is None  # not UTF-8


def test_a_line_without_a_payload_is_not_a_record():
    assert from_line("k", 0, {"reason": "transition_too_large", "document": {}}) is None
    line = {
        "reason": "decode_error",
        "detail": "x",
        "payload": "BmFiY34=",
        "partition_key": "dev-00001",
        "sequence_number": "5",
        "shard_id": "shardId-000000000000",
        "arrival_time": "2026-11-18T11:06:40.001+00:00",
    }
    record = from_line("k", 3, line)
    assert record is not None
    assert (record.record_id, record.payload, record.arrival_time_ms, record.day) == (
        "k#3",
        b"\x06abc\x7e",
        1_795_000_000_001,
        "2026-11-18",
    )
    assert from_line("k", 0, {**line, "payload": "not base64!"}) is None


def test_a_writer_schema_that_is_a_decode_bomb_is_not_read() -> None:
    # GIVEN a record whose named writer schema holds the array<null> bomb (ingest quarantines it as
    # schema_unsafe): 10 bytes claiming 2**62 null items
    from sensorflow.core.partial_decode import read_fields

    bomb = {
        "type": "record",
        "name": "Bomb",
        "fields": [{"name": "items", "type": {"type": "array", "items": "null"}}],
    }
    body = bytes([0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x00])
    # WHEN the CLI decodes it as far as it can
    fields, error, offset = read_fields(body, bomb)
    # THEN it refuses before fastavro runs, and says why
    assert fields == () and offset == 0
    assert error is not None and error.startswith("schema_unsafe")
