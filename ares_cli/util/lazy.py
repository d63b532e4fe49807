"""Lazy re-exports for a package `__init__` (PEP 562): `from ares_cli.ml.trading import
policy_from_params` works for users, yet importing one module of a package loads none of its
siblings.

Eager re-exports would run every module of a package whenever any one of them is imported (the
config loading the store to read `StoreConfig`, say) and would tie the package's modules into
one import cycle through their `__init__`. The names come from each module's `__all__`, read
from its source without importing it, so a package's `__init__` is one line and never drifts.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["lazy_exports"]


_ALL = re.compile(r"^__all__\s*=\s*(\[[^\]]*\]|\([^)]*\))", re.MULTILINE)


def _declared(path: Path) -> list[str]:
    """The names in a module's literal `__all__` ([] without one): only that statement is
    parsed (parsing whole modules on every import of a package took 0.3 s a command)."""
    found = _ALL.search(path.read_text(encoding="utf-8"))
    return [str(n) for n in ast.literal_eval(found.group(1))] if found else []


def lazy_exports(package: str, folders: Iterable[str]) -> tuple[
        list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """`(__all__, __getattr__, __dir__)` for `package` (pass `__name__, __path__`): every name in
    the `__all__` of one of its modules, loaded from that module on first use. A name equal to a
    submodule's is left out (the submodule, once imported, would shadow it)."""
    files = sorted(p for folder in folders for p in Path(folder).glob("*.py")
                   if p.stem != "__init__")
    stems = {p.stem for p in files}
    where: dict[str, str] = {}
    for path in files:
        for name in _declared(path):
            if name not in stems:
                where.setdefault(name, path.stem)
    names = sorted(where)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
