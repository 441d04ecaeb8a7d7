"""Lint every schema in schemas/: it parses, and no array or map has items that can encode in zero bytes.

An ``array<null>`` (or a map of an empty record) lets 6 bytes declare billions of items, and fastavro
spins for minutes decoding them.
"""

from __future__ import annotations

import json
from pathlib import Path

import fastavro.schema
import fastavro.validation
import pytest

from sensorflow.core import schemas

SCHEMA_FILES = schemas.schema_files()


def zero_width(schema, named: dict, seen: frozenset = frozenset()) -> bool:
    """True if some value of ``schema`` encodes in zero bytes."""
    if isinstance(schema, str):
        if schema == "null":
            return True
        if schema in named and schema not in seen:
            return zero_width(named[schema], named, seen | {schema})
        return False
    if isinstance(schema, list):  # a union always writes its branch index: at least one byte
        return False
    t = schema.get("type")
    if t == "record":
        return all(zero_width(f["type"], named, seen) for f in schema["fields"])
    if t == "fixed":
        return schema["size"] == 0
    if t in ("array", "map", "enum"):
        return False  # a count (or index) is always written
    return zero_width(t, named, seen)


def bombs(schema, named: dict, path: str = "$") -> list[str]:
    found: list[str] = []
    if isinstance(schema, list):
        for i, s in enumerate(schema):
            found += bombs(s, named, f"{path}|{i}")
    elif isinstance(schema, dict):
        t = schema.get("type")
        if t == "record":
            named[
                schema.get("namespace", "") + "." + schema["name"]
                if "namespace" in schema
                else schema["name"]
            ] = schema
            for f in schema["fields"]:
                found += bombs(f["type"], named, f"{path}.{f['name']}")
        elif t in ("array", "map"):
            inner = schema["items"] if t == "array" else schema["values"]
            if zero_width(inner, named):
                found.append(f"{path}: {t} of zero-width items")
            found += bombs(inner, named, f"{path}[]")
        elif isinstance(t, dict | list):
            found += bombs(t, named, path)
    return found


def test_there_are_schemas():
    names = {p.name for p in SCHEMA_FILES}
    assert {
        "sensorflow.SensorReading.avsc",
        "sensorflow.EnrichedReading.avsc",
        "sensorflow.TransitionEvent.avsc",
    } <= names


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_parses_and_is_named_after_its_full_name(path: Path):
    raw = json.loads(path.read_text())
    assert f"{raw['namespace']}.{raw['name']}.avsc" == path.name
    fastavro.schema.load_schema(path)


@pytest.mark.parametrize("path", SCHEMA_FILES, ids=lambda p: p.name)
def test_schema_has_no_zero_width_collections(path: Path):
    parsed = fastavro.schema.load_schema(path)
    assert bombs(parsed, {}) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "array", "items": "null"},
        {"type": "map", "values": {"type": "record", "name": "E", "fields": []}},
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "xs", "type": {"type": "array", "items": {"type": "fixed", "name": "Z", "size": 0}}}
            ],
        },
    ],
)
def test_the_lint_catches_bombs(bad):
    assert bombs(bad, {}) != []


def test_transition_documents_follow_the_transition_schema():
    from dataclasses import replace

    from sensorflow.core import alarms as am
    from sensorflow.core.rules import parse_rule_book
    from tests.factories import NOW_MS, device

    rule = parse_rule_book(
        {"version": 2, "rules": [{"id": "t", "sensor_type": "temperature", "warning": {"max": 35.0}}]},
        {"temperature"},
    ).get("t")
    sample = am.Sample("dev-1", "temperature", 1, NOW_MS, NOW_MS + 5, 36.0, "C")
    _, [raised] = am.step(am.Alarm.new("dev-1", "temperature", "t"), rule, sample, device("dev-1"))
    inhibited = am.suppress(raised, [], device_stale=True)
    [path] = [p for p in SCHEMA_FILES if p.name == "sensorflow.TransitionEvent.avsc"]
    schema = fastavro.schema.load_schema(path)
    for event in (raised, inhibited, replace(raised, reading=None)):
        doc = event.to_message()
        assert fastavro.validation.validate(
            {
                **doc,
                "reading": None if doc["reading"] is None else ("sensorflow.ReadingRef", doc["reading"]),
                "suppressed": None
                if doc["suppressed"] is None
                else ("sensorflow.Suppression", doc["suppressed"]),
            },
            schema,
        )
