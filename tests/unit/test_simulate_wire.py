"""The simulator's wire formats: each device's firmware frames its readings as raw Avro, Glue (plain or
zlib), Confluent or KPL aggregates, in its schema version; the ingest decoder reads every one back."""

from __future__ import annotations

import json
import uuid
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sensorflow.adapters.confluent_schemas import ConfluentSchemaIds
from sensorflow.cli.main import main
from sensorflow.config import DEFAULT_CONFLUENT_IDS_FILE
from sensorflow.core import kpl, schemas
from sensorflow.core.decode import ReadingDecoder
from sensorflow.core.errors import InvalidRecordError, UnknownSchemaError
from sensorflow.simulate import SimConfig, SimulationError, generate, manifest, wire

START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DURATION_S = 1200
MIX = SimConfig(
    devices=20,
    duration_s=DURATION_S,
    seed=3,
    start_ms=START_MS,
    scenario_rate=0.03,
    malformed_rate=0.05,
    formats=wire.FORMATS,
    schema_versions=(1, 2),
)


class PlaceholderRegistry:
    """``WriterSchemas`` holding what a dry run's placeholder Glue ids stand for, and the shipped id map."""

    def __init__(self) -> None:
        self._glue = {i: schemas.version(v) for v, i in wire.placeholder_glue_ids().items()}
        self._confluent = ConfluentSchemaIds(DEFAULT_CONFLUENT_IDS_FILE)

    def glue(self, version_id: uuid.UUID) -> Any:
        if version_id not in self._glue:
            raise UnknownSchemaError(str(version_id))
        return self._glue[version_id]

    def confluent(self, schema_id: int) -> Any:
        return self._confluent.get(schema_id)


@pytest.fixture(scope="module")
def records():
    return list(generate(MIX))


@pytest.fixture(scope="module")
def kinesis(records):
    return list(wire.kinesis_records(records))


