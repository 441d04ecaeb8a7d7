from __future__ import annotations

import io
import math
import random

import pytest
from fastavro import schemaless_writer

from sensorflow.core.decode import MAX_RECORD_BYTES, ReadingDecoder, encode_reading
from sensorflow.core.errors import InvalidRecordError
from tests.factories import reading

DECODER = ReadingDecoder()


def test_round_trip_keeps_every_field():
    # GIVEN a reading with every optional field set
    raw = reading(value=71.6, unit="F", seq=42, battery_pct=50.0, firmware="2.0.1")
    # WHEN it is encoded and decoded
    got = DECODER.decode(encode_reading(raw))
    # THEN nothing is lost and the timestamp comes back as epoch millis
    assert (got.device_id, got.sensor_type, got.value, got.unit, got.seq) == (
        "dev-00001",
        "temperature",
        71.6,
        "F",
        42,
    )
    assert got.timestamp_ms == raw["timestamp"]
    assert got.battery_pct == 50.0
    assert got.firmware == "2.0.1"


def test_optional_fields_default_to_none():
    raw = reading()
    del raw["battery_pct"], raw["firmware"]
    got = DECODER.decode(encode_reading(raw))
    assert got.battery_pct is None and got.firmware is None


@pytest.mark.parametrize("cut", [1, 5, 12, -1])
def test_truncated_payload_is_a_decode_error(cut):
    data = encode_reading(reading())
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(data[:cut])
    assert err.value.reason == "decode_error"


def test_trailing_bytes_are_rejected():
    data = encode_reading(reading()) + b"\x00"
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(data)
    assert err.value.reason == "trailing_bytes"
    assert "1 left" in err.value.detail


def test_oversized_payload_is_rejected_before_decoding():
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(b"\x02" * (MAX_RECORD_BYTES + 1))
    assert err.value.reason == "too_large"


def test_empty_payload_is_rejected():
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(b"")
    assert err.value.reason == "decode_error"


def test_bad_utf8_in_device_id_is_a_decode_error():
    # length 2 (zigzag 4), then an invalid UTF-8 pair
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(b"\x04\xff\xfe" + b"\x00" * 30)
    assert err.value.reason == "decode_error"
    assert "UnicodeDecodeError" in err.value.detail


def test_enum_index_out_of_range_is_a_decode_error():
    data = bytearray(encode_reading(reading(device_id="abc")))
    data[4] = 0x7E  # sensor_type index 63: no such symbol
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(bytes(data))
    assert err.value.reason == "decode_error"


def test_wrong_writer_schema_is_caught_by_decode_or_trailing_check():
    other = {
        "type": "record",
        "name": "Other",
        "fields": [{"name": "x", "type": "long"}, {"name": "y", "type": "string"}],
    }
    buf = io.BytesIO()
    schemaless_writer(buf, other, {"x": 7, "y": "hello world, this is not a reading"})
    with pytest.raises(InvalidRecordError) as err:
        DECODER.decode(buf.getvalue())
    assert err.value.reason in {"decode_error", "trailing_bytes"}


def test_random_garbage_never_escapes_as_an_unexpected_exception():
    rng = random.Random(7)
    outcomes = set()
    for _ in range(5000):
        data = rng.randbytes(rng.randint(1, 120))
        try:
            got = DECODER.decode(data)
            outcomes.add("decoded")
            assert isinstance(got.value, float) or math.isnan(got.value)
        except InvalidRecordError as exc:
            outcomes.add(exc.reason)
    assert "decode_error" in outcomes


# --- writer schemas and resolution (issue 13) -------------------------------------------------------------


def test_an_added_fields_writer_reads_plainly_and_gets_what_resolution_would_give():
    # GIVEN v1 bytes, read by a decoder whose raw writer is v1
    import fastavro

    from sensorflow.core import schemas

    data = encode_reading(reading(seq=9), schemas.version(1))
    got = ReadingDecoder(raw_writer=schemas.version(1)).decode(data)
    # THEN the result is fastavro's own resolution into the current schema, field for field
    resolved = fastavro.schemaless_reader(io.BytesIO(data), schemas.version(1), schemas.load(schemas.READING))
    assert (got.seq, got.firmware_generation, got.battery_mv) == (
        resolved["seq"],
        resolved["firmware_generation"],
        resolved["battery_mv"],
    )


def test_each_writer_schema_is_planned_once(monkeypatch):
    from sensorflow.core import compatibility, schemas

    calls = []
    real = compatibility.problems
    monkeypatch.setattr(compatibility, "problems", lambda r, w: calls.append(1) or real(r, w))
    dec = ReadingDecoder(raw_writer=schemas.version(1))
    data = encode_reading(reading(), schemas.version(1))
    for _ in range(5):
        dec.decode(data)
    assert len(calls) == 1


def test_the_current_schema_writes_the_v2_fields():
    got = DECODER.decode(encode_reading(reading(battery_mv=3600, firmware_generation=2)))
    assert (got.battery_mv, got.firmware_generation) == (3600, 2)
    assert DECODER.decode(encode_reading(reading())).firmware_generation == 1  # the default, when not given
