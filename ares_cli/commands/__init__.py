"""What sits beside the commands, above the steps: the store views the CLI prints (listing,
export, publish) and the `ares signal` loader, which brings data up to date with steps 1-2.

Public names (each module's `__all__`) are re-exported lazily for users; code inside
ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
