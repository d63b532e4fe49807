"""The analyst dataset (step 4): causal features, triple-barrier labels and sample weights per
base bar, tagged with its regime and split window.

Labels look forward by construction; the split already leaves a gap of at least the label
horizon between windows, and rows whose label window `[t, t1]` still reaches into a later
window are purged here explicitly (their target is blanked), so no training target depends on
evaluation data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

import ares_cli.ml.features.indicators as indicators
from ares_cli.data.bars import BarsConfig, bar_length_ms
from ares_cli.data.gaps import gap_flags, gaps_between
from ares_cli.errors import InsufficientData
from ares_cli.ml.features.causal import FeaturesConfig, build_features, feature_columns
from ares_cli.ml.features.labels import LabelsConfig, average_uniqueness, triple_barrier
from ares_cli.ml.features.splits import WINDOWS

__all__ = [
    "OUTCOME_COLUMNS", "build_dataset", "causal_sigma", "direction_target", "hide_test_outcomes",
]

# Columns that derive from a row's future (its label); blanked on test-window rows.
OUTCOME_COLUMNS = ("label", "barrier", "ret", "t1", "t1_index", "ambiguous", "y", "purged",
                   "cut_by_gap")


def causal_sigma(bars: pl.DataFrame, window: int) -> np.ndarray:
    """Std of log returns over the last `window` bars, known at each close (NaN in warm-up)."""
    sigma = bars.select(indicators.close_to_close_vol(pl.col("close"), window).alias("s"))["s"]
    return sigma.fill_null(np.nan).to_numpy().astype(float)


def direction_target(labels: pl.DataFrame, vertical: str) -> pl.Expr:
    """1 = up, 0 = down; vertical-barrier rows are dropped (null) or labelled by their sign."""
    by_barrier = pl.when(pl.col("label") == 1).then(1).when(pl.col("label") == -1).then(0)
    if vertical == "sign":
        by_barrier = (
            by_barrier.when((pl.col("label") == 0) & (pl.col("vertical_sign") > 0)).then(1)
            .when((pl.col("label") == 0) & (pl.col("vertical_sign") < 0)).then(0)
        )
    return by_barrier.otherwise(None).cast(pl.Int8).alias("y")


def build_dataset(
    bars: pl.DataFrame, fine: pl.DataFrame, regimes: pl.DataFrame, splits: pl.DataFrame,
    features_cfg: FeaturesConfig, labels_cfg: LabelsConfig, bars_cfg: BarsConfig,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(dataset, metrics): one row per labelled-window base bar with features, y, t1, weight.

    Candle-only input may carry a fine series coarser than `bars.fine`: ties inside a base bar
    are then resolved on the candles there are. A train or validation window without labelled
    rows is a data error.
    """
    base_ms = bars_cfg.base_ms
    fine_ms = bar_length_ms(fine, bars_cfg.fine_ms)
    features = build_features(bars, fine, regimes, features_cfg, base_ms=base_ms)
    sigma = causal_sigma(bars, labels_cfg.vol_window)
    labels = triple_barrier(
        bars.select("timestamp", "open", "high", "low", "close"), sigma,
        k_up=labels_cfg.k_up, k_down=labels_cfg.k_down, horizon=labels_cfg.horizon,
        # candles as coarse as the base bar are no finer path: a double touch takes the stop
        bar_ms=base_ms, fine=fine if fine_ms < base_ms else None,
        fine_bar_ms=fine_ms if fine_ms < base_ms else None,
    )
    table = pl.concat(
        [
            splits.select("bar_index", "timestamp", "window", "regime"),
            labels.select("label", "barrier", "ret", "t1", "t1_index", "ambiguous",
                          direction_target(labels, labels_cfg.vertical)),
            pl.DataFrame({"sigma": sigma}),
            features.drop("timestamp"),
        ],
        how="horizontal",
    )
    table = table.filter(pl.col("window").is_in(WINDOWS) & pl.col("regime").is_not_null())
    table = _cut_at_gaps(_purge_across_windows(table, splits), gap_flags(bars))
    table = hide_test_outcomes(table)
    table = _with_weights(table, bars.height, labels_cfg.uniqueness_weights)
    metrics = _metrics(table, feature_columns(table), bars)
    for window in ("train", "validation"):
        if metrics[window]["labelled"] == 0:
            raise InsufficientData(
                f"no labelled rows in the {window} window: it is shorter than the warm-up plus "
                "the label horizon, or every label timed out (labels.vertical = 'drop'); "
                "collect more data, widen split fractions or narrow the barriers"
            )
    return table, metrics