def test_each_device_uses_one_format_and_the_framed_ones_span_both_generations(records):
    # GIVEN five formats and two schema versions over 20 devices
    by_device: dict[str, set[tuple[str, int]]] = {}
    for r in records:
        if r.truth["kind"] in ("valid", "late"):
            by_device.setdefault(r.partition_key, set()).add((r.truth["format"], r.truth["schema_version"]))
    # THEN device i uses formats[i % 5]; raw and kpl devices write the current version (the raw writer's),
    # glue, glue-zlib and confluent devices alternate v1 and v2 over their devices
    for device, firmwares in by_device.items():
        index = int(device.split("-")[1])
        [(fmt, version)] = firmwares
        assert fmt == wire.FORMATS[index % 5]
        if fmt in (wire.RAW, wire.KPL):
            assert version == 2
        else:
            assert version == (1, 2)[(index // 5) % 2]
    assert {f for fw in by_device.values() for f, _ in fw} == set(wire.FORMATS)


def test_every_reading_decodes_from_its_exact_wire_bytes_to_its_truth(kinesis):
    decoder = ReadingDecoder(writer_schemas=PlaceholderRegistry())
    seen: Counter[str] = Counter()
    for record in kinesis:
        if kpl.is_aggregated(record.data):
            subs = kpl.deaggregate(record.data)
            assert [(s.partition_key, s.data) for s in subs] == [
                (r.partition_key, r.data) for r in record.readings
            ]
        else:
            assert [record.data] == [r.data for r in record.readings]
        for r in record.readings:
            t = r.truth
            seen[t["format"]] += 1
            if t["kind"] == "malformed":
                with pytest.raises(InvalidRecordError) as err:
                    decoder.decode(r.data)
                assert err.value.reason == t["expected_reason"]
                continue
            reading = decoder.decode(r.data)
            assert (reading.device_id, reading.seq, reading.value, reading.timestamp_ms) == (
                t["device_id"],
                t["seq"],
                t["value"],
                t["timestamp_ms"],
            )
            # v1 firmware has no generation field: it reads as 1, and v2 readings carry 2
            assert reading.firmware_generation == t["schema_version"]
            assert (reading.battery_mv is None) == (t["schema_version"] == 1 or reading.battery_pct is None)
    assert set(seen) == set(wire.FORMATS)


def test_the_headers_follow_each_documented_byte_layout(records):
    glue_ids = wire.placeholder_glue_ids()
    confluent = wire.confluent_ids()
    valid = [r for r in records if r.truth["kind"] == "valid"]
    for r in valid:
        fmt, version = r.truth["format"], r.truth["schema_version"]
        body = wire.firmware(wire.RAW, version, glue_ids, confluent).encode(_fields(r))
        if fmt == wire.GLUE:
            assert r.data == b"\x03\x00" + glue_ids[version].bytes + body
        elif fmt == wire.GLUE_ZLIB:
            assert r.data[:18] == b"\x03\x05" + glue_ids[version].bytes
            assert zlib.decompress(r.data[18:]) == body
        elif fmt == wire.CONFLUENT:
            assert r.data == b"\x00" + confluent[version].to_bytes(4, "big") + body
        else:  # raw, and a KPL sub-record: the body alone
            assert r.data == body


def _fields(r: Any) -> dict[str, Any]:
    """The reading a record carries, as the dict its firmware encoded."""
    reading = ReadingDecoder(writer_schemas=PlaceholderRegistry()).decode(r.data)
    return {
        "device_id": reading.device_id,
        "sensor_type": reading.sensor_type,
        "value": reading.value,
        "unit": reading.unit,
        "timestamp": reading.timestamp_ms,
        "seq": reading.seq,
        "battery_pct": reading.battery_pct,
        "firmware": reading.firmware,
        "firmware_generation": reading.firmware_generation,
        "battery_mv": reading.battery_mv,
    }


def test_kpl_devices_send_one_aggregate_per_tick_with_several_readings(kinesis):
    aggregates = [k for k in kinesis if kpl.is_aggregated(k.data)]
    assert len(aggregates) > 20
    assert all(len({r.truth["aggregate"] for r in k.readings}) == 1 for k in aggregates)
    assert sum(len(k.readings) >= 2 for k in aggregates) / len(aggregates) > 0.9
    # each aggregate is one device's tick: its own readings under its own key (ghosts keep theirs)
    for k in aggregates:
        assert k.partition_key == k.readings[0].truth["aggregate"].split("@")[0]


def test_the_same_seed_gives_the_same_wire_bytes(kinesis):
    again = list(wire.kinesis_records(generate(MIX)))
    assert [(k.partition_key, k.data) for k in again] == [(k.partition_key, k.data) for k in kinesis]


def test_registry_ids_come_from_get_schema_by_definition():
    class Glue:
        def __init__(self) -> None:
            self.asked: list[tuple[str, str]] = []

        def get_schema_by_definition(self, SchemaId: dict[str, str], SchemaDefinition: str) -> dict[str, str]:
            self.asked.append((SchemaId["RegistryName"], SchemaId["SchemaName"]))
            return {"SchemaVersionId": str(uuid.uuid5(uuid.NAMESPACE_DNS, SchemaDefinition))}

    glue = Glue()
    ids = wire.registry_glue_ids(glue, "sensorflow-local")
    assert ids == {v.version: uuid.uuid5(uuid.NAMESPACE_DNS, json.dumps(v.schema)) for v in schemas.history()}
    assert glue.asked == [("sensorflow-local", "sensorflow.SensorReading")] * len(ids)
    cfg = SimConfig(
        devices=2, duration_s=60, seed=1, start_ms=START_MS, formats=("glue",), glue_version_ids=ids
    )
    first = next(r for r in generate(cfg) if r.truth["kind"] == "valid")
    assert first.data[2:18] == ids[2].bytes


def test_a_registry_without_the_versions_is_a_clear_error():
    class Empty:
        def get_schema_by_definition(self, **_: Any) -> dict[str, str]:
            raise RuntimeError("EntityNotFoundException")

    with pytest.raises(SimulationError, match=r"is not registered .*run `sensorflow schemas publish"):
        wire.registry_glue_ids(Empty(), "sensorflow-local")


def test_the_raw_writer_version_sets_raw_and_kpl_bodies_and_the_decoder_needs_it():
    cfg = SimConfig(
        devices=4, duration_s=120, seed=2, start_ms=START_MS, formats=("raw", "kpl"), raw_schema_version=1
    )
    valid = [r for r in generate(cfg) if r.truth["kind"] == "valid"]
    assert {r.truth["schema_version"] for r in valid} == {1}
    first_generation = ReadingDecoder(raw_writer=schemas.version(1))
    assert all(first_generation.decode(r.data).firmware_generation == 1 for r in valid)
    with pytest.raises(InvalidRecordError):
        ReadingDecoder().decode(valid[0].data)


def test_dry_run_with_every_format_is_reproducible_and_rebuilds_the_kinesis_records(capsys, tmp_path: Path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    flags = ["--devices", "10", "--duration", "300", "--seed", "4", "--start", str(START_MS)]
    flags += ["--format", "raw,glue,glue-zlib,confluent,kpl", "--schema-versions", "1,2"]
    assert main(["simulate", *flags, "--out", str(a)]) == 0
    out, _ = capsys.readouterr()
    assert main(["simulate", *flags, "--out", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert "formats    raw " in out and " kpl " in out
    lines = list(manifest.read(a))
    rebuilt = list(wire.kinesis_records(lines))
    assert sum(len(k.readings) for k in rebuilt) == len(lines)
    assert {k.data[:1] for k in rebuilt} >= {b"\x03", b"\x00", b"\xf3"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "avro", "--out", "x"], "--format 'avro': expected one of raw, glue, glue-zlib"),
        (["--schema-versions", "1,7", "--out", "x"], "--schema-versions '1,7': expected a comma list of"),
        (["--raw-schema-version", "1,2", "--out", "x"], "--raw-schema-version '1,2': expected one of"),
        (["--format", "glue", "--stream", "s"], "Glue-framed records need the registry's schema version"),
    ],
)
def test_bad_wire_flags_are_usage_errors(capsys, monkeypatch, argv, message):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    rc = main(["simulate", "--devices", "2", *argv])
    _, err = capsys.readouterr()
    assert rc == 2 and message in err and err.count("\n") == 1
