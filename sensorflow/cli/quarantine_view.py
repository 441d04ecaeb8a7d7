"""How ``sensorflow quarantine`` prints: the list's counts and rows, one record's detail, decode and history.

The partial decode tries the kept versions of the reading schema (``schemas/history``, newest first) and
resolves a Confluent id through the shipped mapping (``schemas/confluent-ids.json``); a Glue version id is
shown but not looked up (that would need ``glue:GetSchemaVersion``), so a Glue body's writer is a guess.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from sensorflow.core import schemas
from sensorflow.core.clock import ms_to_iso
from sensorflow.core.framing import Framed
from sensorflow.core.partial_decode import LabelledSchema, PartialDecode, hex_dump, partial_decode
from sensorflow.core.quarantined import QuarantineCounts, QuarantinedRecord
from sensorflow.core.redrive import History

DETAIL_WIDTH = 60
HASH_WIDTH = 12
HEX_DUMP_LIMIT = 1024  # bytes shown; a reading is under 1 KiB (core.decode.MAX_RECORD_BYTES)


def write_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, separators=(",", ":"), sort_keys=True) + "\n")


def record_json(r: QuarantinedRecord) -> dict[str, Any]:
    return {
        "id": r.record_id,
        "key": r.key,
        "index": r.index,
        "reason": r.reason,
        "detail": r.detail,
        "partition_key": r.partition_key,
        "device_id": r.device_id,
        "shard_id": r.shard_id,
        "sequence_number": r.sequence_number,
        "sub_sequence_number": r.sub_sequence_number,
        "arrival_time": ms_to_iso(r.arrival_time_ms),
        "content_hash": r.content_hash,
        "size": len(r.payload),
    }


@functools.cache
def _candidates() -> tuple[LabelledSchema, ...]:
    return tuple(
        (f"{schemas.READING} v{v.version}", v.schema) for v in reversed(schemas.history(schemas.READING))
    )


@functools.cache
def _confluent() -> Mapping[int, Any]:
    from sensorflow.adapters.confluent_schemas import ConfluentSchemaIds
    from sensorflow.config import DEFAULT_CONFLUENT_IDS_FILE
    from sensorflow.core.errors import ConfigError

    try:
        ids = ConfluentSchemaIds(DEFAULT_CONFLUENT_IDS_FILE)
    except ConfigError:
        return {}
    return {i: ids.get(i) for i in ids.ids()}


def _named(framed: Framed) -> LabelledSchema | None:
    schema_id = framed.confluent_id
    if framed.framing == "confluent" and schema_id is not None and schema_id in _confluent():
        return f"Confluent id {schema_id}", _confluent()[schema_id]
    return None


def decode(record: QuarantinedRecord) -> PartialDecode:
    return partial_decode(record.payload, _candidates(), _named)


def show_json(record: QuarantinedRecord, past: History) -> dict[str, Any]:
    return {
        "record": record_json(record),
        "decode": decode(record).to_json(),
        "hex": hex_dump(record.payload, limit=HEX_DUMP_LIMIT),
        "history": past.to_json(),
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in [header, *rows]
    )


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def render_list(
    counts: QuarantineCounts, shown: Sequence[QuarantinedRecord], redrives: Mapping[str, int]
) -> str:
    if not counts.total:
        return "no quarantined records match\n"
    out = [f"{counts.total} quarantined records\n\nby reason\n"]
    out.append(_table(("REASON", "RECORDS"), [(k, str(v)) for k, v in counts.by_reason.items()]))
    out.append("\nby day (UTC)\n")
    out.append(_table(("DAY", "RECORDS"), [(k, str(v)) for k, v in counts.by_day.items()]))
    out.append(f"\nnewest {len(shown)} of {counts.total}\n")
    rows = [
        (
            r.record_id,
            ms_to_iso(r.arrival_time_ms),
            r.reason,
            r.device_id or "-",
            r.content_hash[:HASH_WIDTH],
            str(redrives.get(r.content_hash, 0)),
            _short(r.detail, DETAIL_WIDTH),
        )
        for r in shown
    ]
    out.append(_table(("ID", "ARRIVED", "REASON", "DEVICE", "HASH", "REDRIVES", "DETAIL"), rows))
    return "".join(out)


def _decode_lines(d: PartialDecode, indent: str = "") -> list[str]:
    lines = [f"{indent}framing   {d.framing} ({d.size} bytes)"]
    lines += [f"{indent}  {k} = {v}" for k, v in d.header.items()]
    if d.writer:
        lines.append(f"{indent}writer    {d.writer}")
    for f in d.fields:
        lines.append(f"{indent}  [{f.start:>4}..{f.end:<4}) {f.name} = {json.dumps(f.value)}")
    lines.append(f"{indent}error     {d.error}" if d.error else f"{indent}decodes completely")
    for index, key, sub in d.sub_records:
        lines.append(f"{indent}sub-record {index} (partition key {key})")
        lines += _decode_lines(sub, indent + "    ")
    return lines


def _history_lines(past: History) -> list[str]:
    lines = [f"quarantined {len(past.occurrences)} time(s) with these bytes:"]
    lines += [f"  {ms_to_iso(r.arrival_time_ms)}  {r.reason:<24} {r.record_id}" for r in past.occurrences]
    if not past.attempts:
        return [*lines, "never redriven"]
    lines.append(f"redriven {len(past.attempts)} time(s):")
    for a in past.attempts:
        back = past.returned(a)
        result = {
            "published": f"published as {a.shard_id} {a.sequence_number}",
            "rejected": f"refused by the stream: {a.error}",
        }.get(a.outcome or "", "no outcome recorded (interrupted)")
        lines.append(
            f"  #{a.attempt} {ms_to_iso(a.claimed_at_ms)} by {a.by}: {result}"
            + (f"; quarantined again as {back.record_id} ({back.reason})" if back else "")
        )
    return lines


def render_show(record: QuarantinedRecord, past: History) -> str:
    lines = [
        f"id              {record.record_id}",
        f"reason          {record.reason}",
        f"detail          {record.detail}",
        f"device          {record.device_id or '-'}",
        f"partition key   {record.partition_key}",
        f"shard           {record.shard_id}",
        f"sequence number {record.sequence_number}"
        + (f" (sub-record {record.sub_sequence_number})" if record.sub_sequence_number is not None else ""),
        f"arrived         {ms_to_iso(record.arrival_time_ms)}",
        f"sha256          {record.content_hash}",
        "",
        "decoded as far as it goes:",
        *_decode_lines(decode(record)),
        "",
        "payload:",
        *hex_dump(record.payload, limit=HEX_DUMP_LIMIT),
        "",
        *_history_lines(past),
    ]
    return "\n".join(lines) + "\n"
