"""A declarative fault plan: which AWS calls fail, how, how often and when.

One JSON file drives both injectors: the in-process one on botocore's ``before-send`` event
(``localcloud.faults.botocore_injector``, for moto-backed tests) and the local cloud's loopback fault proxy
(``emulator.fault_proxy``, for ``sensorflow demo --faults`` / ``sensorflow local up --faults``)::

    {
      "seed": 14,
      "rules": [
        {"service": "sns", "operation": "PublishBatch", "kind": "throttle", "rate": 1.0,
         "start_s": 0, "end_s": 120},
        {"service": "events", "kind": "partial", "rate": 0.01},
        {"service": "s3", "operation": "PutObject", "kind": "latency", "latency_ms": 200, "rate": 0.1}
      ]
    }

- ``service``: one of :data:`SERVICES` (the SigV4 signing names; ``events`` is EventBridge).
- ``operation``: the API operation (``PutEvents``), or ``"*"`` (the default) for every operation.
- ``kind``: ``throttle`` (the service's own throttling error, which botocore's retry modes retry),
  ``http500`` (an internal error, retried too), ``partial`` (HTTP 200 with some entries failed, for the
  batch calls in :data:`PARTIAL_OPERATIONS`; ``rate`` is then per entry) or ``latency`` (the call is
  delayed by ``latency_ms`` and then goes through).
- ``rate``: the probability, 0..1, that a matching call (an entry, for ``partial``) is hit.
- ``start_s`` / ``end_s``: the window, in seconds since the plan started (the injector's start), in which
  the rule applies; either may be left out.
- ``seed``: decisions are a hash of the seed, the rule and the request's bytes with how many times these
  bytes were seen, so the same calls get the same faults in every run, whatever the thread interleaving,
  and a retried call draws anew.

The first rule that hits a call decides it, except ``latency``, which adds up and lets later rules decide.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVICES = ("s3", "sns", "events", "dynamodb", "sqs", "glue", "kinesis")
KINDS = ("throttle", "http500", "partial", "latency")
ANY = "*"
# The batch calls that answer HTTP 200 with per-entry failures (their API references): SNS PublishBatch
# Failed[], EventBridge PutEvents FailedEntryCount, DynamoDB BatchWriteItem UnprocessedItems and
# BatchGetItem UnprocessedKeys, Kinesis PutRecords FailedRecordCount, SQS SendMessageBatch Failed[].
PARTIAL_OPERATIONS = {
    "sns": ("PublishBatch",),
    "events": ("PutEvents",),
    "dynamodb": ("BatchWriteItem", "BatchGetItem"),
    "kinesis": ("PutRecords",),
    "sqs": ("SendMessageBatch",),
}
MAX_LATENCY_MS = 900_000  # a Lambda function's longest timeout (15 minutes)
_RULE_FIELDS = {"service", "operation", "kind", "rate", "latency_ms", "start_s", "end_s", "name"}
_PLAN_FIELDS = {"seed", "rules", "description"}


class FaultPlanError(ValueError):
    """A fault plan that cannot be used; the message names the field and the fix, on one line."""


@dataclass(frozen=True, slots=True)
class FaultRule:
    service: str
    kind: str
    rate: float
    operation: str = ANY
    latency_ms: int = 0
    start_s: float | None = None
    end_s: float | None = None
    name: str = ""

    @property
    def label(self) -> str:
        """The rule's name in counters and summaries: ``name``, else ``service:operation:kind``."""
        return self.name or f"{self.service}:{self.operation}:{self.kind}"

    def applies(self, service: str, operation: str, elapsed_s: float) -> bool:
        if service != self.service or self.operation not in (ANY, operation):
            return False
        if self.kind == "partial" and operation not in PARTIAL_OPERATIONS.get(service, ()):
            return False
        if self.start_s is not None and elapsed_s < self.start_s:
            return False
        return self.end_s is None or elapsed_s < self.end_s

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "service": self.service,
            "operation": self.operation,
            "kind": self.kind,
            "rate": self.rate,
        }
        if self.kind == "latency":
            out["latency_ms"] = self.latency_ms
        for key in ("start_s", "end_s"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.name:
            out["name"] = self.name
        return out


@dataclass(frozen=True, slots=True)
class FaultPlan:
    rules: tuple[FaultRule, ...]
    seed: int = 0
    description: str = ""
    source: str = ""  # the file it was read from, for messages

    @classmethod
    def from_file(cls, path: str | Path) -> FaultPlan:
        """Read and check a plan file; :class:`FaultPlanError` (one line, naming the field) if it is wrong."""
        p = Path(path)
        try:
            raw = json.loads(p.read_text())
        except FileNotFoundError:
            raise FaultPlanError(f"fault plan {p}: no such file; see examples/faults/ for plans") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise FaultPlanError(f"fault plan {p}: cannot read it ({exc})") from None
        except json.JSONDecodeError as exc:
            raise FaultPlanError(
                f"fault plan {p}: not JSON (line {exc.lineno} column {exc.colno}: {exc.msg})"
            ) from None
        return cls.from_dict(raw, source=str(p))

    @classmethod
    def from_dict(cls, raw: Any, source: str = "fault plan") -> FaultPlan:
        where = source if source.startswith("fault plan") else f"fault plan {source}"
        if not isinstance(raw, dict):
            raise FaultPlanError(f'{where}: must be a JSON object like {{"seed": 1, "rules": [...]}}')
        unknown = sorted(set(raw) - _PLAN_FIELDS)
        if unknown:
            raise FaultPlanError(
                f"{where}: unknown field {unknown[0]!r}; a plan has seed, rules, description"
            )
        seed = raw.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise FaultPlanError(f"{where}: seed {seed!r} must be an integer (e.g. 14)")
        rules = raw.get("rules")
        if not isinstance(rules, list) or not rules:
            raise FaultPlanError(f"{where}: rules must be a non-empty list of rule objects")
        parsed = tuple(_rule(r, f"{where}: rules[{i}]") for i, r in enumerate(rules))
        labels = [r.label for r in parsed]
        for label in labels:
            if labels.count(label) > 1:
                raise FaultPlanError(f"{where}: two rules are both {label!r}; give one a distinct name")
        return cls(parsed, seed, str(raw.get("description", "")), source)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seed": self.seed, "rules": [r.to_dict() for r in self.rules]}
        if self.description:
            out["description"] = self.description
        return out


def _rule(raw: Any, where: str) -> FaultRule:
    if not isinstance(raw, dict):
        raise FaultPlanError(f'{where}: must be an object like {{"service": "sns", "kind": "throttle", ...}}')
    unknown = sorted(set(raw) - _RULE_FIELDS)
    if unknown:
        raise FaultPlanError(
            f"{where}: unknown field {unknown[0]!r}; a rule has {', '.join(sorted(_RULE_FIELDS))}"
        )
    service = raw.get("service")
    if service not in SERVICES:
        raise FaultPlanError(f"{where}: service {service!r} is not one of {', '.join(SERVICES)}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise FaultPlanError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    operation = raw.get("operation", ANY)
    if not isinstance(operation, str) or not operation:
        raise FaultPlanError(f'{where}: operation {operation!r} must be an API name like PutEvents, or "*"')
    if kind == "partial" and (
        service not in PARTIAL_OPERATIONS or operation not in (ANY, *PARTIAL_OPERATIONS[service])
    ):
        allowed = ", ".join(PARTIAL_OPERATIONS.get(service, ())) or "none"
        raise FaultPlanError(
            f"{where}: kind partial needs a batch operation; {service} has {allowed} "
            "(or use throttle/http500)"
        )
    rate = raw.get("rate")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise FaultPlanError(f"{where}: rate {rate!r} must be a number from 0 to 1 (0.05 = 5%)")
    latency = raw.get("latency_ms", 0)
    if kind == "latency":
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 < latency <= MAX_LATENCY_MS:
            raise FaultPlanError(
                f"{where}: latency_ms {latency!r} must be an integer from 1 to {MAX_LATENCY_MS}"
            )
    elif "latency_ms" in raw:
        raise FaultPlanError(f"{where}: latency_ms applies only to kind latency; remove it or set kind")
    window = {key: _seconds(raw.get(key), f"{where}: {key}") for key in ("start_s", "end_s")}
    if window["start_s"] is not None and window["end_s"] is not None and window["end_s"] <= window["start_s"]:
        raise FaultPlanError(
            f"{where}: end_s {window['end_s']:g} must be after start_s {window['start_s']:g}"
        )
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise FaultPlanError(f"{where}: name {name!r} must be a string")
    return FaultRule(service, kind, float(rate), operation, latency, window["start_s"], window["end_s"], name)


def _seconds(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise FaultPlanError(f"{where} {value!r} must be a number of seconds, 0 or more")
    return float(value)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do to one call: wait ``latency_ms``, then fail it (``rule``) or forward it (``rule`` None).

    For a ``partial`` rule, ``failed_entries`` holds the indexes of the entries to fail."""

    latency_ms: int = 0
    rule: FaultRule | None = None
    failed_entries: tuple[int, ...] = ()


@dataclass(slots=True)
class RuleCounter:
    calls: int = 0  # matching calls seen in the rule's window
    injected: int = 0  # calls hit (throttle, http500, latency) or calls with failed entries (partial)
    entries_failed: int = 0  # partial only


@dataclass(slots=True)
class FaultDecider:
    """The plan at run time: decides each call and counts what it injected, per rule. Thread-safe."""

    plan: FaultPlan
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)
    _seen: dict[bytes, int] = field(default_factory=dict)
    _counters: dict[str, RuleCounter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()
        self._counters = {r.label: RuleCounter() for r in self.plan.rules}

    def elapsed_s(self) -> float:
        return self.clock() - self.started

    def decide(self, service: str, operation: str, body: bytes, entries: int = 0) -> Decision:
        """Decide a call to ``service``/``operation`` with request ``body`` (``entries``: its batch size)."""
        elapsed = self.elapsed_s()
        with self._lock:
            digest = hashlib.blake2b(
                b"%s\0%s\0%s" % (service.encode(), operation.encode(), body), digest_size=16
            )
            key = digest.digest()
            nth = self._seen.get(key, 0)
            self._seen[key] = nth + 1
            latency = 0
            for index, rule in enumerate(self.plan.rules):
                if not rule.applies(service, operation, elapsed):
                    continue
                counter = self._counters[rule.label]
                counter.calls += 1
                if rule.kind == "partial":
                    failed = tuple(
                        i for i in range(entries) if self._draw(index, key, nth, i + 1) < rule.rate
                    )
                    if failed:
                        counter.injected += 1
                        counter.entries_failed += len(failed)
                        return Decision(latency, rule, failed)
                    continue
                if self._draw(index, key, nth, 0) >= rule.rate:
                    continue
                counter.injected += 1
                if rule.kind == "latency":
                    latency += rule.latency_ms
                    continue
                return Decision(latency, rule)
            return Decision(latency)

    def _draw(self, index: int, key: bytes, nth: int, entry: int) -> float:
        h = hashlib.blake2b(key, digest_size=8, key=b"%d:%d:%d:%d" % (self.plan.seed, index, nth, entry))
        return int.from_bytes(h.digest(), "big") / 2**64

    def counts(self) -> dict[str, dict[str, int]]:
        """Per rule label: ``calls`` seen in its window, ``injected``, and ``entries_failed`` (partial)."""
        with self._lock:
            return {
                label: {"calls": c.calls, "injected": c.injected, "entries_failed": c.entries_failed}
                for label, c in self._counters.items()
            }

    def status(self) -> dict[str, Any]:
        rules = self.counts()
        return {
            "plan": self.plan.source or "inline",
            "seed": self.plan.seed,
            "elapsed_s": round(self.elapsed_s(), 1),
            "rules": [{**r.to_dict(), "label": r.label, **rules[r.label]} for r in self.plan.rules],
        }


def injected_total(counts: Mapping[str, Mapping[str, int]]) -> int:
    return sum(c["injected"] for c in counts.values())
