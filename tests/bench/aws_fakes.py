"""In-memory boto3-like clients for the benchmark: DynamoDB, S3, SNS, EventBridge and Glue's schema
registry, no network I/O.

Each client takes keyword arguments and returns dicts shaped like boto3's, raises ``botocore`` errors
shaped like the service's (``ConditionalCheckFailedException``, ``TransactionCanceledException`` with
``CancellationReasons``, ``ValidationException`` past an API limit), and records what it did in a shared
``Ledger``: calls per operation, DynamoDB items written per operation (PutItem 1, UpdateItem 1,
BatchWriteItem and TransactWriteItems one per written item), write and read request units, GSI writes,
billed SNS publishes and EventBridge events, S3 PUTs.

DynamoDB expressions are parsed and evaluated generically (conditions with comparisons, ``AND``/``OR``/
``NOT``, ``BETWEEN``, ``IN``, ``attribute_exists``, ``attribute_not_exists``, ``begins_with``,
``contains``, ``size``, ``attribute_type``; updates with ``SET`` incl. ``+``/``-``, ``if_not_exists``
and ``list_append``, ``REMOVE``, ``ADD``, ``DELETE``; nested paths and ``#names``), so the harness keeps
measuring whatever expressions the adapters use. ``Query`` returns no items (the ingest path never
needs one); ``Scan`` returns the table, filtered.

Thread-safe: one lock per client guards state and the ledger; the latency sleep happens outside it, so
calls from a thread pool overlap as they would against AWS.
"""

from __future__ import annotations

import functools
import itertools
import math
import pickle
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from botocore.exceptions import ClientError, ParamValidationError

# Typical in-region latencies per call (issue 9's latency model). DeleteItem and Scan are not in the
# issue's list; they get the PutItem / Query figure.
LATENCY_MODEL_S: dict[str, float] = {
    "PutItem": 0.005,
    "UpdateItem": 0.005,
    "DeleteItem": 0.005,
    "BatchWriteItem": 0.008,
    "TransactWriteItems": 0.010,
    "BatchGetItem": 0.008,
    "GetItem": 0.004,
    "Query": 0.005,
    "Scan": 0.005,
    "PutObject": 0.025,
    "PublishBatch": 0.015,
    "Publish": 0.015,
    "PutEvents": 0.015,
    "GetSchemaVersion": 0.010,  # once per schema version id per container (adapters.glue_schemas)
}

# API limits the fakes enforce, as the services do (API references of each operation).
BATCH_GET_MAX_KEYS = 100
BATCH_WRITE_MAX_ITEMS = 25
TRANSACT_MAX_ITEMS = 100
PUBLISH_BATCH_MAX_ENTRIES = 10
PUBLISH_BATCH_MAX_BYTES = 262_144
PUT_EVENTS_MAX_ENTRIES = 10
# Billing units: DynamoDB writes per 1 KB, reads per 4 KB; SNS and EventBridge bill per 64 KB chunk.
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
PUBLISH_CHUNK_BYTES = 65_536

_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"})


