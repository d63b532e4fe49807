"""Lazy re-exports for a package `__init__` (PEP 562): `from ares_cli.ml.trading import
backtest` works for users, yet importing one module of a package loads none of its siblings.

Eager re-exports would run every module of a package whenever any one of them is imported (the
config loading the store to read `StoreConfig`, say) and would tie the package's modules into
one import cycle through their `__init__`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[
        list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """`(__all__, __getattr__, __dir__)` for `package`, whose public name N lives in the
    submodule `where[N]` (a module name relative to the package)."""
    names = sorted(where)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__
