"""Hostile inputs for the ingest record handler: valid readings in every framing, and their mutations.

Shared by the hypothesis properties (``tests/unit/test_hostile_input.py``) and the bounded mutation fuzz
(``tests/fuzz/run.py``, ``make fuzz``). A ``Wire`` is a Kinesis record's bytes with what the producer vouches
for (its partition key) and, when it is valid by construction, what it must become.

Framings (``sensorflow.core.framing``, ``sensorflow.core.kpl``): ``raw`` (the current schema: the stage's
default raw writer), ``confluent`` and ``glue`` (v1 or v2, by id), ``glue-zlib``, and ``kpl``: an aggregated
record whose sub-records are any of the others. The Glue registry also holds the hostile writer schemas of
``tests/unit/test_schema_bombs.py`` (``array<null>``, a record containing itself, nesting 40 deep), so the
fuzz reaches the ``schema_unsafe`` refusal with bodies that would otherwise loop or crash.
"""

from __future__ import annotations

import copy
import random
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sensorflow.core import kpl, schemas
from sensorflow.core.decode import encode_reading
from tests.factories import NOW_MS

FRAMINGS = ("raw", "confluent", "glue", "glue-zlib", "kpl")
SINGLE_FRAMINGS = FRAMINGS[:-1]  # what a KPL sub-record can be

HISTORY = schemas.history()
WRITERS = {v.version: v.schema for v in HISTORY}  # JSON, by version number
CURRENT = HISTORY[-1].version
GLUE_IDS = {v: uuid.uuid5(uuid.NAMESPACE_URL, f"sensorflow-fuzz/glue/v{v}") for v in WRITERS}
CONFLUENT_IDS = {v: v for v in WRITERS}  # as schemas/confluent-ids.json maps them

DEVICES = tuple(f"dev-{i:05d}" for i in range(8))  # registered
UNREGISTERED = "dev-99999"  # well formed, not in the registry: unknown_device


def _with_field(name: str, field_type: Any, default: Any) -> dict[str, Any]:
    schema = copy.deepcopy(WRITERS[CURRENT])
    schema["fields"].append({"name": name, "type": field_type, "default": default})
    return schema


def _nested(depth: int) -> Any:
    t: Any = "long"
    for _ in range(depth):
        t = {"type": "array", "items": t}
    return t


# Writer schemas a hostile producer could register (BACKWARD compatible: added fields with defaults).
HOSTILE_WRITERS: dict[str, dict[str, Any]] = {
    "array-null": _with_field("junk", {"type": "array", "items": "null"}, []),
    "recursive": _with_field(
        "junk",
        [
            "null",
            {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]}]},
        ],
        None,
    ),
    "deep": _with_field("junk", _nested(40), []),
}
HOSTILE_IDS = {k: uuid.uuid5(uuid.NAMESPACE_URL, f"sensorflow-fuzz/hostile/{k}") for k in HOSTILE_WRITERS}


def glue_writers() -> dict[uuid.UUID, dict[str, Any]]:
    """Every Glue version id the fuzz registry knows: the kept versions and the hostile ones."""
    out: dict[uuid.UUID, dict[str, Any]] = {GLUE_IDS[v]: s for v, s in WRITERS.items()}
    out.update({HOSTILE_IDS[k]: s for k, s in HOSTILE_WRITERS.items()})
    return out


def confluent_writers() -> dict[int, dict[str, Any]]:
    return {CONFLUENT_IDS[v]: s for v, s in WRITERS.items()}


@dataclass(frozen=True, slots=True)
class Wire:
    """One Kinesis record: ``data`` under ``partition_key``; ``expected`` the readings it must enrich into
    (one per sub-record for KPL, in order), or None when nothing is promised (a mutation, garbage)."""

    data: bytes
    partition_key: str
    expected: tuple[dict[str, Any], ...] | None = None
    label: str = ""


def frame(body: bytes, framing: str, version: int = CURRENT) -> bytes:
    """``body`` (Avro of writer ``version``) in one of the single-record framings."""
    if framing == "raw":
        return body
    if framing == "confluent":
        return b"\x00" + CONFLUENT_IDS[version].to_bytes(4, "big") + body
    if framing == "glue":
        return b"\x03\x00" + GLUE_IDS[version].bytes + body
    if framing == "glue-zlib":
        return b"\x03\x05" + GLUE_IDS[version].bytes + zlib.compress(body)
    raise ValueError(framing)


def as_read(values: dict[str, Any], version: int) -> dict[str, Any]:
    """What the current reader makes of ``values`` written with ``version``: the fields it lacks default."""
    written = {f["name"] for f in WRITERS[version]["fields"]}
    out = {}
    for field in WRITERS[CURRENT]["fields"]:
        name = field["name"]
        out[name] = values[name] if name in written else field.get("default")
    return out


def single(values: dict[str, Any], framing: str, version: int = CURRENT) -> Wire:
    """A valid reading (``values`` hold every field of ``version``) in a single-record framing."""
    if framing == "raw":  # raw carries no version: the stage's default, the current schema
        values, version = as_read(values, version), CURRENT
    body = encode_reading(values, WRITERS[version])
    return Wire(frame(body, framing, version), values["device_id"], (as_read(values, version),), framing)


