"""JSON Lines records: ``{"partition_key", "data" (base64 of the exact payload), "truth"}`` per line.

``--out`` writes them instead of publishing; ``--manifest`` writes them for a published run, adding
``"delivered": true|false`` (lines then follow delivery order, which retries can change).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sensorflow.simulate.sim_types import SimRecord


def to_line(record: SimRecord, delivered: bool | None = None) -> str:
    line: dict[str, Any] = {
        "partition_key": record.partition_key,
        "data": base64.b64encode(record.data).decode("ascii"),
        "truth": record.truth,
    }
    if delivered is not None:
        line["delivered"] = delivered
    return json.dumps(line, separators=(",", ":"), allow_nan=False) + "\n"


def from_line(line: str) -> SimRecord:
    obj = json.loads(line)
    return SimRecord(obj["partition_key"], base64.b64decode(obj["data"], validate=True), obj["truth"])


def read(path: str | Path) -> Iterator[SimRecord]:
    """The records of a dry-run file or manifest, in file order."""
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield from_line(line)
