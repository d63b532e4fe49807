"""Imports point one way: every import between `ares_cli` modules goes down the layers below,
counting imports inside functions (as code digests do; `if TYPE_CHECKING:` blocks aside), and no
set of modules imports itself in a circle.

A module belongs to the layer of the longest prefix below that names it. Within one prefix
imports are free (acyclic all the same); between two prefixes of one layer they are forbidden,
so siblings (analyst and tactician, serve and report) stay independent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from ares_cli.codehash import _imports, read_source

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "ares_cli"

# Top to bottom. A module may import from its own prefix or from any lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("ares_cli.__main__",),
    ("ares_cli.cli",),
    ("ares_cli.commands",),
    ("ares_cli.runner", "ares_cli.console"),
    ("ares_cli.config",),
    ("ares_cli.steps",),  # the registry and one module per step
    ("ares_cli.folds",),  # step 13's fold executor
    ("ares_cli.pipeline",),  # runs Step objects in memory
    ("ares_cli.steps.base",),  # the step contract
    ("ares_cli.config_view", "ares_cli.artifacts"),
    ("ares_cli.serve", "ares_cli.report"),
    ("ares_cli.ml.evaluation",),
    ("ares_cli.ml.analyst", "ares_cli.ml.tactician"),
    ("ares_cli.ml.trading",),
    ("ares_cli.ml.models",),
    ("ares_cli.ml.stats",),
    ("ares_cli.ml.features",),
    ("ares_cli.ml",),
    ("ares_cli.data.sources",),  # picks a source
    ("ares_cli.data.files", "ares_cli.data.ccxt"),  # the two real sources, independent
    ("ares_cli.data",),  # bars, schema, validation, the synthetic market
    ("ares_cli.store",),
    ("ares_cli.util", "ares_cli.errors", "ares_cli.codehash"),
    ("ares_cli",),  # the package itself only (its version); see layer_of
)


def all_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = ["ares_cli", *path.relative_to(PACKAGE_DIR).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def import_graph(modules: Iterable[str], reader=read_source) -> dict[str, set[str]]:
    """module -> the ares_cli modules it imports (resolved to real modules)."""
    graph: dict[str, set[str]] = {}
    for name in modules:
        source = reader(name)
        if source is None:
            continue
        found = _imports(ast.parse(source))
        graph[name] = {m for m in found if m != name and reader(m) is not None}
    return graph


def layer_of(module: str) -> tuple[int, str]:
    """(rank, prefix): rank 0 is the top layer."""
    best: tuple[int, str] | None = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module == prefix or (prefix != "ares_cli" and module.startswith(prefix + "."))
            if inside and (best is None or len(prefix) > len(best[1])):
                best = (rank, prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for importer, imported in sorted(graph.items()):
        rank, prefix = layer_of(importer)
        for target in sorted(imported):
            t_rank, t_prefix = layer_of(target)
            if t_prefix == prefix or t_rank > rank:
                continue
            bad.append(f"{importer} -> {target}")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in all_modules():
        layer_of(module)


def test_imports_point_down_the_layers():
    assert upward_imports(import_graph(all_modules())) == []


def test_no_import_cycle():
    assert cycles(import_graph(all_modules())) == []


def _packages() -> dict[str, Path]:
    """Every package of ares_cli (a folder with an __init__.py) by module name."""
    return {".".join(["ares_cli", *p.parent.relative_to(PACKAGE_DIR).parts]).rstrip("."): p.parent
            for p in PACKAGE_DIR.rglob("__init__.py")}


def _bound_in(init: Path) -> set[str]:
    """Names a package's `__init__` binds itself (the step registry's STEPS, say), as opposed
    to the names it re-exports lazily."""
    names: set[str] = set()
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    return names - {"__all__", "__getattr__", "__dir__"}


def imports_through_a_package(module: str, source: str) -> list[str]:
    """`from <package> import <name>` where the name is neither a submodule nor bound by the
    package's `__init__`: it goes through the package's lazy re-exports, so the defining
    module would be missing from code digests."""
    packages = _packages()
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in packages:
            folder = packages[node.module]
            bound = _bound_in(folder / "__init__.py")
            for alias in node.names:
                sub = folder / alias.name
                if not (sub.with_suffix(".py").is_file() or (sub / "__init__.py").is_file()
                        or alias.name in bound):
                    bad.append(f"{module}: from {node.module} import {alias.name}")
    return bad


def test_names_are_imported_from_their_defining_module():
    bad = [line for m in all_modules()
           for line in imports_through_a_package(m, read_source(m) or "")]
    assert bad == []
    # the check can fail: an import of a re-exported name through its package
    assert imports_through_a_package("x", "from ares_cli.ml.stats import deflated_sharpe")


def test_no_relative_import():
    """Relative imports are invisible to code digests and to this check."""
    relative = [m for m in all_modules() for node in ast.walk(ast.parse(read_source(m) or ""))
                if isinstance(node, ast.ImportFrom) and node.level > 0]
    assert relative == []


def test_no_public_name_is_shadowed_by_a_submodule():
    """A package re-exports its modules' `__all__` names; one named like a sibling module
    would be shadowed by that module once imported, so none may be."""
    clashes = []
    for package, folder in _packages().items():
        stems = {p.stem for p in folder.glob("*.py")} | {p.parent.name
                                                          for p in folder.glob("*/__init__.py")}
        for path in folder.glob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                    clashes += [f"{package}.{path.stem}.{n}" for n in ast.literal_eval(node.value)
                                if n in stems]
    assert clashes == []


def test_the_check_catches_an_upward_import_and_a_cycle():
    """The check itself can fail: an ml module importing a step, and two modules importing
    each other, are both reported (the mutation this guards against, applied in memory)."""
    added = {
        "ares_cli.ml.trading.policy": "from ares_cli.steps.s12_optimize import STEP",
        "ares_cli.ml.features.labels": "def f():\n    import ares_cli.ml.features.splits",
        "ares_cli.ml.features.splits": "def g():\n    import ares_cli.ml.features.labels",
    }

    def reader(name: str) -> str | None:
        source = read_source(name)
        return f"{source}\n{added[name]}\n" if name in added and source else source

    graph = import_graph(all_modules(), reader)
    assert "ares_cli.ml.trading.policy -> ares_cli.steps.s12_optimize" in upward_imports(graph)
    assert any("ares_cli.ml.features.labels" in c for c in cycles(graph))


def test_the_config_assembly_pulls_in_no_client():
    """Importing the config loads section models only: no exchange client, no MLflow logger,
    no store (each has a small config module of its own)."""
    import subprocess
    import sys

    code = ("import sys, ares_cli.config; print('\\n'.join(sorted(m for m in sys.modules "
            "if m.startswith(('ccxt', 'mlflow', 'ares_cli.store.objects', "
            "'ares_cli.report.mlflow_log', 'ares_cli.data.ccxt.client')))))")
    loaded = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True).stdout.split()
    assert loaded == []
