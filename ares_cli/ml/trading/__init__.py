"""Trading: the backtest engine, the policy that turns probabilities into orders, the window
data it reads, the multi-objective search over rules (step 12) and the sweep entry point.

Public names are re-exported lazily for users (`from ares_cli.ml.trading import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "Backtest": "backtest", "CostsConfig": "costs", "Market": "backtest",
    "OptimizeConfig": "optimize", "Orders": "backtest", "Policy": "policy", "REASONS": "backtest",
    "RuleChoice": "optimize", "Rules": "backtest", "SearchResult": "optimize",
    "SignalFrame": "policy", "SweepResult": "sweep", "atr_fraction": "windows",
    "baselines": "optimize", "buy_and_hold": "optimize", "kelly_size": "policy",
    "knee": "optimize", "metrics": "backtest", "orders_for": "policy", "pareto_front": "optimize",
    "pick": "optimize", "policy_from_params": "optimize", "rule_choice": "optimize",
    "rule_p_take": "policy", "run_loop": "backtest", "search": "optimize",
    "sma_crossover_side": "sweep", "sweep_sma_crossover": "sweep", "trade": "optimize",
    "window_bars": "windows", "window_market": "windows", "window_signals": "windows",
})
