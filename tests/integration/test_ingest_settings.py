"""Ingest's decoding settings from the environment, through the handler under moto: the framings a stage
accepts (``ACCEPTED_FRAMINGS``) and the writer schema version of its raw records
(``RAW_WRITER_SCHEMA_VERSION``)."""

from __future__ import annotations

import io
import struct
from typing import Any

import pytest
from fastavro import schemaless_writer

from handlers.ingest import handler
from sensorflow.config import IngestSettings
from sensorflow.core import schemas
from sensorflow.core.errors import ConfigError
from sensorflow.core.framing import AUTO
from tests.factories import kinesis_event, reading, stream_record
from tests.integration.conftest import FakeContext, Stack
from tests.integration.test_ingest import now_ms, read_quarantine, read_readings


def v1_raw(fields: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, schemas.version(1), fields)
    return buf.getvalue()


@pytest.fixture
def device(lambda_env: Stack) -> Stack:
    lambda_env.put_device("dev-00001")
    return lambda_env


def first_generation_record() -> Any:
    now = now_ms()
    return stream_record(v1_raw(reading(timestamp=now - 500)), 0, arrival_ms=now, key="dev-00001")


def test_raw_records_of_an_older_version_decode_when_the_stage_names_it(
    device: Stack, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a stage whose raw producers are first-generation firmware (v1 schemaless Avro)
    monkeypatch.setenv("RAW_WRITER_SCHEMA_VERSION", "1")
    # WHEN such a record arrives
    assert handler(kinesis_event([first_generation_record()]), FakeContext()) == {"batchItemFailures": []}
    # THEN it is enriched in the current schema, v2's fields defaulted
    rows = read_readings(device)
    assert [(r["device_id"], r["firmware_generation"], r["battery_mv"]) for r in rows] == [
        ("dev-00001", 1, None)
    ]


def test_by_default_raw_records_are_the_current_version_and_v1_bytes_are_quarantined(device: Stack):
    # GIVEN no RAW_WRITER_SCHEMA_VERSION: raw records are read as the current schema (v2)
    # WHEN a v1 raw record arrives (v2 reads past its end)
    assert handler(kinesis_event([first_generation_record()]), FakeContext()) == {"batchItemFailures": []}
    # THEN it is quarantined as undecodable, with its bytes
    [entry] = read_quarantine(device)
    assert entry["reason"] == "decode_error"
    assert read_readings(device) == []


def test_a_stage_accepting_only_confluent_framing_quarantines_raw_records(
    device: Stack, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ACCEPTED_FRAMINGS", "confluent")
    now = now_ms()
    body = stream_record(reading(timestamp=now - 500), 0, arrival_ms=now).data
    records = [
        stream_record(body, 0, arrival_ms=now, key="dev-00001"),
        stream_record(b"\x00" + struct.pack(">I", 2) + body, 1, arrival_ms=now, key="dev-00001"),
    ]
    assert handler(kinesis_event(records), FakeContext()) == {"batchItemFailures": []}
    assert [q["reason"] for q in read_quarantine(device)] == ["confluent_bad_magic"]
    assert len(read_readings(device)) == 1


def test_settings_parse_framings_and_the_raw_version():
    base = {
        "DEVICE_TABLE_NAME": "d",
        "READINGS_BUCKET_NAME": "r",
        "QUARANTINE_BUCKET_NAME": "q",
        "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:t",
        "ALERTS_EVENT_BUS_NAME": "b",
        "ALARMS_TABLE_NAME": "a",
    }
    default = IngestSettings.from_env(base)
    assert default.accepted_framings == AUTO and default.raw_writer_schema_version is None
    chosen = IngestSettings.from_env(
        {**base, "ACCEPTED_FRAMINGS": "glue, kpl", "RAW_WRITER_SCHEMA_VERSION": "v1"}
    )
    assert chosen.accepted_framings == {"glue", "kpl"} and chosen.raw_writer_schema_version == 1
    with pytest.raises(ConfigError, match=r"ACCEPTED_FRAMINGS.*expected 'auto' or a subset"):
        IngestSettings.from_env({**base, "ACCEPTED_FRAMINGS": "avro"})
    with pytest.raises(ConfigError, match="RAW_WRITER_SCHEMA_VERSION='two' must be a schema version"):
        IngestSettings.from_env({**base, "RAW_WRITER_SCHEMA_VERSION": "two"})


def test_a_raw_version_the_history_lacks_fails_the_first_invocation(
    device: Stack, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("RAW_WRITER_SCHEMA_VERSION", "9")
    with pytest.raises(ConfigError, match="has no version 9"):
        handler(kinesis_event([first_generation_record()]), FakeContext())
