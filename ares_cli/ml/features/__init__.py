"""Causal inputs on bars: indicators, regimes, triple-barrier labels, chronological splits and
the analyst's dataset. Every value at bar t depends only on data up to the close of t.

Public names are re-exported lazily for users (`from ares_cli.ml.features import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "FEATURE_PREFIX": "causal", "FeaturesConfig": "causal", "LABEL_COLUMNS": "labels",
    "LabelsConfig": "labels", "OUTCOME_COLUMNS": "dataset", "REGIMES": "regimes",
    "RegimeClassifier": "regimes", "RegimesConfig": "regimes", "SCORE_COLUMNS": "regimes",
    "SplitConfig": "splits", "SplitPlan": "splits", "WINDOWS": "splits", "adx": "indicators",
    "agreement": "regimes", "agreement_by_window": "regimes", "assign": "splits",
    "atr": "indicators", "average_uniqueness": "labels", "bollinger": "indicators",
    "build_dataset": "dataset", "build_features": "causal", "causal_sigma": "dataset",
    "cci": "indicators", "classify_bars": "regimes", "close_to_close_vol": "indicators",
    "data_span": "regimes", "direction_target": "dataset", "feature_columns": "causal",
    "garman_klass_vol": "indicators", "hide_test_outcomes": "dataset", "macd": "indicators",
    "mfi": "indicators", "obv": "indicators", "parkinson_vol": "indicators",
    "plan_windows": "splits", "rsi": "indicators", "split_bars": "splits",
    "stochastic": "indicators", "summarise": "splits", "triple_barrier": "labels",
    "true_range": "indicators", "williams_r": "indicators",
})
