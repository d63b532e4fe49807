"""Fit the regime classifier on the training part of the bars and label every bar."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import polars as pl

from ares_cli.config import RegimesConfig
from ares_cli.errors import DataError
from ares_cli.ml.regimes import RegimeClassifier, agreement


def classify_bars(
    bars: pl.DataFrame, params: RegimesConfig, train_fraction: float,
    truth: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, dict[str, Any], dict[str, Any]]:
    """(regimes table, fitted model params, metrics) for base `bars`.

    Thresholds are fitted on the first `train_fraction` of bars — the same bars step 3 puts in
    the train window — so validation and test labels use nothing learned from their own period.
    When `truth` (true regimes of a synthetic market) is given, agreement is measured.
    """
    close = bars["close"].to_numpy()
    n_fit = int(np.floor(len(close) * train_fraction))
    classifier = RegimeClassifier(**asdict(params))  # [regimes] keys are its parameters
    try:
        classifier.fit(close[:n_fit])
    except ValueError as exc:
        raise DataError(f"cannot fit the regime classifier on {n_fit} bars: {exc}") from None
    labelled = classifier.predict(close)
    table = pl.concat([bars.select("timestamp"), labelled], how="horizontal")
    shares = table["regime"].drop_nulls().value_counts(normalize=True).sort("regime")
    metrics: dict[str, Any] = {
        "fit_bars": n_fit,
        "warmup_bars": int(table["regime"].null_count()),
        "regime_share": {r: round(float(s), 4) for r, s in shares.iter_rows()},
        "thresholds": {
            "volatility": classifier.vol_threshold_, "trend": classifier.trend_threshold_,
        },
    }
    if truth is not None:
        true = bars.select("timestamp").join(truth, on="timestamp", how="left")["regime"]
        predicted = table["regime"].to_numpy()
        metrics["vs_true_regimes"] = {
            "all": agreement(true.to_numpy(), predicted),
            "out_of_sample": agreement(true.to_numpy()[n_fit:], predicted[n_fit:]),
        }
    return table, classifier.params(), metrics
