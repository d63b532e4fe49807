"""What drives the analyst: mean absolute feature contributions (XGBoost `pred_contribs`, the
exact TreeSHAP values of each tree ensemble) per regime, on the validation window's bars.

Each regime's bars are explained by the model that serves them (its own specialist, or the
global model it falls back to), so the table shows what moved the probabilities the user will
trade on, in the units of the model's margin (log-odds). Pure: models come in as bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ares_cli.ml.members import MemberTable
from ares_cli.ml.regimes import REGIMES

__all__ = ["bar_contributions", "regime_contributions"]


def _booster(model: bytes) -> Any:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    return booster


def bar_contributions(table: MemberTable, models: dict[str, bytes], member: str,
                      x: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(feature names, per-row contributions without the bias column) of the model serving
    `member` on the full feature matrix `x` (columns in `table.features` order)."""
    import xgboost as xgb

    name = table.serving(member)
    spec = table.members[name]
    cols = spec.feature_index if spec.feature_index is not None else list(range(x.shape[1]))
    matrix = xgb.DMatrix(x[:, cols], missing=np.nan)
    contribs = _booster(models[name]).predict(matrix, pred_contribs=True)
    return [table.features[c] for c in cols], contribs[:, :-1]


def regime_contributions(dataset: pl.DataFrame, table: MemberTable, models: dict[str, bytes],
                         *, window: str = "validation", top: int = 10) -> dict[str, Any]:
    """Per regime: the `top` features by mean |contribution| on that regime's bars of
    `window`, with the bar count and the model that served them."""
    rows = dataset.filter(pl.col("window") == window)
    out: dict[str, Any] = {}
    for regime in REGIMES:
        part = rows.filter(pl.col("regime") == regime)
        if part.height == 0:
            continue
        x = part.select(table.features).to_numpy().astype(np.float64)
        names, contribs = bar_contributions(table, models, regime, x)
        mean_abs = np.abs(contribs).mean(axis=0)
        order = np.argsort(-mean_abs, kind="stable")[:top]
        out[regime] = {"bars": part.height, "model": table.serving(regime),
                       "features": {names[i]: float(mean_abs[i]) for i in order}}
    return out
