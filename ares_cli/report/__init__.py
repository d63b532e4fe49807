"""Step 16's self-contained HTML report (its data, plots and page) and MLflow logging.

Public names (each module's `__all__`) are re-exported lazily for users; code inside
ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
