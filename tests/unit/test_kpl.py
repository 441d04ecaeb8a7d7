"""KPL de-aggregation (core.kpl): hand-built vectors after aggregation-format.md, and hostile bytes."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensorflow.core import kpl
from sensorflow.core.errors import InvalidRecordError


def framed(message: bytes) -> bytes:
    return kpl.MAGIC + message + hashlib.md5(message).digest()


# AggregatedRecord { partition_key_table: ["dev-a", "dev-b"], explicit_hash_key_table: ["42"],
#   records: [{partition_key_index: 0, data: "\x01\x02"}, {partition_key_index: 1, explicit_hash_key_index: 0,
#   data: "xyz", tags: [{key: "k"}]}] }, field by field: tag byte (field << 3 | wire type), length, bytes.
MESSAGE = (
    b"\x0a\x05dev-a"  # 1: partition_key_table, length-delimited (wire 2)
    b"\x0a\x05dev-b"
    b"\x12\x0242"  # 2: explicit_hash_key_table
    b"\x1a\x06" + b"\x08\x00" + b"\x1a\x02\x01\x02"  # 3: Record {1: 0 (varint), 3: data}
    b"\x1a\x0e" + b"\x08\x01" + b"\x10\x00" + b"\x1a\x03xyz" + b"\x22\x03\x0a\x01k"  # + 2: index 0, 4: Tag
)


def test_a_hand_built_aggregated_record_deaggregates_in_order():
    data = framed(MESSAGE)
    assert data[:4] == b"\xf3\x89\x9a\xc2" and data[-16:] == hashlib.md5(MESSAGE).digest()
    assert kpl.is_aggregated(data)
    assert kpl.deaggregate(data) == [
        kpl.SubRecord(0, "dev-a", None, b"\x01\x02"),
        kpl.SubRecord(1, "dev-b", "42", b"xyz"),
    ]


def test_our_encoder_writes_what_the_decoder_reads():
    records = [("dev-a", b"one"), ("dev-b", b""), ("dev-a", b"three" * 50)]
    got = kpl.deaggregate(kpl.aggregate(records))
    assert [(s.index, s.partition_key, s.data) for s in got] == [
        (i, k, d) for i, (k, d) in enumerate(records)
    ]


def test_a_digest_mismatch_is_kpl_bad_digest():
    data = bytearray(framed(MESSAGE))
    data[-1] ^= 0x01
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(bytes(data))
    assert err.value.reason == "kpl_bad_digest"
    data = bytearray(framed(MESSAGE))
    data[10] ^= 0x01  # a byte of the protobuf: the digest no longer matches either
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(bytes(data))
    assert err.value.reason == "kpl_bad_digest"


@pytest.mark.parametrize("cut", range(1, len(MESSAGE)))
def test_a_protobuf_cut_anywhere_is_kpl_truncated_or_malformed_never_a_crash(cut):
    # the digest is recomputed over the cut protobuf, so only the bounds checks can catch it
    try:
        subs = kpl.deaggregate(framed(MESSAGE[:cut]))
    except InvalidRecordError as exc:
        assert exc.reason in {"kpl_truncated", "kpl_malformed"}
    else:  # a cut on a field boundary is a shorter, valid message
        assert len(subs) <= 2


def test_a_length_past_the_end_is_kpl_truncated():
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(framed(b"\x0a\x05dev-a" + b"\x1a\x7f\x08\x00"))  # a record declaring 127 bytes
    assert err.value.reason == "kpl_truncated"


def test_shorter_than_magic_and_digest_is_kpl_truncated():
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(kpl.MAGIC + b"\x00" * 15)
    assert err.value.reason == "kpl_truncated"


def test_unknown_fields_of_every_wire_type_are_skipped():
    extra = b"\x28\x96\x01" + b"\x31" + b"\x00" * 8 + b"\x3a\x02hi" + b"\x45" + b"\x00" * 4  # 5, 6, 7, 8
    assert [s.data for s in kpl.deaggregate(framed(MESSAGE + extra))] == [b"\x01\x02", b"xyz"]


@pytest.mark.parametrize(
    ("message", "detail"),
    [
        (b"\x0a\x01a" + b"\x1a\x04\x08\x05\x1a\x00", "partition_key_index 5 of 1"),
        (b"\x0a\x01a" + b"\x1a\x02\x1a\x00", "lacks its partition_key_index"),
        (b"\x0a\x01a" + b"\x1a\x02\x08\x00", "lacks its partition_key_index or data"),
        (b"\x0a\x01a" + b"\x1a\x06\x08\x00\x10\x03\x1a\x00", "explicit_hash_key_index 3"),
        (b"\x0a\x02\xff\xfe", "not UTF-8"),
        (b"\x0b", "wire type 3"),
        (b"\x08" + b"\xff" * 11, "runs past 10 bytes"),
    ],
)
def test_a_message_that_breaks_the_schema_is_kpl_malformed(message, detail):
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(framed(message))
    assert err.value.reason == "kpl_malformed"
    assert detail in err.value.detail


def test_too_many_sub_records_are_refused():
    message = b"\x0a\x01a" + b"\x1a\x04\x08\x00\x1a\x00" * (kpl.MAX_SUB_RECORDS + 1)
    with pytest.raises(InvalidRecordError) as err:
        kpl.deaggregate(framed(message))
    assert err.value.reason == "kpl_malformed"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=200)), max_size=20))
def test_round_trip(records):
    got = kpl.deaggregate(kpl.aggregate(records))
    assert [(s.partition_key, s.data) for s in got] == records


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_protobuf_bytes_never_escape_as_another_exception(message):
    try:
        kpl.deaggregate(framed(message))
    except InvalidRecordError as exc:
        assert exc.reason.startswith("kpl_")
