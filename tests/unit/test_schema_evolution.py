"""Schema evolution: kept versions, decoding old writers into the current reader, and ``schemas check``."""

from __future__ import annotations

import copy
import json
import shutil
import uuid
from pathlib import Path

import pytest

from sensorflow.cli.main import main
from sensorflow.cli.schema_history import check_history
from sensorflow.core import compatibility, schemas
from sensorflow.core.decode import ReadingDecoder, encode_reading
from sensorflow.core.enrich import enrich
from sensorflow.core.errors import ConfigError
from tests.factories import device, reading, stream_record
from tests.fakes import FakeWriterSchemas

V1 = schemas.history()[0].schema
V2 = schemas.history()[1].schema
GLUE_V1 = uuid.UUID("11111111-2222-3333-4444-555555555555")


def v1_reading() -> dict:
    r = reading(seq=3, battery_pct=60.0, firmware="1.0.0")
    return r  # no firmware_generation, no battery_mv: v1 has neither


# --- the kept versions --------------------------------------------------------------------------------------


def test_history_keeps_v1_and_v2_and_the_current_schema_is_the_newest():
    assert [v.version for v in schemas.history()] == [1, 2]
    v1_fields = [f["name"] for f in V1["fields"]]
    assert v1_fields == [
        "device_id",
        "sensor_type",
        "value",
        "unit",
        "timestamp",
        "seq",
        "battery_pct",
        "firmware",
    ]
    added = [f for f in V2["fields"] if f["name"] not in v1_fields]
    assert [(f["name"], f["default"]) for f in added] == [("firmware_generation", 1), ("battery_mv", None)]
    assert check_history() == ({schemas.READING: [1, 2]}, [])


# --- decoding old writers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["glue", "confluent", "raw"])
def test_a_v1_record_decodes_into_the_current_schema_with_the_defaults(framing):
    body = encode_reading(v1_reading(), schemas.version(1))
    data = {
        "glue": b"\x03\x00" + GLUE_V1.bytes + body,
        "confluent": b"\x00\x00\x00\x00\x01" + body,
        "raw": body,
    }[framing]
    dec = ReadingDecoder(
        writer_schemas=FakeWriterSchemas(glue={GLUE_V1: V1}, confluent={1: V1}),
        raw_writer=schemas.version(1),  # a stage whose raw producers still send v1
    )
    got = dec.decode(data)
    assert (got.seq, got.battery_pct, got.firmware) == (3, 60.0, "1.0.0")
    assert (got.firmware_generation, got.battery_mv) == (1, None)


def test_enriched_output_always_uses_the_current_schema():
    body = encode_reading(v1_reading(), schemas.version(1))
    got = ReadingDecoder(raw_writer=schemas.version(1)).decode(body)
    row = enrich(got, 21.5, "C", device(), stream_record(body)).to_avro()
    assert (row["firmware_generation"], row["battery_mv"], row["sub_sequence_number"]) == (1, None, None)
    import fastavro

    fastavro.validate(row, schemas.load(schemas.ENRICHED), raise_errors=True)


def test_a_v1_writer_read_with_the_v2_default_writer_is_not_guessed_into_garbage():
    # raw records carry no version: read with the wrong (newer) writer, v1 bytes run short
    from sensorflow.core.errors import InvalidRecordError

    with pytest.raises(InvalidRecordError) as err:
        ReadingDecoder().decode(encode_reading(v1_reading(), schemas.version(1)))
    assert err.value.reason == "decode_error"


def test_resolution_handles_promotions_and_enum_defaults_too():
    # GIVEN a writer whose seq is an int and whose enum knows a symbol the reader does not
    writer = copy.deepcopy(V1)
    writer["fields"][5]["type"] = "int"
    writer["fields"][1]["type"]["symbols"] = [*writer["fields"][1]["type"]["symbols"], "radiation"]
    writers = FakeWriterSchemas(confluent={9: writer})
    import io

    import fastavro

    buf = io.BytesIO()
    fastavro.schemaless_writer(
        buf, fastavro.parse_schema(writer), {**v1_reading(), "sensor_type": "radiation"}
    )
    # WHEN it is decoded
    got = ReadingDecoder(writer_schemas=writers).decode(b"\x00\x00\x00\x00\x09" + buf.getvalue())
    # THEN the int reads as a long and the unknown symbol as the enum's default
    assert (got.seq, got.sensor_type, got.firmware_generation) == (3, "unknown", 1)


# --- schemas check ------------------------------------------------------------------------------------------


@pytest.fixture
def schema_dir(tmp_path: Path) -> Path:
    shutil.copytree(schemas.SCHEMA_DIR, tmp_path / "schemas")
    return tmp_path / "schemas"


def add_version(schema_dir: Path, n: int, schema: dict) -> None:
    (schema_dir / "history" / schemas.READING / f"v{n}.avsc").write_text(json.dumps(schema))
    (schema_dir / f"{schemas.READING}.avsc").write_text(json.dumps(schema))


def test_an_incompatible_v3_is_refused_naming_the_field(schema_dir, capsys):
    # GIVEN a v3 that adds a field without a default
    v3 = copy.deepcopy(V2)
    v3["fields"].append({"name": "rssi_dbm", "type": "int"})
    add_version(schema_dir, 3, v3)
    # WHEN schemas check runs
    code = main(["schemas", "check", "--dir", str(schema_dir)])
    # THEN it fails naming the version and the field
    assert code == 1
    err = capsys.readouterr().err
    assert "sensorflow.SensorReading v3 cannot read data written with v2" in err
    assert "SensorReading.rssi_dbm: field 'rssi_dbm' is new without a default" in err


