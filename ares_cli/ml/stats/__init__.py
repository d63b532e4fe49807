"""Validation statistics: Sharpe, PSR/DSR/MinTRL, PBO, resampling, permutation tests,
Sharpe-difference tests and edge intervals.

Public names are re-exported lazily for users (`from ares_cli.ml.stats import NAME`); code
inside ares_cli imports each name from the module that defines it."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    "BlockMethod": "arrays", "BootstrapResult": "resampling", "CHUNK_ELEMENTS": "arrays",
    "EPS": "edge", "PBOResult": "pbo", "RandomEntryResult": "permutation", "ReturnKind": "arrays",
    "Seed": "arrays", "SharpeDifference": "comparisons", "SharpeMoments": "sharpe",
    "TradeShuffleResult": "permutation", "annualise": "sharpe", "as_vector": "arrays",
    "auc_replicates": "edge", "block_indices": "bootstrap", "default_block_length": "resampling",
    "deflated_sharpe": "sharpe", "deflated_sharpe_from_returns": "sharpe", "describe": "edge",
    "expected_max_sharpe": "sharpe", "expected_max_z": "sharpe", "final_return": "resampling",
    "jkm_avar": "comparisons", "log_growth": "resampling", "make_rng": "arrays",
    "max_drawdown": "resampling", "max_drawdown_log": "resampling",
    "min_backtest_length": "sharpe", "min_track_record_length": "sharpe",
    "optimal_block_length": "bootstrap", "overlap_block_length": "edge", "pbo_cscv": "pbo",
    "probabilistic_sharpe": "sharpe", "psr_from_returns": "sharpe",
    "random_entry_pvalue": "permutation", "resample_blocks": "resampling", "row_chunks": "arrays",
    "scalar_or_array": "arrays", "shadow_days": "comparisons",
    "sharpe_difference_test": "comparisons", "sharpe_moments": "sharpe",
    "stationary_block_indices": "resampling", "stationary_bootstrap_ci": "resampling",
    "trade_shuffle_drawdowns": "permutation",
})
