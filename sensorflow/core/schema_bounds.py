"""Bounds on what a writer schema can make the decoder do, checked once per writer schema, before any body.

A Glue-framed record names its writer schema, and whoever may ``glue:RegisterSchemaVersion`` in the stage's
registry writes that schema. BACKWARD compatibility lets a version add fields, which the reader skips, and
fastavro skips a field by reading it. So the cost of a record is the writer's to choose, unless the writer
is bounded. fastavro 1.13.1, measured (``tests/unit/test_schema_bombs.py``):

- **Items of zero bytes.** An array block starts with its item count, a varint: 10 bytes claim 2**63 items.
  Items of at least one byte end at EOF after at most the body's length (1 KiB), but items that encode in no
  bytes (``null``, a ``fixed`` of size 0, a record of only such fields) are all "there": 10**7 of them took
  0.7 s in a 64-byte record (the ``array<null>`` bomb). Map entries always have a key (its length byte), so
  maps are bounded by the bytes.
- **Recursion.** fastavro's C reader recurses with no depth check. A record that contains itself through
  records only (``Node {next: Node}``) has no finite value, and the first record naming it overflowed the C
  stack (SIGSEGV: in Lambda a dead container and a retried batch, a stalled shard); a recursive type with a
  base case (a list through a union) takes one level per byte or fewer, and crashed past ~15,000 levels.
  Refused outright: the reader (``SensorReading``) has no recursive type, so the resolution rules
  (``core.compatibility``) only let a recursive writer type sit in a field the reader skips.
- **Depth and size.** Without recursion the reader's stack depth is the schema's nesting depth, and each byte
  of body makes it visit at most the schema's (expanded) size in nodes: ``MAX_DEPTH`` and ``MAX_NODES`` bound
  both, far above the reading schema (depth 3, 14 nodes).

``problems(schema)`` works on a parsed schema (``fastavro.parse_schema``: full names, later uses by name) or
plain JSON, never raises, and never recurses deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Nesting of types (a record's field types are one level below it). The reading schema is 3 deep.
MAX_DEPTH = 32
# Types visited to read one value, named types counted at each use. The reading schema has 14.
MAX_NODES = 512

# The fewest bytes a value of each primitive type takes: a null none, a boolean one, an int, long, string
# or bytes their first varint byte, a float 4 and a double 8 (Avro specification, "Binary Encoding").
_PRIMITIVE_BYTES = {
    "null": 0,
    "boolean": 1,
    "int": 1,
    "long": 1,
    "float": 4,
    "double": 8,
    "bytes": 1,
    "string": 1,
}


@dataclass(frozen=True, slots=True)
class _Shape:
    min_bytes: int  # the fewest bytes a value encodes in
    nodes: int  # types visited to read one value
    depth: int  # nesting depth of the reading


_LEAF = _Shape(1, 1, 1)


class _TooDeepError(Exception):
    """Raised to unwind a walk past ``MAX_DEPTH`` (the walk itself must not recurse without bound)."""


def problems(schema: Any) -> list[str]:
    """Why records of the writer ``schema`` could cost more to decode than their bytes allow (empty: none)."""
    walk = _Walk()
    try:
        shape = walk.type_of(schema, "$", "", 1)
    except _TooDeepError as exc:
        return [f"{exc}: nested deeper than {MAX_DEPTH} types"]
    out = walk.problems
    if shape.depth > MAX_DEPTH:
        out.append(f"$: nested deeper than {MAX_DEPTH} types ({shape.depth}, named types expanded)")
    if shape.nodes > MAX_NODES:
        out.append(f"$: {shape.nodes} nodes to read one value (named types at each use); at most {MAX_NODES}")
    return out


class _Walk:
    def __init__(self) -> None:
        self.named: dict[str, _Shape] = {}  # named types already walked
        self.open: list[str] = []  # named types being walked (a use of one of these is recursion)
        self.problems: list[str] = []

    def type_of(self, schema: Any, path: str, ns: str, depth: int) -> _Shape:
        if depth > MAX_DEPTH:
            raise _TooDeepError(path)
        if isinstance(schema, list):
            return self._union(schema, path, ns, depth)
        if isinstance(schema, str):
            return self._name(schema, path, ns)
        kind = schema.get("type") if isinstance(schema, dict) else None
        if isinstance(kind, (dict, list)):  # {"type": {...}}: a wrapped type
            return self.type_of(kind, path, ns, depth)
        if kind in _PRIMITIVE_BYTES:  # with or without a logical type
            return _Shape(_PRIMITIVE_BYTES[str(kind)], 1, 1)
        if kind in ("array", "map"):
            return self._container(schema, str(kind), path, ns, depth)
        if kind in ("record", "error", "enum", "fixed") and isinstance(schema.get("name"), str):
            return self._named(schema, str(kind), path, ns, depth)
        self.problems.append(f"{path}: not an Avro type ({_describe(schema)})")
        return _LEAF

    def _union(self, branches: list[Any], path: str, ns: str, depth: int) -> _Shape:
        if not branches:
            self.problems.append(f"{path}: an empty union")
            return _LEAF
        shapes = [self.type_of(b, f"{path}|{i}", ns, depth + 1) for i, b in enumerate(branches)]
        # the branch index is a varint, a byte at least; reading visits one branch
        return _Shape(1, 1 + max(s.nodes for s in shapes), 1 + max(s.depth for s in shapes))

    def _name(self, name: str, path: str, ns: str) -> _Shape:
        if name in _PRIMITIVE_BYTES:
            return _Shape(_PRIMITIVE_BYTES[name], 1, 1)
        full = name if "." in name or not ns else f"{ns}.{name}"
        if full in self.open:
            self.problems.append(
                f"{path}: {full} contains itself (a recursive type; fastavro recurses with no depth limit)"
            )
            return _LEAF
        found = self.named.get(full) or self.named.get(name)
        if found is None:
            self.problems.append(f"{path}: unknown named type {name!r}")
            return _LEAF
        return found

    def _container(self, schema: dict[str, Any], kind: str, path: str, ns: str, depth: int) -> _Shape:
        part, mark = ("items", "[]") if kind == "array" else ("values", "{}")
        if part not in schema:
            self.problems.append(f"{path}: {kind} without {part}")
            return _LEAF
        inner = self.type_of(schema[part], path + mark, ns, depth + 1)
        if kind == "array" and inner.min_bytes == 0:
            self.problems.append(
                f"{path}{mark}: array items encode in zero bytes, so a block's count alone (10 bytes) "
                "can claim 2**63 of them"
            )
        # an empty array or map is its closing zero count: one byte
        return _Shape(1, 1 + inner.nodes, 1 + inner.depth)

    def _named(self, schema: dict[str, Any], kind: str, path: str, ns: str, depth: int) -> _Shape:
        name = str(schema["name"])
        space = schema.get("namespace", ns) if "." not in name else name.rpartition(".")[0]
        full = name if "." in name or not space else f"{space}.{name}"
        if kind == "enum":
            shape = _LEAF  # the symbol's index, a varint
        elif kind == "fixed":
            size = schema.get("size")
            shape = _Shape(size if isinstance(size, int) and size >= 0 else 1, 1, 1)
        else:
            shape = self._record(schema, full, path, space or "", depth)
        self.named[full] = shape
        return shape

    def _record(self, schema: dict[str, Any], full: str, path: str, ns: str, depth: int) -> _Shape:
        fields = schema.get("fields")
        if not isinstance(fields, list):
            self.problems.append(f"{path}: record {full} without a list of fields")
            return _LEAF
        self.open.append(full)
        try:
            shapes = [
                self.type_of(
                    f.get("type") if isinstance(f, dict) else None, f"{path}.{_field(f)}", ns, depth + 1
                )
                for f in fields
            ]
        finally:
            self.open.pop()
        return _Shape(
            sum(s.min_bytes for s in shapes),
            1 + sum(s.nodes for s in shapes),
            1 + max((s.depth for s in shapes), default=0),
        )


def _field(field: Any) -> str:
    return str(field.get("name", "?")) if isinstance(field, dict) else "?"


def _describe(schema: Any) -> str:
    text = repr(schema)
    return text if len(text) <= 60 else text[:57] + "..."
