"""Trading: the backtest engine, the policy that turns probabilities into orders, what a trade
costs, the window data it reads, the rule search (step 12) and the sweep entry point.

Public names (each module's `__all__`) are re-exported lazily for users; code inside
ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
