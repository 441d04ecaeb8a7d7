"""Conservation against the simulator's ground truth: every published record is enriched or quarantined,
exactly once, and as the truth says.

- A reading whose truth is ``stored`` must be in the readings bucket once, found by (device id, seq); no
  reading the run did not publish may be there.
- A record whose truth is ``quarantined`` must be in the quarantine once, found by its partition key and
  exact bytes (a KPL sub-record by its own bytes), with the reason the truth expects.

The counts come from ``demo.verify.read_stored``; this module only compares.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sensorflow.localcloud.demo.verify import Stored

SAMPLE = 5  # problem keys listed per kind, so a failed run's report stays readable
STORED = "stored"
QUARANTINED = "quarantined"


def conservation(records: Sequence[Any], stored: Stored) -> dict[str, Any]:
    """Published, enriched and quarantined counts, and each way the run departs from the truth."""
    want_readings: Counter[tuple[str, int]] = Counter()
    want_quarantined: Counter[tuple[str, bytes]] = Counter()
    want_reasons: Counter[str] = Counter()
    for record in records:
        truth = record.truth
        if truth["outcome"] == STORED:
            want_readings[(truth["device_id"], truth["seq"])] += 1
        elif truth["outcome"] == QUARANTINED:
            want_quarantined[(record.partition_key, record.data)] += 1
            want_reasons[str(truth.get("expected_reason"))] += 1
    seen_quarantined = Counter(stored.payloads)
    problems = {
        "missing_readings": _keys(want_readings - stored.readings),
        "unexpected_readings": _keys(
            Counter({k: n for k, n in stored.readings.items() if k not in want_readings})
        ),
        "stored_twice": _keys(Counter({k: n - 1 for k, n in stored.readings.items() if n > 1})),
        "missing_quarantined": len(want_quarantined - seen_quarantined),
        "unexpected_quarantined": len(seen_quarantined - want_quarantined),
        "quarantined_twice": sum(n - 1 for n in stored.quarantined.values()),
        "reasons_differ": dict(want_reasons) != dict(stored.reasons),
    }
    ok = not any(
        problems[k]
        for k in ("missing_readings", "unexpected_readings", "stored_twice", "missing_quarantined")
    )
    ok = ok and not any(
        problems[k] for k in ("unexpected_quarantined", "quarantined_twice", "reasons_differ")
    )
    return {
        "ok": ok,
        "published": len(records),
        "enriched": len(stored.readings),
        "quarantined": sum(stored.reasons.values()),
        "quarantined_by_reason": dict(sorted(stored.reasons.items())),
        "expected_by_reason": dict(sorted(want_reasons.items())),
        "duplicates": stored.duplicates,
        "problems": problems,
    }


def _keys(counter: Counter[tuple[str, int]]) -> dict[str, Any]:
    """How many, and the first few (device, seq) keys, of a difference."""
    keys = sorted(counter)
    return {"count": sum(counter.values()), "first": [f"{d}#{s}" for d, s in keys[:SAMPLE]]} if keys else {}