def test_a_compatible_v3_passes(schema_dir, capsys):
    v3 = copy.deepcopy(V2)
    v3["fields"].append({"name": "rssi_dbm", "type": ["null", "int"], "default": None})
    v3["fields"][2]["type"] = "double"
    add_version(schema_dir, 3, v3)
    assert main(["schemas", "check", "--dir", str(schema_dir)]) == 0
    assert "versions v1, v2, v3" in capsys.readouterr().out


def test_check_refuses_a_current_schema_that_is_not_the_newest_version(schema_dir):
    current = copy.deepcopy(V2)
    current["fields"].append({"name": "rssi_dbm", "type": ["null", "int"], "default": None})
    (schema_dir / f"{schemas.READING}.avsc").write_text(json.dumps(current))
    _, problems = check_history(schema_dir)
    assert problems == [
        "sensorflow.SensorReading: schemas/sensorflow.SensorReading.avsc differs from the newest kept "
        "version v2; keep it as v3 in history/sensorflow.SensorReading/"
    ]


def test_check_refuses_a_version_whose_first_field_is_not_the_device_id(schema_dir):
    v3 = copy.deepcopy(V2)
    v3["fields"].insert(0, v3["fields"].pop(2))  # value first
    add_version(schema_dir, 3, v3)
    _, problems = check_history(schema_dir)
    assert problems == [
        "sensorflow.SensorReading v3: the first field must be device_id (string): framing detection needs it"
    ]


def test_a_gap_in_the_numbering_is_refused(schema_dir):
    add_version(schema_dir, 4, V2)
    with pytest.raises(ConfigError, match=r"not numbered 1\.\.N"):
        schemas.history(schemas.READING, schema_dir)


def test_check_json(schema_dir, capsys):
    assert main(["schemas", "check", "--dir", str(schema_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True,
        "schemas": {schemas.READING: [1, 2]},
        "problems": [],
    }


# --- the compatibility rules --------------------------------------------------------------------------------


def record(*fields: dict, name: str = "R") -> dict:
    return {"type": "record", "name": name, "namespace": "t", "fields": list(fields)}


@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        ("int", "long"),
        ("int", "float"),
        ("int", "double"),
        ("long", "float"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
        ("bytes", "string"),
        ("int", ["null", "int"]),
        (["null", "int"], ["null", "long", "string"]),
        ({"type": "long", "logicalType": "timestamp-millis"}, "long"),
        ({"type": "array", "items": "int"}, {"type": "array", "items": "long"}),
        ({"type": "map", "values": "float"}, {"type": "map", "values": "double"}),
    ],
)
def test_allowed_changes(writer, reader):
    assert (
        compatibility.problems(record({"name": "f", "type": reader}), record({"name": "f", "type": writer}))
        == []
    )


@pytest.mark.parametrize(
    ("writer", "reader", "message"),
    [
        ("long", "int", "R.f: the writer's long cannot be read as int"),
        ("double", "float", "R.f: the writer's double cannot be read as float"),
        ("string", "int", "R.f: the writer's string cannot be read as int"),
        (["null", "string"], "string", "R.f: the writer's null cannot be read as string"),
        ("string", ["null", "int"], "R.f: no branch of the reader's union reads the writer's string"),
        ({"type": "array", "items": "long"}, {"type": "array", "items": "int"}, "R.f[]: the writer's long"),
        (
            {"type": "fixed", "name": "F", "size": 4},
            {"type": "fixed", "name": "F", "size": 8},
            "R.f: fixed size 4 cannot be read as 8",
        ),
    ],
)
def test_refused_changes(writer, reader, message):
    [problem] = compatibility.problems(
        record({"name": "f", "type": reader}), record({"name": "f", "type": writer})
    )
    assert problem.startswith(message)


def test_removing_a_field_is_fine_and_adding_one_needs_a_default():
    old = record({"name": "a", "type": "int"}, {"name": "b", "type": "int"})
    assert compatibility.problems(record({"name": "a", "type": "int"}), old) == []
    assert compatibility.problems(
        record({"name": "a", "type": "int"}, {"name": "c", "type": "int"}), old
    ) == ["R.c: field 'c' is new without a default; data written before cannot fill it"]


def test_a_renamed_field_resolves_through_its_alias():
    old = record({"name": "a", "type": "int"})
    new = record({"name": "z", "type": "int", "aliases": ["a"]})
    assert compatibility.problems(new, old) == []


def test_enum_symbols_removed_need_the_readers_default():
    def enum(symbols, **kw):
        return record({"name": "e", "type": {"type": "enum", "name": "E", "symbols": symbols, **kw}})

    assert compatibility.problems(enum(["A", "B", "C"]), enum(["A", "B"])) == []
    assert compatibility.problems(enum(["A"]), enum(["A", "B"])) == [
        "R.e: enum symbols ['B'] are gone and the reader's enum has no default"
    ]
    assert compatibility.problems(enum(["A"], default="A"), enum(["A", "B"])) == []


def test_a_renamed_record_is_refused_unless_aliased():
    assert compatibility.problems(record(name="S"), record(name="R")) == [
        "S: the writer's record t.R is not the reader's t.S"
    ]
    aliased = {**record(name="S"), "aliases": ["R"]}
    assert compatibility.problems(aliased, record(name="R")) == []


def test_named_types_resolve_by_reference():
    enum = {"type": "enum", "name": "E", "symbols": ["A"]}
    reader = record({"name": "x", "type": enum}, {"name": "y", "type": "t.E"})
    writer = record({"name": "x", "type": enum}, {"name": "y", "type": "E"})
    assert compatibility.problems(reader, writer) == []
