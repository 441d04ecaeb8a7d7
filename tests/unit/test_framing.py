"""Hand-built test vectors for each framing, byte by byte after the documented layouts (core.framing)."""

from __future__ import annotations

import uuid
import zlib

import pytest

from sensorflow.core import schemas
from sensorflow.core.decode import MAX_RECORD_BYTES, ReadingDecoder, encode_reading
from sensorflow.core.errors import InvalidRecordError, TransientError
from sensorflow.core.framing import (
    AUTO,
    MAX_DECOMPRESSED_BYTES,
    inflate,
    parse_framings,
    unframe,
)
from tests.factories import reading
from tests.fakes import FakeWriterSchemas

V1 = schemas.history()[0].schema
V2 = schemas.history()[1].schema
VERSION_1 = uuid.UUID("11111111-2222-3333-4444-555555555555")
VERSION_2 = uuid.UUID("aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee")
UNKNOWN = uuid.UUID("00000000-0000-0000-0000-00000000dead")
BODY = encode_reading(reading(seq=7, battery_mv=3300, firmware_generation=2))  # a v2 body
BODY_V1 = encode_reading(reading(seq=7), schemas.version(1))


def glue(version: uuid.UUID = VERSION_2, body: bytes = BODY, compression: int = 0x00) -> bytes:
    # byte 0: header version 3; byte 1: compression; bytes 2..17: the schema version UUID; then the body
    return bytes([0x03, compression]) + version.bytes + body


def confluent(schema_id: int = 2, body: bytes = BODY) -> bytes:
    # byte 0: magic 0; bytes 1..4: the schema id, big-endian; then the body
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def decoder(**kw) -> ReadingDecoder:
    writers = kw.pop(
        "writers",
        FakeWriterSchemas(glue={VERSION_1: V1, VERSION_2: V2}, confluent={1: V1, 2: V2}),
    )
    return ReadingDecoder(writer_schemas=writers, **kw)


def reason(data: bytes, dec: ReadingDecoder | None = None) -> str:
    with pytest.raises(InvalidRecordError) as err:
        (dec or decoder()).decode(data)
    return err.value.reason


# --- valid records ---------------------------------------------------------------------------------------


def test_the_glue_header_is_exactly_eighteen_bytes_before_the_body():
    data = glue()
    assert data[:2] == b"\x03\x00" and data[2:18] == VERSION_2.bytes and data[18:] == BODY
    framed = unframe(data)
    assert (framed.framing, framed.glue_version, framed.body) == ("glue", VERSION_2, BODY)


@pytest.mark.parametrize(
    ("data", "framing"),
    [
        (glue(), "glue"),
        (glue(compression=0x05, body=zlib.compress(BODY)), "glue"),
        (confluent(), "confluent"),
        (BODY, "raw"),
    ],
    ids=["glue", "glue-zlib", "confluent", "raw"],
)
def test_every_framing_decodes_to_the_same_reading(data, framing):
    assert unframe(data).framing == framing
    got = decoder().decode(data)
    assert (got.device_id, got.seq, got.battery_mv, got.firmware_generation) == ("dev-00001", 7, 3300, 2)


def test_the_confluent_id_is_big_endian():
    data = confluent(schema_id=0x01020304)
    assert data[:5] == b"\x00\x01\x02\x03\x04"
    assert unframe(data).confluent_id == 16_909_060


def test_the_writer_schema_comes_from_the_record_and_is_looked_up_by_its_id():
    writers = FakeWriterSchemas(glue={VERSION_1: V1}, confluent={1: V1})
    dec = decoder(writers=writers)
    dec.decode(glue(VERSION_1, BODY_V1))
    dec.decode(confluent(1, BODY_V1))
    assert writers.lookups == [("glue", VERSION_1), ("confluent", 1)]


# --- violations: each its own reason ----------------------------------------------------------------------


def test_an_unknown_compression_byte_is_glue_bad_compression():
    assert reason(glue(compression=0x01)) == "glue_bad_compression"
    assert reason(glue(compression=0x06)) == "glue_bad_compression"


@pytest.mark.parametrize("length", [1, 2, 10, 17])
def test_a_truncated_glue_header_is_glue_truncated(length):
    assert reason(glue()[:length]) == "glue_truncated"