def _purge_across_windows(table: pl.DataFrame, splits: pl.DataFrame) -> pl.DataFrame:
    """Blank the target of rows whose label window ends inside a later window or gap."""
    ends = splits.group_by("window").agg(pl.col("bar_index").max().alias("end"))
    table = table.join(ends, on="window", how="left", maintain_order="left")
    leaks = pl.col("y").is_not_null() & (pl.col("t1_index") > pl.col("end"))
    return table.with_columns(
        y=pl.when(leaks).then(None).otherwise(pl.col("y")),
        purged=leaks.fill_null(False),
    ).drop("end")


def _cut_at_gaps(table: pl.DataFrame, gap: np.ndarray) -> pl.DataFrame:
    """Blank the target of rows whose label spans a gap in the data (from its bar to the bar
    that decided it): the path through an outage is unknown, as past a window's edge."""
    labelled = table["y"].is_not_null().to_numpy()
    t0 = table["bar_index"].to_numpy().astype(np.int64)
    t1 = table["t1_index"].fill_null(-1).to_numpy().astype(np.int64)
    cut = labelled & gaps_between(gap, t0, np.maximum(t1, t0))
    return table.with_columns(y=pl.when(pl.Series(cut)).then(None).otherwise(pl.col("y")),
                              cut_by_gap=pl.Series(cut))


def hide_test_outcomes(table: pl.DataFrame) -> pl.DataFrame:
    """Blank every label-derived column on test-window rows.

    The test window is scored once, by walk-forward (step 13) and the final A/B test (step 15),
    which rebuild what they need; no step before them may see its labels or returns, so the
    dataset never carries them (features, regimes and causal sigma stay: they are known at the
    bar's close).
    """
    test = pl.col("window") == "test"
    return table.with_columns(
        *(pl.when(test).then(None).otherwise(pl.col(c)).alias(c)
          for c in OUTCOME_COLUMNS if c in table.columns)
    )


def _with_weights(table: pl.DataFrame, n_bars: int, enabled: bool) -> pl.DataFrame:
    """Average-uniqueness weights of labelled rows (1.0 when disabled, null when unlabelled)."""
    labelled = table["y"].is_not_null().to_numpy()
    weight = np.full(table.height, np.nan)
    if enabled and labelled.any():
        t0 = table["bar_index"].to_numpy()[labelled].astype(np.int64)
        t1 = table["t1_index"].to_numpy()[labelled].astype(np.int64)
        weight[labelled] = average_uniqueness(t0, t1, n_bars)
    else:
        weight[labelled] = 1.0
    return table.with_columns(weight=pl.Series(weight).fill_nan(None))


def _metrics(table: pl.DataFrame, features: list[str], bars: pl.DataFrame) -> dict[str, Any]:
    """{"data": facts about the inputs, "train"/"validation": label statistics of each window}.

    Nothing about test-window outcomes: its labels are blanked before this is computed.
    """
    missing = [c for c in features if table[c].null_count() == table.height]
    data: dict[str, Any] = {
        "features": len(features),
        "rows": {name: table.filter(pl.col("window") == name).height for name in WINDOWS},
        "purged_rows": int(table["purged"].sum()),  # train and validation rows
        "cut_by_gaps": int(table["cut_by_gap"].sum()),  # labels spanning a gap in the data
        "all_missing_features": missing,
    }
    if bars["taker_buy_volume"].null_count() == bars.height:
        data["note"] = "candle-only input without taker-buy volume: order-flow features are missing"
    metrics: dict[str, Any] = {"data": data}
    for name in ("train", "validation"):
        rows = table.filter(pl.col("window") == name)
        labelled = rows.filter(pl.col("y").is_not_null())
        barriers = dict(rows.group_by("barrier").len().iter_rows())
        metrics[name] = {
            "rows": rows.height,
            "labelled": labelled.height,
            "up_share": round(float(labelled["y"].mean()), 4) if labelled.height else None,
            "barriers": {str(k): int(v) for k, v in barriers.items()},
            "ambiguous_double_touch": int(rows["ambiguous"].fill_null(False).sum()),
        }
    return metrics