# --- the ledger ------------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the fakes were asked to do. Counters are keyed ``"<service>:<Operation>"`` (DynamoDB items by
    operation). Every client of one stack shares one ledger; ``snapshot`` copies it for a diff."""

    calls: Counter[str] = field(default_factory=Counter)
    items_written: Counter[str] = field(default_factory=Counter)
    write_units: Counter[str] = field(default_factory=Counter)
    read_units: Counter[str] = field(default_factory=Counter)
    gsi_write_units: Counter[str] = field(default_factory=Counter)
    billed: Counter[str] = field(default_factory=Counter)  # sns publishes, events, s3 PUTs, s3 bytes
    conflicts: Counter[str] = field(default_factory=Counter)  # failed conditions, by operation
    fake_seconds: float = 0.0  # CPU time (thread time) inside the fakes' bodies, not their sleeps
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> Ledger:
        with self.lock:
            return Ledger(
                Counter(self.calls),
                Counter(self.items_written),
                Counter(self.write_units),
                Counter(self.read_units),
                Counter(self.gsi_write_units),
                Counter(self.billed),
                Counter(self.conflicts),
                self.fake_seconds,
            )

    def since(self, before: Ledger) -> Ledger:
        now = self.snapshot()
        return Ledger(
            now.calls - before.calls,
            now.items_written - before.items_written,
            now.write_units - before.write_units,
            now.read_units - before.read_units,
            now.gsi_write_units - before.gsi_write_units,
            now.billed - before.billed,
            now.conflicts - before.conflicts,
            now.fake_seconds - before.fake_seconds,
        )


class Latency:
    """Seconds slept per call, by operation; ``scale`` 0 turns it off (CPU runs), 1 is the model."""

    def __init__(self, model: Mapping[str, float] | None = None, scale: float = 0.0) -> None:
        self.model = dict(LATENCY_MODEL_S if model is None else model)
        self.scale = scale

    def wait(self, operation: str) -> None:
        seconds = self.model.get(operation, 0.0) * self.scale
        if seconds > 0:
            time.sleep(seconds)


class _FakeClient:
    service = ""

    def __init__(self, ledger: Ledger, latency: Latency) -> None:
        self.ledger = ledger
        self.latency = latency
        self._lock = threading.RLock()
        self.meta = SimpleNamespace(region_name="us-east-1", service_model=SimpleNamespace(service_name=""))
        self.meta.service_model.service_name = self.service

    def _call(self, operation: str, body: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        self.latency.wait(operation)
        with self._lock:
            start = time.thread_time()
            try:
                with self.ledger.lock:
                    self.ledger.calls[f"{self.service}:{operation}"] += 1
                return body()
            finally:
                elapsed = time.thread_time() - start
                with self.ledger.lock:
                    self.ledger.fake_seconds += elapsed

    def _add(self, counter: str, key: str, amount: float) -> None:
        with self.ledger.lock:
            getattr(self.ledger, counter)[key] += amount


def client_error(operation: str, code: str, message: str, **extra: Any) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": message}, **extra}
    response["ResponseMetadata"] = {"HTTPStatusCode": 400}
    return ClientError(response, operation)  # type: ignore[arg-type]


# --- DynamoDB attribute values ----------------------------------------------------------------------------


def marshal(value: Any) -> dict[str, Any]:
    """A plain Python value as an AttributeValue (for seeding tables)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes):
        return {"B": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, Mapping):
        return {"M": {k: marshal(v) for k, v in value.items()}}
    return {"L": [marshal(v) for v in value]}


def marshal_item(plain: Mapping[str, Any]) -> dict[str, Any]:
    return {k: marshal(v) for k, v in plain.items() if v is not None}


def _copy(value: Any) -> Any:
    return pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _check_item(item: Any, operation: str) -> None:
    if not isinstance(item, Mapping):
        raise ParamValidationError(report=f"{operation}: Item must be a map of AttributeValues")
    for name, attr in item.items():
        if type(attr) is not dict or len(attr) != 1 or next(iter(attr)) not in _TYPES:
            raise ParamValidationError(report=f"{operation}: attribute {name!r} is not an AttributeValue")


