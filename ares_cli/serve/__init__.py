"""A saved bundle and its scoring on new bars: step 16 builds it, step 15 and `ares signal` score
it with the same code.

Public names (each module's `__all__`) are re-exported lazily for users; code inside
ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
