"""The tactician ensemble (step 10): a weighted mean of the members' P(pays).

A member's weight is its out-of-fold log-loss gain over the paid rate of the proposal's side (a
member that does not beat it gets none; if none does, all weigh the same). Fitted without
leaking, by the nested rule: the out-of-fold ensemble of fold k uses weights measured on fold
k's training rows alone (step 9's inner predictions), never on the fold it predicts. The shipped
weights are measured on every training proposal's out-of-fold predictions and applied to
validation and test. Pure and I/O-free."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from ares_cli.ml.models.ensemble import Combined, evaluate
from ares_cli.ml.stats.edge_intervals import edge
from ares_cli.ml.tactician.models import side_rates
from ares_cli.util.jsonutil import json_safe

__all__ = ["combine_tactician", "gain_weights"]

EPS = 1e-6


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    q = np.clip(p, EPS, 1 - EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def gain_weights(member_probs: np.ndarray, y: np.ndarray,
                 prior: float | np.ndarray) -> np.ndarray:
    """Weights ∝ each member's log-loss gain over `prior` (a rate, or one per row; zero when
    negative; equal weights when no member gains)."""
    base = _log_loss(np.broadcast_to(np.asarray(prior, dtype=np.float64), y.shape), y)
    gains = np.array([max(0.0, base - _log_loss(member_probs[:, j], y))
                      for j in range(member_probs.shape[1])])
    if gains.sum() <= 0:
        return np.full(member_probs.shape[1], 1.0 / member_probs.shape[1])
    return gains / gains.sum()


def combine_tactician(
    predictions: pl.DataFrame, inner: pl.DataFrame, members: Sequence[str], *, seed: int,
) -> Combined:
    """Per-proposal ensemble P(pays), the weights and metrics (verdict under validation)."""
    cols = [f"p_{m.lower()}" for m in members]
    train = predictions.filter(pl.col("source") == "oof").sort("bar_index")
    y = train["y"].to_numpy().astype(np.float64)
    oof = train.select(cols).to_numpy()
    ensemble = np.full(y.size, np.nan)
    baseline = np.full(y.size, np.nan)
    fold_weights = {}
    fold = train["fold"].to_numpy()
    side = train["side"].to_numpy().astype(np.float64)
    for (k,), rows in inner.partition_by("fold", as_dict=True).items():
        usable = rows.drop_nulls(cols)
        u_y, u_side = usable["y"].to_numpy().astype(np.float64), usable["side"].to_numpy()
        weights = gain_weights(usable.select(cols).to_numpy(), u_y,
                               side_rates(u_y, u_side, u_side))
        fold_weights[int(k)] = weights.tolist()
        test = np.flatnonzero(fold == k)  # fold k's test rows: none is among `rows`
        ensemble[test] = oof[test] @ weights
        baseline[test] = side_rates(rows["y"].to_numpy().astype(np.float64),
                                    rows["side"].to_numpy(), side[test])
    shipped = gain_weights(oof, y, side_rates(y, side, side))
    later = predictions.filter(pl.col("source") == "model").sort("bar_index")
    later_p = later.select(cols).to_numpy() @ shipped
    frame = pl.concat([
        train.select("bar_index", "timestamp", "window", "side", "y", "t1_index", "ret")
        .with_columns(p_take=pl.Series(ensemble).fill_nan(None), source=pl.lit("oof")),
        later.select("bar_index", "timestamp", "window", "side", "y", "t1_index", "ret")
        .with_columns(p_take=pl.Series(later_p), source=pl.lit("model")),
    ]).sort("bar_index")

    scored = np.isfinite(ensemble)
    t0, t1 = train["bar_index"].to_numpy(), train["t1_index"].to_numpy()
    train_cv = {
        "ensemble": evaluate(ensemble[scored], y[scored]),
        "side_prior": evaluate(baseline[scored], y[scored]),
        "members": {m: evaluate(oof[scored, j], y[scored]) for j, m in enumerate(members)},
        "edge": edge(ensemble[scored], baseline[scored], y[scored], t0[scored], t1[scored],
                     seed=seed, model_name="tactician ensemble",
                     baseline_name="paid rate of the side"),
        "fold_weights": fold_weights,
    }
    validation = later.filter((pl.col("window") == "validation") & pl.col("y").is_not_null())
    v_y = validation["y"].to_numpy().astype(np.float64)
    v_p = validation.select(cols).to_numpy() @ shipped if validation.height else np.zeros(0)
    prior = side_rates(y, side, validation["side"].to_numpy().astype(np.float64))
    v_edge = edge(v_p, prior, v_y, validation["bar_index"].to_numpy(),
                  validation["t1_index"].to_numpy(), seed=seed, model_name="tactician ensemble",
                  baseline_name="paid rate of the side")
    verdict = v_edge["verdict"]
    metrics = {
        "data": {"members": list(members), "weights": dict(zip(members, shipped.tolist(),
                                                               strict=True))},
        "train_cv": train_cv,
        "validation": {
            "ensemble": evaluate(v_p, v_y), "side_prior": evaluate(prior, v_y),
            "members": {m: evaluate(validation[c].to_numpy(), v_y)
                        for m, c in zip(members, cols, strict=True)},
            "edge": v_edge, "verdict": verdict,
        },
    }
    model = {"method": "gain_weighted_mean", "members": list(members),
             "weights": shipped.tolist()}
    return Combined(frame, model, json_safe(metrics))