def _value_size(attr: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for a value (developer guide, "Item sizes and formats")."""
    (kind, v), *_ = attr.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return (len(v.lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(x) for k, x in v.items())
    return sum(_value_size({kind[0]: x}) for x in v)  # SS, NS, BS


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    total = 0
    for name, attr in item.items():
        total += len(name)
        s = attr.get("S")
        total += len(s) if s is not None and s.isascii() else _value_size(attr)
    return total


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _comparable(attr: Mapping[str, Any] | None) -> Any:
    if attr is None:
        return None
    (kind, v), *_ = attr.items()
    if kind == "N":
        return ("N", Decimal(v))
    if kind in ("SS", "NS", "BS"):
        return (kind, frozenset(Decimal(x) if kind == "NS" else x for x in v))
    if kind == "L":
        return ("L", tuple(_comparable(x) for x in v))
    if kind == "M":
        return ("M", tuple(sorted((k, _comparable(x)) for k, x in v.items())))
    return (kind, v)


# --- expressions ------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(<>|<=|>=|[=<>()\[\],.+\-]|#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z0-9_]+)")
_KEYWORDS = frozenset({"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"})


@functools.lru_cache(maxsize=256)
def _tokens(text: str) -> tuple[str, ...]:
    out: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError(f"cannot parse expression at {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return tuple(out)


class _Expression:
    """A recursive-descent reader of DynamoDB expressions over one item."""

    def __init__(self, text: str, names: Mapping[str, str], values: Mapping[str, Any]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.names = names
        self.values = values

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok.upper() != expected):
            raise ValueError(f"expected {expected or 'a token'} at token {self.i} of {self.toks}")
        self.i += 1
        return tok

    def at_keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.upper() in words

    # paths: name ( . name | [ n ] )*
    def path(self) -> list[str | int]:
        parts: list[str | int] = [self._name(self.take())]
        while self.peek() in (".", "["):
            if self.take() == ".":
                parts.append(self._name(self.take()))
            else:
                parts.append(int(self.take()))
                self.take("]")
        return parts

    def _name(self, tok: str) -> str:
        if tok.startswith("#"):
            return self.names[tok]
        return tok

    def value(self, tok: str) -> dict[str, Any]:
        return dict(self.values[tok])  # (updates only: conditions read values when they run)


def _get(item: Mapping[str, Any], path: Sequence[str | int]) -> dict[str, Any] | None:
    current: Any = {"M": item}
    for part in path:
        kind, v = next(iter(current.items()))
        if isinstance(part, int):
            if kind != "L" or part >= len(v):
                return None
            current = v[part]
        else:
            if kind != "M" or part not in v:
                return None
            current = v[part]
    return current


def _set(item: dict[str, Any], path: Sequence[str | int], value: dict[str, Any] | None) -> None:
    container: Any = item
    for part in path[:-1]:
        nxt = container[part]
        container = next(iter(nxt.values()))
    last = path[-1]
    if value is None:
        if isinstance(container, list):
            if isinstance(last, int) and last < len(container):
                del container[last]
        else:
            container.pop(last, None)
    elif isinstance(container, list) and isinstance(last, int):
        if last < len(container):
            container[last] = value
        else:
            container.append(value)
    else:
        container[last] = value


Operand = Callable[[Mapping[str, Any], Mapping[str, Any]], "dict[str, Any] | None"]
Predicate = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


class Condition(_Expression):
    """Compiles a condition once into closures over (item, values); see ``condition``."""

    def compile(self) -> Predicate:
        result = self._or()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r} in condition {self.toks}")
        return result

    def _or(self) -> Predicate:
        terms = [self._and()]
        while self.at_keyword("OR"):
            self.take()
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else (lambda item, v: any(t(item, v) for t in terms))

    def _and(self) -> Predicate:
        terms = [self._not()]
        while self.at_keyword("AND"):
            self.take()
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else (lambda item, v: all(t(item, v) for t in terms))

    def _not(self) -> Predicate:
        if self.at_keyword("NOT"):
            self.take()
            inner = self._not()
            return lambda item, v: not inner(item, v)
        return self._primary()

    def _primary(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            inner = self._or()
            self.take(")")
            return inner
        tok = self.peek() or ""
        functions = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
        if tok.lower() in functions and self.toks[self.i + 1 : self.i + 2] == ("(",):
            return self._function()
        left = self._operand()
        if self.at_keyword("BETWEEN"):
            self.take()
            low = self._operand()
            self.take("AND")
            high = self._operand()
            return lambda item, v: _between(_comparable(left(item, v)), low(item, v), high(item, v))
        if self.at_keyword("IN"):
            self.take()
            self.take("(")
            options = [self._operand()]
            while self.peek() == ",":
                self.take()
                options.append(self._operand())
            self.take(")")

            def within(item: Mapping[str, Any], v: Mapping[str, Any]) -> bool:
                found = _comparable(left(item, v))
                return found is not None and found in [_comparable(o(item, v)) for o in options]

            return within
        op = self.take()
        right = self._operand()
        return lambda item, v: _compare(op, _comparable(left(item, v)), _comparable(right(item, v)))

    def _function(self) -> Predicate:
        name = self.take().lower()
        self.take("(")
        path = self.path()
        arg: Operand | None = None
        if self.peek() == ",":
            self.take()
            arg = self._operand()
        self.take(")")
        if name == "attribute_exists":
            return lambda item, v: _get(item, path) is not None
        if name == "attribute_not_exists":
            return lambda item, v: _get(item, path) is None

        def test(item: Mapping[str, Any], v: Mapping[str, Any]) -> bool:
            found = _get(item, path)
            given = arg(item, v) if arg is not None else None
            return found is not None and given is not None and _function_holds(name, found, given)

        return test

    def _operand(self) -> Operand:
        tok = self.peek() or ""
        if tok.startswith(":"):
            name = self.take()
            return lambda item, v: v[name]
        if tok.lower() == "size" and self.toks[self.i + 1 : self.i + 2] == ("(",):
            self.take()
            self.take("(")
            path = self.path()
            self.take(")")

            def size(item: Mapping[str, Any], v: Mapping[str, Any]) -> dict[str, Any] | None:
                found = _get(item, path)
                if found is None:
                    return None
                (kind, x), *_ = found.items()
                return {"N": str(len(x.encode()) if kind == "S" else len(x))}

            return size
        path = self.path()
        if len(path) == 1:
            top = path[0]
            return lambda item, v: item.get(str(top))
        return lambda item, v: _get(item, path)


def _function_holds(name: str, found: dict[str, Any], arg: dict[str, Any]) -> bool:
    (kind, v), *_ = found.items()
    (_, a), *_ = arg.items()
    if name == "attribute_type":
        return bool(kind == a)
    if name == "begins_with":
        return isinstance(v, str | bytes) and v.startswith(a)
    # contains: a substring, a set member or a list element
    if kind == "L":
        return _comparable(arg) in [_comparable(x) for x in v]
    return a in v


@functools.lru_cache(maxsize=256)
def _condition(text: str, names: tuple[tuple[str, str], ...]) -> Predicate:
    return Condition(text, dict(names), {}).compile()


def condition(text: str, names: Mapping[str, str] | None = None) -> Predicate:
    """``text`` compiled (once per text and names): call it with ``(item, ExpressionAttributeValues)``."""
    return _condition(text, tuple(sorted((names or {}).items())))


def _between(value: Any, low: dict[str, Any] | None, high: dict[str, Any] | None) -> bool:
    return _ordered(_comparable(low), value) and _ordered(value, _comparable(high))


def _ordered(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a[0] == b[0] and a[1] <= b[1]


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return left is not None and left == right
    if op == "<>":
        return left is not None and left != right
    if left is None or right is None or left[0] != right[0]:
        return False
    if op == "<":
        return bool(left[1] < right[1])
    if op == "<=":
        return bool(left[1] <= right[1])
    if op == ">":
        return bool(left[1] > right[1])
    if op == ">=":
        return bool(left[1] >= right[1])
    raise ValueError(f"unknown comparator {op!r}")


class Update(_Expression):
    def apply(self, item: dict[str, Any]) -> None:
        while self.peek() is not None:
            clause = self.take().upper()
            action = {"SET": self._set, "REMOVE": self._remove, "ADD": self._add, "DELETE": self._delete}
            if clause not in action:
                raise ValueError(f"unknown update clause {clause!r}")
            action[clause](item)
            while self.peek() == ",":
                self.take()
                action[clause](item)

    def _set(self, item: dict[str, Any]) -> None:
        path = self.path()
        self.take("=")
        value = self._operand(item)
        if self.peek() in ("+", "-"):
            sign = self.take()
            other = self._operand(item)
            a, b = Decimal(value["N"]), Decimal(other["N"])
            value = {"N": str(a + b if sign == "+" else a - b)}
        _set(item, path, value)

    def _operand(self, item: dict[str, Any]) -> dict[str, Any]:
        tok = self.peek() or ""
        if tok.startswith(":"):
            return self.value(self.take())
        if tok.lower() in ("if_not_exists", "list_append") and self.toks[self.i + 1 : self.i + 2] == ("(",):
            name = self.take().lower()
            self.take("(")
            if name == "if_not_exists":
                found = _get(item, self.path())
                self.take(",")
                default = self._operand(item)
                self.take(")")
                return found if found is not None else default
            first = self._operand(item)
            self.take(",")
            second = self._operand(item)
            self.take(")")
            return {"L": [*first["L"], *second["L"]]}
        found = _get(item, self.path())
        if found is None:
            raise ValueError("the document path provided in the update expression is invalid for update")
        return _copy(found)

    def _remove(self, item: dict[str, Any]) -> None:
        path = self.path()
        if _get(item, path[:-1]) is not None or len(path) == 1:
            _set(item, path, None)

    def _add(self, item: dict[str, Any]) -> None:
        path = self.path()
        value = self.value(self.take())
        found = _get(item, path)
        if "N" in value:
            base = Decimal(found["N"]) if found else Decimal(0)
            _set(item, path, {"N": str(base + Decimal(value["N"]))})
        else:
            (kind, members), *_ = value.items()
            old = list(found[kind]) if found else []
            _set(item, path, {kind: old + [m for m in members if m not in old]})

    def _delete(self, item: dict[str, Any]) -> None:
        path = self.path()
        value = self.value(self.take())
        found = _get(item, path)
        if found is None:
            return
        (kind, members), *_ = value.items()
        left = [m for m in found[kind] if m not in members]
        _set(item, path, {kind: left} if left else None)


# --- DynamoDB ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableSchema:
    """Key attribute names and global secondary indexes (name -> (key attributes, projects all))."""

    keys: tuple[str, ...]
    indexes: Mapping[str, tuple[tuple[str, ...], bool]] = field(default_factory=dict)


class _Refused(Exception):
    """A write whose condition did not hold (carries the item, for ReturnValuesOnConditionCheckFailure)."""

    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item


class FakeDynamoDB(_FakeClient):
    """Tables by name; keys from ``schemas`` (or learnt from the first ``Key`` of a get/update)."""

    service = "dynamodb"

    def __init__(
        self, ledger: Ledger, latency: Latency, schemas: Mapping[str, TableSchema] | None = None
    ) -> None:
        super().__init__(ledger, latency)
        self.schemas: dict[str, TableSchema] = dict(schemas or {})
        self.tables: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._sizes: dict[tuple[str, tuple[Any, ...]], int] = {}  # item sizes, computed once per write
        self.exceptions = SimpleNamespace(
            ConditionalCheckFailedException=ClientError,
            TransactionCanceledException=ClientError,
            ClientError=ClientError,
        )

    # state helpers (callers hold the lock)
    def _schema(self, table: str, key: Mapping[str, Any] | None = None) -> TableSchema:
        if table not in self.schemas:
            if key is None:
                raise client_error("PutItem", "ResourceNotFoundException", f"no key schema for {table}")
            self.schemas[table] = TableSchema(tuple(sorted(key)))
        return self.schemas[table]

    def _key(self, table: str, item: Mapping[str, Any], learn: bool = False) -> tuple[Any, ...]:
        schema = self._schema(table, item if learn else None)
        try:
            return tuple(_comparable(item[k]) for k in schema.keys)
        except KeyError:
            raise client_error(
                "PutItem", "ValidationException", f"key attributes {schema.keys} missing for {table}"
            ) from None

    def seed(self, table: str, items: Sequence[Mapping[str, Any]]) -> None:
        """Load plain items (no ledger, no latency): the registry a stack starts with."""
        with self._lock:
            rows = self.tables.setdefault(table, {})
            for plain in items:
                item = marshal_item(plain)
                key = self._key(table, item)
                rows[key] = item
                self._sizes[(table, key)] = item_size(item)

    def _old(self, table: str, key: tuple[Any, ...]) -> dict[str, Any] | None:
        return self.tables.get(table, {}).get(key)

    def _check(self, request: Mapping[str, Any], old: dict[str, Any] | None) -> None:
        expression = request.get("ConditionExpression")
        if expression is None:
            return
        holds = condition(expression, request.get("ExpressionAttributeNames"))
        if not holds(old or {}, request.get("ExpressionAttributeValues", {})):
            raise _Refused(old)

    def _commit(
        self, operation: str, table: str, key: tuple[Any, ...], new: dict[str, Any] | None, factor: int = 1
    ) -> None:
        """Store ``new`` (``None`` deletes) and bill the write, with the GSI writes it causes."""
        old = self._old(table, key)
        old_size = self._sizes.get((table, key), 0)
        new_size = item_size(new)
        rows = self.tables.setdefault(table, {})
        if new is None:
            rows.pop(key, None)
            self._sizes.pop((table, key), None)
        else:
            rows[key] = new
            self._sizes[(table, key)] = new_size
        gsi = sum(
            _gsi_writes(old, new, index_keys, (old_size, new_size) if projects_all else None)
            for index_keys, projects_all in self._schema(table).indexes.values()
        )
        with self.ledger.lock:
            self.ledger.items_written[operation] += 1
            self.ledger.write_units[operation] += factor * _units(max(old_size, new_size), WRITE_UNIT_BYTES)
            self.ledger.gsi_write_units[operation] += gsi

    def _refused(self, operation: str, request: Mapping[str, Any], exc: _Refused) -> ClientError:
        self._add("conflicts", operation, 1)
        self._add("write_units", operation, 1)  # a failed condition still consumes a write unit
        extra: dict[str, Any] = {}
        if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and exc.item:
            extra["Item"] = _copy(exc.item)
        return client_error(
            operation, "ConditionalCheckFailedException", "The conditional request failed", **extra
        )

    # reads
    def get_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            table = kw["TableName"]
            self._schema(table, kw["Key"])
            key = self._key(table, kw["Key"])
            item = self._old(table, key)
            self._bill_read("GetItem", self._sizes.get((table, key), 0), kw.get("ConsistentRead", False))
            return {"Item": _project(item, kw)} if item else {}

        return self._call("GetItem", body)

    def _bill_read(self, operation: str, size: int, consistent: bool) -> None:
        units = _units(size, READ_UNIT_BYTES)
        self._add("read_units", operation, units if consistent else units / 2)

    def batch_get_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            requests = kw["RequestItems"]
            if sum(len(r["Keys"]) for r in requests.values()) > BATCH_GET_MAX_KEYS:
                raise client_error("BatchGetItem", "ValidationException", "Too many items requested")
            responses: dict[str, list[dict[str, Any]]] = {}
            for table, req in requests.items():
                keys = [self._key(table, k, learn=True) for k in req["Keys"]]
                if len(set(keys)) != len(keys):
                    raise client_error(
                        "BatchGetItem",
                        "ValidationException",
                        "Provided list of item keys contains duplicates",
                    )
                found = responses.setdefault(table, [])
                for key in keys:
                    item = self._old(table, key)
                    size = self._sizes.get((table, key), 0)
                    self._bill_read("BatchGetItem", size, req.get("ConsistentRead", False))
                    if item:
                        found.append(_project(item, req))
            return {"Responses": responses, "UnprocessedKeys": {}}

        return self._call("BatchGetItem", body)

    def query(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            self._bill_read("Query", 0, kw.get("ConsistentRead", False))
            return {"Items": [], "Count": 0, "ScannedCount": 0}

        return self._call("Query", body)

    def scan(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            rows = list(self.tables.get(kw["TableName"], {}).values())
            self._bill_read("Scan", sum(item_size(r) for r in rows), False)
            if "FilterExpression" in kw:
                names = kw.get("ExpressionAttributeNames", {})
                values = kw.get("ExpressionAttributeValues", {})
                holds = condition(kw["FilterExpression"], names)
                rows = [r for r in rows if holds(r, values)]
            return {"Items": [_copy(r) for r in rows], "Count": len(rows), "ScannedCount": len(rows)}

        return self._call("Scan", body)

    def get_paginator(self, operation: str) -> Any:
        method = getattr(self, operation)

        def paginate(**kw: Any) -> Iterator[dict[str, Any]]:
            yield method(**kw)

        return SimpleNamespace(paginate=paginate)

    # writes
    def put_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            table, item = kw["TableName"], kw["Item"]
            _check_item(item, "PutItem")
            key = self._key(table, item, learn=False)
            old = self._old(table, key)
            try:
                self._check(kw, old)
            except _Refused as exc:
                raise self._refused("PutItem", kw, exc) from None
            self._commit("PutItem", table, key, _copy(dict(item)))
            return {"Attributes": _copy(old)} if kw.get("ReturnValues") == "ALL_OLD" and old else {}

        return self._call("PutItem", body)

    def update_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            table = kw["TableName"]
            self._schema(table, kw["Key"])
            key = self._key(table, kw["Key"])
            old = self._old(table, key)
            try:
                self._check(kw, old)
            except _Refused as exc:
                raise self._refused("UpdateItem", kw, exc) from None
            new = self._updated(kw, old)
            self._commit("UpdateItem", table, key, new)
            returns = kw.get("ReturnValues", "NONE")
            if returns in ("ALL_NEW", "UPDATED_NEW"):
                return {"Attributes": _copy(new)}
            if returns in ("ALL_OLD", "UPDATED_OLD") and old:
                return {"Attributes": _copy(old)}
            return {}

        return self._call("UpdateItem", body)

    @staticmethod
    def _updated(kw: Mapping[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
        new = _copy(old) if old else {k: dict(v) for k, v in kw["Key"].items()}
        if "UpdateExpression" in kw:
            Update(
                kw["UpdateExpression"],
                kw.get("ExpressionAttributeNames", {}),
                kw.get("ExpressionAttributeValues", {}),
            ).apply(new)
        return new

    def delete_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            table = kw["TableName"]
            self._schema(table, kw["Key"])
            key = self._key(table, kw["Key"])
            try:
                self._check(kw, self._old(table, key))
            except _Refused as exc:
                raise self._refused("DeleteItem", kw, exc) from None
            self._commit("DeleteItem", table, key, None)
            return {}

        return self._call("DeleteItem", body)

    def batch_write_item(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            requests = kw["RequestItems"]
            if sum(len(r) for r in requests.values()) > BATCH_WRITE_MAX_ITEMS:
                raise client_error("BatchWriteItem", "ValidationException", "Too many items requested")
            planned: list[tuple[str, tuple[Any, ...], dict[str, Any] | None]] = []
            for table, writes in requests.items():
                for w in writes:
                    if "PutRequest" in w:
                        item = w["PutRequest"]["Item"]
                        _check_item(item, "BatchWriteItem")
                        planned.append((table, self._key(table, item), _copy(dict(item))))
                    else:
                        key_attrs = w["DeleteRequest"]["Key"]
                        planned.append((table, self._key(table, key_attrs, learn=True), None))
            if len({(t, k) for t, k, _ in planned}) != len(planned):
                raise client_error(
                    "BatchWriteItem", "ValidationException", "Provided list of item keys contains duplicates"
                )
            for table, key, new in planned:
                self._commit("BatchWriteItem", table, key, new)
            return {"UnprocessedItems": {}}

        return self._call("BatchWriteItem", body)

    def transact_write_items(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            actions = kw["TransactItems"]
            if len(actions) > TRANSACT_MAX_ITEMS:
                raise client_error("TransactWriteItems", "ValidationException", "Too many items")
            planned, reasons = self._plan_transaction(actions)
            if any(r["Code"] != "None" for r in reasons):
                self._add("conflicts", "TransactWriteItems", 1)
                raise client_error(
                    "TransactWriteItems",
                    "TransactionCanceledException",
                    "Transaction cancelled, please refer cancellation reasons for specific reasons "
                    f"[{', '.join(r['Code'] for r in reasons)}]",
                    CancellationReasons=reasons,
                )
            for table, key, new in planned:
                self._commit("TransactWriteItems", table, key, new, factor=2)  # transactional: 2 units
            return {}

        return self._call("TransactWriteItems", body)

    def _plan_transaction(
        self, actions: Sequence[Mapping[str, Any]]
    ) -> tuple[list[tuple[str, tuple[Any, ...], dict[str, Any] | None]], list[dict[str, Any]]]:
        planned: list[tuple[str, tuple[Any, ...], dict[str, Any] | None]] = []
        reasons: list[dict[str, Any]] = []
        for action in actions:
            (kind, req), *_ = action.items()
            table = req["TableName"]
            if kind == "Put":
                _check_item(req["Item"], "TransactWriteItems")
                key = self._key(table, req["Item"])
            else:
                self._schema(table, req["Key"])
                key = self._key(table, req["Key"])
            old = self._old(table, key)
            try:
                self._check(req, old)
            except _Refused as exc:
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": "condition failed"}
                if req.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and exc.item:
                    reason["Item"] = _copy(exc.item)
                reasons.append(reason)
                continue
            reasons.append({"Code": "None"})
            if kind == "Put":
                planned.append((table, key, _copy(dict(req["Item"]))))
            elif kind == "Update":
                planned.append((table, key, self._updated(req, old)))
            elif kind == "Delete":
                planned.append((table, key, None))
        if len({(t, k) for t, k, _ in planned}) != len(planned):
            raise client_error(
                "TransactWriteItems",
                "ValidationException",
                "Transaction request cannot include multiple operations on one item",
            )
        return planned, reasons


def _project(item: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    projection = request.get("ProjectionExpression")
    if not projection:
        return _copy(item)
    names = request.get("ExpressionAttributeNames", {})
    wanted = {names.get(p.strip(), p.strip()).split(".")[0] for p in projection.split(",")}
    return _copy({k: v for k, v in item.items() if k in wanted})


def _gsi_writes(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    keys: tuple[str, ...],
    sizes: tuple[int, int] | None,
) -> int:
    """Write units one table write costs an index (developer guide, "Provisioned throughput
    considerations for GSIs"): a put when the item enters, a delete when it leaves, both when its index
    key changes, one when a projected attribute changes. ``sizes`` (old, new) for an ALL projection,
    ``None`` for a keys-only one."""
    old_item: Mapping[str, Any] = old or {}
    new_item: Mapping[str, Any] = new or {}
    old_in = bool(old_item) and all(k in old_item for k in keys)
    new_in = bool(new_item) and all(k in new_item for k in keys)

    def units(item: Mapping[str, Any], size: int) -> int:
        entry = size if sizes is not None else item_size({k: item[k] for k in keys})
        return _units(entry, WRITE_UNIT_BYTES)

    old_size, new_size = sizes or (0, 0)
    if old_in and new_in:
        if any(_comparable(old_item[k]) != _comparable(new_item[k]) for k in keys):
            return units(old_item, old_size) + units(new_item, new_size)
        return units(new_item, new_size) if sizes is not None and old_item != new_item else 0
    if new_in:
        return units(new_item, new_size)
    if old_in:
        return units(old_item, old_size)
    return 0


# --- S3, SNS, EventBridge ---------------------------------------------------------------------------------


class FakeS3(_FakeClient):
    service = "s3"

    def __init__(self, ledger: Ledger, latency: Latency) -> None:
        super().__init__(ledger, latency)
        self.objects: dict[tuple[str, str], int] = {}  # (bucket, key) -> size; bodies are not kept
        self._etags = itertools.count(1)

    def put_object(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            data = kw.get("Body", b"")
            size = len(data if isinstance(data, bytes | str) else data.read())
            self.objects[(kw["Bucket"], kw["Key"])] = size
            self._add("billed", "s3:PutObject", 1)
            self._add("billed", "s3:bytes", size)
            return {"ETag": f'"{next(self._etags):032x}"'}

        return self._call("PutObject", body)


def _chunks(size: int) -> int:
    return max(1, math.ceil(size / PUBLISH_CHUNK_BYTES))


class FakeSNS(_FakeClient):
    service = "sns"

    def __init__(self, ledger: Ledger, latency: Latency) -> None:
        super().__init__(ledger, latency)
        self._ids = itertools.count(1)
        self.published = 0

    @staticmethod
    def _size(entry: Mapping[str, Any]) -> int:
        size = len(entry["Message"].encode())
        for name, attr in entry.get("MessageAttributes", {}).items():
            size += len(name) + len(attr.get("DataType", "")) + len(str(attr.get("StringValue", "")))
        return size

    def publish(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            self.published += 1
            self._add("billed", "sns:publishes", _chunks(self._size(kw)))
            return {"MessageId": f"msg-{next(self._ids)}"}

        return self._call("Publish", body)

    def publish_batch(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            entries = kw["PublishBatchRequestEntries"]
            if len(entries) > PUBLISH_BATCH_MAX_ENTRIES:
                raise client_error("PublishBatch", "TooManyEntriesInBatchRequest", "more than 10 entries")
            if len({e["Id"] for e in entries}) != len(entries):
                raise client_error("PublishBatch", "BatchEntryIdsNotDistinct", "Ids must be distinct")
            sizes = [self._size(e) for e in entries]
            if sum(sizes) > PUBLISH_BATCH_MAX_BYTES:
                raise client_error("PublishBatch", "BatchRequestTooLong", "batch over 262,144 bytes")
            self.published += len(entries)
            # Each message of a batch is billed as a request, per 64 KB chunk (SNS pricing page).
            self._add("billed", "sns:publishes", sum(_chunks(s) for s in sizes))
            ok = [{"Id": e["Id"], "MessageId": f"msg-{next(self._ids)}"} for e in entries]
            return {"Successful": ok, "Failed": []}

        return self._call("PublishBatch", body)


class FakeEventBridge(_FakeClient):
    service = "events"

    def __init__(self, ledger: Ledger, latency: Latency) -> None:
        super().__init__(ledger, latency)
        self._ids = itertools.count(1)
        self.published = 0

    def put_events(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            entries = kw["Entries"]
            if len(entries) > PUT_EVENTS_MAX_ENTRIES:
                raise client_error("PutEvents", "ValidationException", "more than 10 entries")
            self.published += len(entries)
            sizes = [len(e.get("Detail", "").encode()) + len(e.get("DetailType", "")) for e in entries]
            self._add("billed", "events:events", sum(_chunks(s) for s in sizes))
            return {"FailedEntryCount": 0, "Entries": [{"EventId": f"ev-{next(self._ids)}"} for _ in entries]}

        return self._call("PutEvents", body)


def glue_version_id(registry: str, schema_name: str, definition: str) -> uuid.UUID:
    """The id ``FakeGlue.register`` gives a version: known before the stack exists (workloads need it)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bench:{registry}/{schema_name}/{definition}")


class FakeGlue(_FakeClient):
    """The schema registry calls the ingest path makes: ``GetSchemaVersion`` by version id. Versions are
    registered up front (``register``), with ids derived from registry, schema and definition, so a run's
    Glue-framed records are the same bytes every time."""

    service = "glue"

    def __init__(self, ledger: Ledger, latency: Latency) -> None:
        super().__init__(ledger, latency)
        self.versions: dict[str, dict[str, Any]] = {}  # version id -> GetSchemaVersion response

    def register(self, registry: str, schema_name: str, definition: str, number: int) -> str:
        version_id = str(glue_version_id(registry, schema_name, definition))
        self.versions[version_id] = {
            "SchemaVersionId": version_id,
            "SchemaDefinition": definition,
            "DataFormat": "AVRO",
            "SchemaArn": f"arn:aws:glue:us-east-1:123456789012:schema/{registry}/{schema_name}",
            "VersionNumber": number,
            "Status": "AVAILABLE",
        }
        return version_id

    def get_schema_version(self, **kw: Any) -> dict[str, Any]:
        def body() -> dict[str, Any]:
            found = self.versions.get(kw.get("SchemaVersionId", ""))
            if found is None:
                raise client_error("GetSchemaVersion", "EntityNotFoundException", "Schema version not found")
            return dict(found)

        return self._call("GetSchemaVersion", body)


@dataclass
class FakeAws:
    """One stack's clients, sharing a ledger and a latency setting."""

    ledger: Ledger
    latency: Latency
    dynamodb: FakeDynamoDB
    s3: FakeS3
    sns: FakeSNS
    events: FakeEventBridge
    glue: FakeGlue

    @classmethod
    def build(cls, schemas: Mapping[str, TableSchema], latency: Latency | None = None) -> FakeAws:
        ledger, lat = Ledger(), latency or Latency()
        return cls(
            ledger,
            lat,
            FakeDynamoDB(ledger, lat, schemas),
            FakeS3(ledger, lat),
            FakeSNS(ledger, lat),
            FakeEventBridge(ledger, lat),
            FakeGlue(ledger, lat),
        )

    def clients(self) -> StrictClients:
        return StrictClients(
            dynamodb=self.dynamodb, s3=self.s3, sns=self.sns, events=self.events, glue=self.glue
        )


class StrictClients(dict[str, Any]):
    """The ``clients`` mapping for ``bootstrap``: asking for a service the bench has no fake for fails
    loudly rather than letting an adapter fall back to a real boto3 client."""

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self:
            raise KeyError(f"the benchmark has no in-memory client for {key!r}; add one to aws_fakes.py")
        return self[key]