def aggregated(parts: list[tuple[dict[str, Any], str, int]]) -> Wire:
    """A KPL aggregated record of valid readings, each ``(values, framing, version)``."""
    subs = [single(v, f, n) for v, f, n in parts]
    data = kpl.aggregate([(s.partition_key, s.data) for s in subs])
    expected = tuple(e for s in subs for e in (s.expected or ()))
    return Wire(data, subs[0].partition_key, expected, "kpl")


def hostile_schema_record(values: dict[str, Any], kind: str, tail: bytes) -> Wire:
    """A Glue record naming a hostile writer: a valid current body plus ``tail`` for the added field."""
    body = encode_reading(values, WRITERS[CURRENT]) + tail
    return Wire(b"\x03\x00" + HOSTILE_IDS[kind].bytes + body, values["device_id"], None, f"hostile-{kind}")


# --- mutations: each takes bytes and a random source, returns bytes (never the same object) ---------------

Mutation = Callable[[bytes, random.Random], bytes]
INTERESTING = (0x00, 0x01, 0x02, 0x03, 0x05, 0x7F, 0x80, 0xF3, 0xFE, 0xFF)


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data))] if data else data


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def insert_bytes(data: bytes, rng: random.Random) -> bytes:
    at = rng.randint(0, len(data))
    return data[:at] + rng.randbytes(rng.randint(1, 8)) + data[at:]


def delete_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    return data[:at] + data[at + rng.randint(1, 8) :]


def set_interesting(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return bytes([rng.choice(INTERESTING)])
    out = bytearray(data)
    out[rng.randrange(len(out))] = rng.choice(INTERESTING)
    return bytes(out)


def huge_varint(data: bytes, rng: random.Random) -> bytes:
    """Overwrite a spot with a maximal varint (a length or count of ~2**63): the bomb shape."""
    at = rng.randint(0, len(data))
    varint = b"\xfe" + b"\xff" * 8 + b"\x01" if rng.random() < 0.5 else b"\xff" * 9 + b"\x01"
    return data[:at] + varint + data[at + rng.randint(0, 10) :]


def duplicate_range(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    at = rng.randrange(len(data))
    chunk = data[at : at + rng.randint(1, 16)]
    return data[:at] + chunk * rng.randint(2, 8) + data[at:]


MUTATIONS: dict[str, Mutation] = {
    "truncate": truncate,
    "flip_bits": flip_bits,
    "insert_bytes": insert_bytes,
    "delete_bytes": delete_bytes,
    "set_interesting": set_interesting,
    "huge_varint": huge_varint,
    "duplicate_range": duplicate_range,
}


def mutate(data: bytes, rng: random.Random, rounds: int) -> bytes:
    for _ in range(rounds):
        data = rng.choice(list(MUTATIONS.values()))(data, rng)
    return data


def kpl_with_digest(message: bytes) -> bytes:
    """An aggregated record around ``message`` with its correct MD5: a broken protobuf that passes the
    digest, so de-aggregation itself is exercised (a mutation of the whole record is mostly a bad digest)."""
    import hashlib

    return kpl.MAGIC + message + hashlib.md5(message, usedforsecurity=False).digest()


def kpl_message(data: bytes) -> bytes:
    return data[len(kpl.MAGIC) : -kpl.DIGEST_BYTES]


# --- valid readings, for the fuzz (hypothesis has its own strategy in the property tests) ---------------

# Per sensor type, a unit and a value range inside the plausible range once converted (core.checks).
VALUE_RANGES: dict[str, list[tuple[str, float, float]]] = {
    "temperature": [("C", -89.0, 499.0), ("F", -128.0, 930.0), ("K", 184.0, 772.0)],
    "humidity": [("%RH", 0.0, 100.0), ("%", 0.0, 100.0)],
    "pressure": [("hPa", 0.0, 99_000.0), ("kPa", 0.0, 9_900.0), ("bar", 0.0, 99.0), ("psi", 0.0, 1_400.0)],
    "vibration": [("mm/s", 0.0, 999.0), ("in/s", 0.0, 39.0)],
    "co2": [("ppm", 0.0, 99_000.0)],
}


def random_reading(rng: random.Random, seq: int, device_id: str | None = None) -> dict[str, Any]:
    """A reading that passes every check (current schema's fields; v1 writers ignore the v2 ones)."""
    sensor = rng.choice(sorted(VALUE_RANGES))
    unit, low, high = rng.choice(VALUE_RANGES[sensor])
    return {
        "device_id": device_id or rng.choice(DEVICES),
        "sensor_type": sensor,
        "value": rng.uniform(low, high),
        "unit": unit,
        "timestamp": NOW_MS - rng.randint(0, 3_600_000),
        "seq": seq,
        "battery_pct": rng.choice([None, 50.0, 99.5]),
        "firmware": rng.choice([None, "1.4.2", "2.0.0-rc1"]),
        "firmware_generation": rng.randint(1, 3),
        "battery_mv": rng.choice([None, 3300, 0]),
    }
