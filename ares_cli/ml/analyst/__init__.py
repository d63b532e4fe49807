"""The analyst (steps 5-7): per-regime specialists, their tuning and ensemble, and the feature
contributions of the stacked analyst.

Public names are re-exported lazily for users (`from ares_cli.ml.analyst import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "MEMBERS": "specialists", "analyst_contributions": "contributions",
    "bar_contributions": "contributions", "enhance_analyst": "specialists",
    "ensemble_analyst": "specialists", "regime_contributions": "contributions",
    "train_analyst": "specialists", "training_rows": "specialists",
})
