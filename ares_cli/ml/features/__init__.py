"""Causal inputs on bars: indicators, regimes, triple-barrier labels, chronological splits and
the analyst's dataset. Every value at bar t depends only on data up to the close of t.

Public names (each module's `__all__`) are re-exported lazily for users; code inside
ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
