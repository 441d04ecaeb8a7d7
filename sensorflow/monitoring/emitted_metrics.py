"""The EMF metrics the functions' code emits, read from its source (AST), with their dimension names.

What Powertools writes (``aws_lambda_powertools.metrics``):

- ``metrics.add_metric(name=...)`` on the shared ``Metrics(namespace=..., service=...)`` object: that
  namespace, dimension ``service`` (Powertools adds it when ``service`` is set);
- ``with single_metric(name=..., namespace=..., default_dimensions={...}) as m: m.add_dimension(name=...)``:
  that namespace, the default dimensions' keys plus the added ones;
- a helper that passes its parameters as those names (``_by_dimension("X", "reason", ...)`` in ingest)
  emits what each call passes.

Names and namespaces are string constants, or module-level constants (``NAMESPACE``) of the scanned code.
A name built at run time (an f-string) is kept with ``*`` for its variable part, so it matches no widget.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# The code that runs in Lambda (serverless.yml package.patterns keeps the tool folders out).
TOOL_FOLDERS = ("cli", "simulate", "localcloud", "monitoring")


@dataclass(frozen=True, slots=True)
class Emitted:
    namespace: str
    name: str
    dimensions: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Helper:
    """A function whose parameters name a ``single_metric``'s metric and added dimension."""

    name_param: int
    dimension_param: int | None
    namespace: str
    dimensions: frozenset[str]


def shipped_sources(root: Path) -> list[Path]:
    package = root / "sensorflow"
    sources = [p for p in package.rglob("*.py") if p.relative_to(package).parts[0] not in TOOL_FOLDERS]
    return sorted([*sources, *(root / "handlers").glob("*.py")])


def _constants(trees: Iterable[ast.Module]) -> dict[str, str]:
    """Module-level ``NAME = "text"`` of every module (the code imports them by the same name)."""
    out: dict[str, str] = {}
    for tree in trees:
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str):
                    out.update({t.id: value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _text(node: ast.expr | None, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)  # type: ignore[misc]
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


class _Scan(ast.NodeVisitor):
    """One walk of a module: every call by the name called, and each ``with single_metric(...)`` with
    the function around it."""

    def __init__(self) -> None:
        self.calls: dict[str, list[ast.Call]] = {}
        self.single_metrics: list[tuple[ast.Call, ast.With, ast.FunctionDef | None]] = []
        self._functions: list[ast.FunctionDef] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._functions.append(node)
        self.generic_visit(node)
        self._functions.pop()

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            call = item.context_expr
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) == "single_metric":
                self.single_metrics.append((call, node, self._functions[-1] if self._functions else None))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if called:
            self.calls.setdefault(called, []).append(node)
        self.generic_visit(node)


def _scan(tree: ast.Module) -> _Scan:
    scan = _Scan()
    scan.visit(tree)
    return scan


def _inner_calls(node: ast.AST, attribute: str) -> list[ast.Call]:
    return _scan(ast.Module(body=[node], type_ignores=[])).calls.get(attribute, [])  # type: ignore[list-item]


def _param_index(function: ast.FunctionDef | None, node: ast.expr | None) -> int | None:
    if function is None or not isinstance(node, ast.Name):
        return None
    names = [a.arg for a in function.args.args]
    return names.index(node.id) if node.id in names else None


def _single_metric(
    call: ast.Call, with_: ast.With, function: ast.FunctionDef | None, constants: dict[str, str]
) -> tuple[set[Emitted], dict[str, _Helper]]:
    defaults = _keyword(call, "default_dimensions")
    keys = frozenset(t for k in getattr(defaults, "keys", []) if (t := _text(k, constants)) is not None)
    namespace = _text(_keyword(call, "namespace"), constants) or ""
    name_node = _keyword(call, "name")
    emitted: set[Emitted] = set()
    helpers: dict[str, _Helper] = {}
    for dim_node in [_keyword(c, "name") for c in _inner_calls(with_, "add_dimension")] or [None]:
        name_param = _param_index(function, name_node)
        if name_param is not None and function is not None:
            helpers[function.name] = _Helper(name_param, _param_index(function, dim_node), namespace, keys)
            continue
        name, dimension = _text(name_node, constants), _text(dim_node, constants)
        if name is not None:
            emitted.add(Emitted(namespace, name, keys | ({dimension} if dimension else set())))
    return emitted, helpers


def emitted_metrics(root: Path) -> frozenset[Emitted]:
    texts = [p.read_text(encoding="utf-8") for p in shipped_sources(root)]
    # only modules that can emit or name one (the constants come from these too); parsing is the cost
    trees = [ast.parse(text) for text in texts if "metric" in text.lower()]
    scans = [_scan(tree) for tree in trees]
    constants = _constants(trees)
    [shared] = [c for scan in scans for c in scan.calls.get("Metrics", [])]
    namespace = _text(_keyword(shared, "namespace"), constants)
    assert namespace is not None, "Metrics(namespace=...) must be a constant"
    shared_dims = frozenset({"service"} if _keyword(shared, "service") is not None else set())
    out: set[Emitted] = set()
    helpers: dict[str, _Helper] = {}
    for scan in scans:
        for call in scan.calls.get("add_metric", []):
            name = _text(_keyword(call, "name"), constants)
            if name is not None:
                out.add(Emitted(namespace, name, shared_dims))
        for call, with_, function in scan.single_metrics:
            emitted, found = _single_metric(call, with_, function, constants)
            out |= emitted
            helpers.update(found)
    for scan in scans:
        for helper_name, helper in helpers.items():
            for call in scan.calls.get(helper_name, []):
                out.update(_helper_call(call, helper, constants))
    return frozenset(out)


def _helper_call(call: ast.Call, helper: _Helper, constants: dict[str, str]) -> Iterator[Emitted]:
    def arg(index: int | None) -> str | None:
        return _text(call.args[index], constants) if index is not None and index < len(call.args) else None

    name = arg(helper.name_param)
    if name is not None:
        dimension = arg(helper.dimension_param)
        yield Emitted(helper.namespace, name, helper.dimensions | ({dimension} if dimension else set()))
