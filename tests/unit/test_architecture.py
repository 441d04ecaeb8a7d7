"""The package's shape, checked from the source (AST), independent of the working directory.

- no import cycles in ``sensorflow/`` (imports under ``TYPE_CHECKING`` count: a cycle in types is a
  cycle in the design);
- ``core`` imports only ``core``, the standard library and fastavro; ``adapters`` import only ``core``
  and each other; ``services`` never import an adapter; only ``bootstrap`` wires adapters into services;
- shipped code never imports the tools (``cli``, ``simulate``, ``localcloud``), and the local cloud's
  ``emulator`` knows nothing of sensorflow;
- a handful of root modules, and each module name once.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sensorflow"
TOOLS = ("sensorflow.cli", "sensorflow.simulate", "sensorflow.localcloud")
ENVELOPES = "sensorflow.adapters.lambda_events"  # handlers parse their event with it


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[str]:
    """Every module name ``path`` imports (absolute, relative resolved), at any depth of the file."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def internal(path: Path) -> set[str]:
    """The sensorflow modules ``path`` depends on (``from pkg import name`` resolves to the module)."""
    own = module_name(path)
    out = set()
    for name in imported(path):
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name and name != own and not own.startswith(name + "."):
            out.add(name)
    return out


GRAPH = {name: internal(path) for name, path in MODULES.items()}


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_package_is_found():
    # Guards against a vacuous pass: the checks below see the real tree wherever pytest runs from.
    assert {"sensorflow.core.records", "sensorflow.services.ingest", "sensorflow.bootstrap"} <= set(MODULES)


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def third_party(path: Path) -> set[str]:
    tops = {n.split(".")[0] for n in imported(path)}
    return {
        t for t in tops if t and t not in sys.stdlib_module_names and t not in ("sensorflow", "__future__")
    }


def test_core_is_pure():
    offenders = {}
    for name, path in MODULES.items():
        if within(name, "sensorflow.core"):
            outside = {m for m in GRAPH[name] if not within(m, "sensorflow.core")} | (
                third_party(path) - {"fastavro"}
            )
            if outside:
                offenders[name] = sorted(outside)
    assert offenders == {}


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        ("sensorflow.adapters", ("sensorflow.core", "sensorflow.adapters")),
        ("sensorflow.services", ("sensorflow.core", "sensorflow.services", "sensorflow.observability")),
    ],
)
def test_layers_import_only_what_is_below_them(layer: str, allowed: tuple[str, ...]):
    offenders = {
        name: sorted(m for m in deps if not within(m, *allowed))
        for name, deps in GRAPH.items()
        if within(name, layer) and any(not within(m, *allowed) for m in deps)
    }
    assert offenders == {}


def test_only_bootstrap_wires_adapters_into_services():
    offenders = sorted(
        name
        for name, deps in GRAPH.items()
        if name != "sensorflow.bootstrap"
        and not within(name, "sensorflow.adapters")
        and any(within(m, "sensorflow.services") for m in deps)
        and any(within(m, "sensorflow.adapters") and m != ENVELOPES for m in deps)
    )
    assert offenders == []


def test_shipped_code_never_imports_the_tools():
    offenders = {
        name: sorted(m for m in deps if within(m, *TOOLS))
        for name, deps in GRAPH.items()
        if not within(name, *TOOLS) and any(within(m, *TOOLS) for m in deps)
    }
    assert offenders == {}


def test_the_emulator_knows_nothing_of_sensorflow():
    emulator = "sensorflow.localcloud.emulator"
    offenders = {
        name: sorted(m for m in deps if not within(m, emulator))
        for name, deps in GRAPH.items()
        if within(name, emulator) and any(not within(m, emulator) for m in deps)
    }
    assert offenders == {}


def test_handlers_are_thin_entry_points():
    allowed = ("sensorflow.bootstrap", "sensorflow.observability", "sensorflow.services", ENVELOPES)
    offenders = {}
    for path in sorted((ROOT / "handlers").glob("[!_]*.py")):
        deps = {n for n in imported(path) if n.startswith("sensorflow")}
        wrong = sorted(n for n in deps if not within(n, *allowed) and n != "sensorflow")
        if wrong or "boto3" in {n.split(".")[0] for n in imported(path)}:
            offenders[path.name] = wrong
    assert offenders == {}


def test_few_root_modules_and_each_name_once():
    roots = sorted(p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert roots == ["bootstrap", "config", "jsonfile", "observability"]
    stems = Counter(
        p.stem for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__", "errors", "main")
    )
    assert sorted(n for n, c in stems.items() if c > 1) == []


def test_the_adapters_logger_is_a_child_of_the_functions_logger():
    from sensorflow import observability
    from sensorflow.adapters import logs

    assert logs.SERVICE == observability.SERVICE
