"""BACKWARD compatibility of Avro schemas: can a reader with the new schema read data the old one wrote?

fastavro resolves a writer schema against a reader schema while reading, but has no checker, and moto's
Glue does not enforce compatibility modes. This follows the Avro specification's schema resolution rules
(avro.apache.org/docs/1.11.1/specification/#schema-resolution):

- primitives match, or promote: int to long, float or double; long to float or double; float to double;
  string to bytes and bytes to string; logical types resolve as their underlying type;
- records match by full name (or a reader alias); each reader field is read from the writer field of the
  same name (or alias), or takes its default: a reader field the writer lacks needs a ``default``. Writer
  fields the reader lacks are skipped;
- enums match by name; a writer symbol the reader lacks needs the reader's ``default`` symbol;
- arrays and maps resolve their items and values; fixed types match by name and size;
- a writer union resolves branch by branch (every branch must be readable); a reader union takes the first
  branch that matches a non-union writer.

``problems(reader, writer)`` returns one message per violation, naming the path to the field.
"""

from __future__ import annotations

from typing import Any

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_COMPLEX = frozenset({"record", "enum", "fixed", "array", "map"})
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


def problems(reader: Any, writer: Any) -> list[str]:
    """Why ``reader`` cannot read everything ``writer`` writes (empty: it can). Schemas as JSON."""
    return _Checker().check(reader, writer, _name_of(reader) or "$")


class _Checker:
    def __init__(self) -> None:
        self.reader_named: dict[str, Any] = {}
        self.writer_named: dict[str, Any] = {}
        self.seen: set[tuple[str, str]] = set()  # named pairs already compared (recursive types)

    def check(self, reader: Any, writer: Any, path: str, ns: tuple[str, str] = ("", "")) -> list[str]:
        reader, rns = self._resolve(reader, self.reader_named, ns[0])
        writer, wns = self._resolve(writer, self.writer_named, ns[1])
        if isinstance(writer, list):
            out: list[str] = []
            for branch in writer:
                out += self.check(reader, branch, path, (rns, wns))
            return out
        if isinstance(reader, list):
            for branch in reader:
                if not self._probe(branch, writer, rns, wns):
                    return []
            return [f"{path}: no branch of the reader's union reads the writer's {_describe(writer)}"]
        rtype, wtype = _type_of(reader), _type_of(writer)
        if rtype in _PRIMITIVES or wtype in _PRIMITIVES:
            if rtype == wtype or rtype in _PROMOTIONS.get(wtype, frozenset()):
                return []
            return [f"{path}: the writer's {wtype} cannot be read as {rtype}"]
        if rtype != wtype:
            return [f"{path}: the writer's {wtype} cannot be read as {rtype}"]
        if rtype in ("array", "map"):
            part = "items" if rtype == "array" else "values"
            return self.check(
                reader[part], writer[part], f"{path}{'[]' if rtype == 'array' else '{}'}", (rns, wns)
            )
        return self._named(reader, writer, path, rns, wns)

    def _named(self, reader: Any, writer: Any, path: str, rns: str, wns: str) -> list[str]:
        rtype = _type_of(reader)
        rname, wname = _full_name(reader, rns), _full_name(writer, wns)
        if wname != rname and wname not in _aliases(reader, rns):
            return [f"{path}: the writer's {rtype} {wname} is not the reader's {rname}"]
        if rtype == "record":
            if (rname, wname) in self.seen:
                return []
            self.seen.add((rname, wname))
            return self._record(reader, writer, path, (_namespace(rname), _namespace(wname)))
        if rtype == "enum":
            return _enum(reader, writer, path)
        if rtype == "fixed":
            ok = reader["size"] == writer["size"]
            return [] if ok else [f"{path}: fixed size {writer['size']} cannot be read as {reader['size']}"]
        return [f"{path}: unknown type {rtype!r}"]

    def _record(self, reader: Any, writer: Any, path: str, ns: tuple[str, str]) -> list[str]:
        written = {f["name"]: f for f in writer["fields"]}
        out: list[str] = []
        for field in reader["fields"]:
            name = field["name"]
            source = next(
                (written[n] for n in (name, *field.get("aliases", ())) if n in written),
                None,
            )
            where = f"{path}.{name}"
            if source is not None:
                out += self.check(field["type"], source["type"], where, ns)
            elif "default" not in field:
                out.append(
                    f"{where}: field {name!r} is new without a default; data written before cannot fill it"
                )
        return out

    def _probe(self, reader: Any, writer: Any, rns: str, wns: str) -> list[str]:
        probe = _Checker()
        probe.reader_named, probe.writer_named = self.reader_named, self.writer_named
        return probe.check(reader, writer, "", (rns, wns))

    @staticmethod
    def _resolve(schema: Any, named: dict[str, Any], ns: str) -> tuple[Any, str]:
        """A named reference replaced by its definition; a definition remembered by its full name."""
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return schema, ns
            full = schema if "." in schema else (f"{ns}.{schema}" if ns else schema)
            if full not in named:
                raise ValueError(f"unknown named type {schema!r}")
            return named[full], _namespace(full)
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            full = _full_name(schema, ns)
            named.setdefault(full, schema)
            return schema, _namespace(full)
        if isinstance(schema, dict) and (
            isinstance(schema.get("type"), (dict, list)) or schema.get("type") not in _PRIMITIVES | _COMPLEX
        ):
            return _Checker._resolve(schema["type"], named, ns)
        return schema, ns


def _enum(reader: Any, writer: Any, path: str) -> list[str]:
    missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
    if missing and "default" not in reader:
        return [f"{path}: enum symbols {missing} are gone and the reader's enum has no default"]
    return []


def _type_of(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    t = schema["type"]
    return t if isinstance(t, str) else _type_of(t)


def _name_of(schema: Any) -> str | None:
    return schema.get("name") if isinstance(schema, dict) else None


def _full_name(schema: Any, ns: str) -> str:
    name = schema["name"]
    if "." in name:
        return str(name)
    space = schema.get("namespace", ns)
    return f"{space}.{name}" if space else str(name)


def _namespace(full: str) -> str:
    return full.rpartition(".")[0]


def _aliases(schema: Any, ns: str) -> set[str]:
    space = schema.get("namespace", ns)
    return {a if "." in a or not space else f"{space}.{a}" for a in schema.get("aliases", ())}


def _describe(schema: Any) -> str:
    t = _type_of(schema)
    return f"{t} {schema['name']}" if isinstance(schema, dict) and "name" in schema else t
