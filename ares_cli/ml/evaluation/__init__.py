"""Out-of-sample evaluation: walk-forward fold plans, Monte Carlo assessment and the A/B test.

Public names are re-exported lazily for users (`from ares_cli.ml.evaluation import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "ABTestConfig": "ab_test", "ComputeConfig": "walk_forward", "Fold": "walk_forward",
    "MonteCarloConfig": "monte_carlo", "WalkForwardConfig": "walk_forward",
    "assess": "monte_carlo", "compare": "ab_test", "momentum_returns": "ab_test",
    "parameter_stability": "walk_forward", "plan_folds": "walk_forward",
})
