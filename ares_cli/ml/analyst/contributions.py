"""What drives the analyst: feature contributions to its log-odds, per bar and per regime.

Each member's contributions are XGBoost's `pred_contribs` (exact TreeSHAP values in the
member's margin, its log-odds). The stacked analyst's log-odds are linear in the members'
log-odds, so a feature's contribution to the analyst is the stacker-coefficient-weighted sum of
its contributions to every member (a member that falls back counts its fallback's); for the
regime-gated ensemble the members are weighted by the bar's regime scores instead (an
approximation: the gate mixes probabilities, not log-odds). Pure: models come in as bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.models.members import MemberTable

__all__ = ["analyst_contributions", "bar_contributions", "regime_contributions"]


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


def analyst_contributions(table: MemberTable, models: dict[str, bytes],
                          ensemble: dict[str, Any], x: np.ndarray,
                          scores: np.ndarray) -> np.ndarray:
    """(rows, features in `table.features` order) contributions to the analyst's log-odds of
    the rows `x` with regime scores `scores` (rows x 4, normalised); see the module docstring."""
    members = ensemble["members"]
    if ensemble.get("method") == "stacked":
        stacker = ensemble["stacker"]
        coef = dict(zip(stacker["features"], stacker["coef"], strict=True))
        weights = np.tile([coef[f"logit_{m.lower()}"] for m in members], (x.shape[0], 1))
    else:  # gated: the regime members weighted by the bar's scores, the global one not used
        weights = np.zeros((x.shape[0], len(members)))
        for j, m in enumerate(members):
            if m in REGIMES:
                weights[:, j] = scores[:, REGIMES.index(m)]
    out = np.zeros((x.shape[0], len(table.features)))
    index = {name: i for i, name in enumerate(table.features)}
    for j, member in enumerate(members):
        names, contribs = bar_contributions(table, models, member, x)
        cols = [index[n] for n in names]
        out[:, cols] += weights[:, [j]] * contribs
    return out


def regime_contributions(dataset: pl.DataFrame, table: MemberTable, models: dict[str, bytes],
                         ensemble: dict[str, Any], *, window: str = "validation",
                         top: int = 10) -> dict[str, Any]:
    """Per regime: the `top` features by mean |contribution to the analyst's log-odds| on that
    regime's bars of `window`, with the bar count; "constant" when nothing moves it."""
    from ares_cli.ml.analyst.specialists import SCORE_FEATURES

    rows = dataset.filter(pl.col("window") == window)
    out: dict[str, Any] = {}
    for regime in REGIMES:
        part = rows.filter(pl.col("regime") == regime)
        if part.height == 0:
            continue
        x = part.select(table.features).to_numpy().astype(np.float64)
        scores = part.select(SCORE_FEATURES).to_numpy().astype(np.float64)
        scores = scores / scores.sum(axis=1, keepdims=True)
        contribs = analyst_contributions(table, models, ensemble, x, scores)
        mean_abs = np.abs(contribs).mean(axis=0)
        order = [i for i in np.argsort(-mean_abs, kind="stable")[:top] if mean_abs[i] > 0]
        out[regime] = {"bars": part.height, "constant": not order,
                       "features": {table.features[i]: float(mean_abs[i]) for i in order}}
    return out