@pytest.mark.parametrize("length", [1, 2, 4])
def test_a_truncated_confluent_header_is_confluent_truncated(length):
    assert reason(confluent()[:length]) == "confluent_truncated"


def test_an_unknown_glue_version_id_is_glue_unknown_schema():
    assert reason(glue(UNKNOWN)) == "glue_unknown_schema"


def test_an_unknown_confluent_id_is_confluent_unknown_schema():
    assert reason(confluent(99)) == "confluent_unknown_schema"


def test_a_stage_without_a_registry_quarantines_framed_records_as_unknown_schemas():
    dec = ReadingDecoder()
    assert reason(glue(), dec) == "glue_unknown_schema"
    assert reason(confluent(), dec) == "confluent_unknown_schema"


def test_a_schema_lookup_outage_is_transient_not_a_quarantine():
    writers = FakeWriterSchemas(glue={VERSION_2: V2}, failing={VERSION_2, 2})
    with pytest.raises(TransientError):
        decoder(writers=writers).decode(glue())
    with pytest.raises(TransientError):
        decoder(writers=writers).decode(confluent())


def test_a_wrong_version_byte_is_glue_bad_version_on_a_glue_only_stage():
    dec = decoder(framings=parse_framings("glue"))
    assert reason(b"\x02" + glue()[1:], dec) == "glue_bad_version"
    assert reason(BODY, dec) == "glue_bad_version"


def test_a_wrong_magic_byte_is_confluent_bad_magic_on_a_confluent_only_stage():
    assert (
        reason(b"\x01" + confluent()[1:], decoder(framings=parse_framings("confluent")))
        == "confluent_bad_magic"
    )


def test_a_byte_no_accepted_framing_explains_is_unknown_framing():
    dec = decoder(framings=parse_framings("glue,confluent"))
    assert reason(BODY, dec) == "unknown_framing"
    assert reason(glue(), decoder(framings=parse_framings("raw,confluent"))) == "decode_error"


def test_in_auto_an_odd_first_byte_is_raw_and_fails_as_a_negative_length():
    assert reason(b"\x07" + BODY[1:]) == "decode_error"


def test_a_zip_bomb_is_decompressed_too_large_and_stops_at_the_cap():
    bomb = zlib.compress(b"\x00" * (16 * 1024 * 1024), 9)  # 16 MiB of zeros in ~16 KB
    assert len(bomb) < MAX_DECOMPRESSED_BYTES
    with pytest.raises(InvalidRecordError) as err:
        inflate(bomb, MAX_DECOMPRESSED_BYTES)
    assert err.value.reason == "decompressed_too_large"
    # the decoder caps a body at its record cap: 1 KiB + 1 byte inflated is refused
    small_bomb = zlib.compress(b"\x02" * (MAX_RECORD_BYTES + 1))
    assert reason(glue(compression=0x05, body=small_bomb)) == "decompressed_too_large"


def test_a_body_at_exactly_the_cap_inflates():
    assert inflate(zlib.compress(b"x" * 100), 100) == b"x" * 100


@pytest.mark.parametrize(
    "body",
    [b"not zlib at all", zlib.compress(BODY)[:-3], zlib.compress(BODY) + b"\x00\x01"],
    ids=["garbage", "truncated", "trailing"],
)
def test_a_broken_zlib_body_is_glue_bad_zlib(body):
    assert reason(glue(compression=0x05, body=body)) == "glue_bad_zlib"


def test_a_registered_schema_the_reader_cannot_read_is_schema_incompatible():
    other = {"type": "record", "name": "Other", "fields": [{"name": "x", "type": "long"}]}
    writers = FakeWriterSchemas(glue={VERSION_1: other})
    with pytest.raises(InvalidRecordError) as err:
        decoder(writers=writers).decode(glue(VERSION_1, b"\x02"))
    assert err.value.reason == "schema_incompatible"
    assert "Other is not the reader's sensorflow.SensorReading" in err.value.detail


def test_trailing_bytes_after_a_framed_body_are_refused():
    assert reason(glue(body=BODY + b"\x00")) == "trailing_bytes"
    assert reason(confluent(body=BODY + b"\x00")) == "trailing_bytes"


def test_framings_setting():
    assert parse_framings("auto") == AUTO
    assert parse_framings(" glue , kpl ") == {"glue", "kpl"}
    with pytest.raises(ValueError, match="protobuf"):
        parse_framings("glue,protobuf")
