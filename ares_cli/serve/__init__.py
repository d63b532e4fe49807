"""A saved bundle and its scoring on new bars: step 16 builds it, step 15 and `ares signal` score
it with the same code.

Public names are re-exported lazily for users (`from ares_cli.serve import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "BUNDLE_FORMAT": "bundle", "build_bundle": "bundle", "bundle_regimes": "scoring",
    "bundle_signals": "scoring", "decide": "scoring", "one_line": "scoring",
    "score_bundle": "scoring",
})
