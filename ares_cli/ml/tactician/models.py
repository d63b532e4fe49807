"""Tactician take/skip models (step 9): bagged purged-CV boosters and a linear baseline.

The tactician predicts whether a proposed trade pays after costs (its meta-label). Its members
are `bags` XGBoost boosters that differ in seed and row subsample, and a logistic regression on
median-imputed, standardised features (a baseline a booster has to beat). Every member is scored
by the same purged folds over the proposals' trade windows `[bar, t1]`, out of fold, beside the
class prior with an edge interval; the shipped models are fitted on every labelled training
proposal. Pure and I/O-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ares_cli.errors import InsufficientData
from ares_cli.ml.models.booster import BoostConfig, fit_fold, predict_model, scores
from ares_cli.ml.models.members import nested_oof
from ares_cli.ml.models.modelset import ModelSet
from ares_cli.ml.models.parallel import fit_map
from ares_cli.ml.stats.edge_intervals import edge
from ares_cli.util.jsonutil import json_safe
from ares_cli.util.section import Field

__all__ = ["LinearModel", "TacticianModelConfig", "predict_members", "tactician_rows",
           "train_tactician"]

MIN_ROWS_PER_FOLD = 10


class TacticianModelConfig(BoostConfig):
    """`[tactician_model]`: the boosters' recipe (as `[analyst]`), how many bags, the baseline.

    Bag b uses seed `data.seed + b` and row subsample `subsample * (1 - 0.1 * b)`, floored at
    0.5, so the bags see different rows and differ in more than noise.
    """

    max_depth: int = Field(3, ge=1)
    num_boost_round: int = Field(200, ge=1)
    min_child_weight: float = Field(1.0, ge=0)
    bags: int = Field(3, ge=1, le=20)
    logistic_C: float = Field(1.0, gt=0)
    inner_splits: int = Field(3, ge=2)  # nested folds inside each fold, for step 10's weights

    def bag(self, b: int) -> BoostConfig:
        values = {k: getattr(self, k) for k in BoostConfig.model_fields}
        values["subsample"] = max(0.5, self.subsample * (1.0 - 0.1 * b))
        return BoostConfig.model_validate(values)


@dataclass(frozen=True)
class TacticianRows:
    """Labelled, unpurged training proposals as arrays, in time order."""

    X: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    weight: np.ndarray
    features: list[str]


def feature_names(dataset: pl.DataFrame) -> list[str]:
    return ["side", *[c for c in dataset.columns if c.startswith("t_")]]


def tactician_rows(dataset: pl.DataFrame, window: str = "train") -> TacticianRows:
    rows = dataset.filter((pl.col("window") == window) & pl.col("y").is_not_null()
                          & ~pl.col("purged").fill_null(False)).sort("bar_index")
    features = feature_names(dataset)
    return TacticianRows(
        X=rows.select(features).cast(pl.Float64).to_numpy(),
        y=rows["y"].to_numpy().astype(np.float64),
        t0=rows["bar_index"].to_numpy().astype(np.int64),
        t1=rows["t1_index"].to_numpy().astype(np.int64),
        weight=rows["weight"].to_numpy().astype(np.float64),
        features=features,
    )


class LinearModel:
    """Logistic regression on median-imputed, standardised columns (scikit-learn's rules:
    parameters in `__init__`, `fit` returns self, learned state ends in `_`)."""

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None
            ) -> LinearModel:
        from sklearn.linear_model import LogisticRegression

        with np.errstate(all="ignore"):
            self.median_ = np.nan_to_num(np.nanmedian(X, axis=0))
            filled = np.where(np.isnan(X), self.median_, X)
            self.mean_ = filled.mean(axis=0)
            self.scale_ = np.where(filled.std(axis=0) > 0, filled.std(axis=0), 1.0)
        z = (filled - self.mean_) / self.scale_
        if np.unique(y).size < 2:
            self.coef_, self.intercept_ = np.zeros(X.shape[1]), float(np.log(
                np.clip(y.mean(), 1e-6, 1 - 1e-6) / np.clip(1 - y.mean(), 1e-6, 1)))
            return self
        # Newton-Cholesky: exact to its tolerance in a few steps on these few columns, 4x
        # faster than lbfgs here (which stops early at its own tolerance)
        model = LogisticRegression(C=self.C, max_iter=1000, solver="newton-cholesky")
        model.fit(z, y.astype(np.int64), sample_weight=weight)
        self.coef_, self.intercept_ = model.coef_.ravel().copy(), float(model.intercept_[0])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = (np.where(np.isnan(X), self.median_, X) - self.mean_) / self.scale_
        return np.exp(-np.logaddexp(0.0, -(z @ self.coef_ + self.intercept_)))

    def to_dict(self) -> dict[str, Any]:
        return {"C": self.C, "median": self.median_.tolist(), "mean": self.mean_.tolist(),
                "scale": self.scale_.tolist(), "coef": self.coef_.tolist(),
                "intercept": self.intercept_}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        model = cls(C=data["C"])
        model.median_, model.mean_ = np.asarray(data["median"]), np.asarray(data["mean"])
        model.scale_, model.coef_ = np.asarray(data["scale"]), np.asarray(data["coef"])
        model.intercept_ = float(data["intercept"])
        return model


def side_rates(y: np.ndarray, side: np.ndarray, for_side: np.ndarray) -> np.ndarray:
    """The paid rate of each row's side among (`y`, `side`); the overall rate for a side the
    rows do not hold."""
    overall = float(np.mean(y)) if y.size else 0.5
    rates = {s: float(np.mean(y[side == s])) if (side == s).any() else overall
             for s in (-1.0, 1.0)}
    return np.where(for_side > 0, rates[1.0], rates[-1.0])


def member_names(cfg: TacticianModelConfig) -> list[str]:
    return [f"BOOST_{b}" for b in range(cfg.bags)] + ["LINEAR"]


def _fit_member(name: str, cfg: TacticianModelConfig, seed: int, X: np.ndarray,
                y: np.ndarray, t0: np.ndarray, t1: np.ndarray, w: np.ndarray
                ) -> tuple[bytes | LinearModel, int]:
    """(fitted model, rounds) of one member on these rows (early stopping inside them)."""
    if name == "LINEAR":
        return LinearModel(cfg.logistic_C).fit(X, y, w), 0
    b = int(name.split("_")[1])
    fitted, rounds, _ = fit_fold(X, y, w, t0, t1, np.arange(y.size), cfg.bag(b), seed + b)
    return bytes(fitted.save_raw("ubj")), rounds


def _predict(model: bytes | LinearModel, X: np.ndarray) -> np.ndarray:
    return model.predict_proba(X) if isinstance(model, LinearModel) else predict_model(model, X)


def predict_members(models: ModelSet, X: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(n, members) P(pays) of the shipped members, in `names` order."""
    out = np.empty((X.shape[0], len(names)))
    for j, name in enumerate(names):
        if name == "LINEAR":
            out[:, j] = LinearModel.from_dict(models.table["linear"]).predict_proba(X)
        else:
            out[:, j] = predict_model(models.models[name], X)
    return out


def train_tactician(
    dataset: pl.DataFrame, cfg: TacticianModelConfig, *, embargo: int, seed: int,
) -> tuple[ModelSet, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(model set, out-of-fold and validation/test predictions per proposal, inner out-of-fold
    predictions per outer fold, metrics).

    The inner table holds, for each outer fold k, every member's predictions on fold k's
    training rows from an inner purged CV inside those rows alone: what a combiner for fold k
    may be fitted on without seeing fold k (step 10).
    """
    rows = tactician_rows(dataset)
    need = MIN_ROWS_PER_FOLD * cfg.n_splits
    if rows.y.size < need or np.unique(rows.y).size < 2:
        raise InsufficientData(
            f"tactician-train has {rows.y.size} labelled training proposals (both outcomes "
            f"needed); purged {cfg.n_splits}-fold CV needs at least {need}: lower "
            "tactician.entry_quantile or collect more data")
    names = member_names(cfg)

    def fit_predict(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        out = np.empty((predict_rows.size, len(names)))
        for j, name in enumerate(names):
            model, _ = _fit_member(name, cfg, seed, rows.X[fit_rows], rows.y[fit_rows],
                                   rows.t0[fit_rows], rows.t1[fit_rows], rows.weight[fit_rows])
            out[:, j] = _predict(model, rows.X[predict_rows])
        return out

    nested = nested_oof(fit_predict, rows.t0, rows.t1, len(names), n_splits=cfg.n_splits,
                        embargo=embargo, inner_splits=cfg.inner_splits)
    shipped: dict[str, bytes] = {}
    table: dict[str, Any] = {"features": rows.features, "members": names, "rounds": {}}
    fitted = fit_map(lambda name: _fit_member(name, cfg, seed, rows.X, rows.y, rows.t0,
                                              rows.t1, rows.weight), names)
    for name, (model, rounds) in zip(names, fitted, strict=True):
        if isinstance(model, LinearModel):
            table["linear"] = model.to_dict()
        else:
            shipped[name], table["rounds"][name] = model, rounds
    models = ModelSet(json_safe(table), shipped)

    # The baseline knows the side: shorts and longs pay at different rates, and a tactician
    # must beat the paid rate of its side, not one rate for all.
    side = rows.X[:, rows.features.index("side")]
    fold = np.full(rows.y.size, -1, dtype=np.int64)
    baseline = np.full(rows.y.size, np.nan)
    for k, (train, test, _) in enumerate(nested.folds):
        if train.size:
            fold[test] = k
            baseline[test] = side_rates(rows.y[train], side[train], side[test])
    per_member = {}
    ok = fold >= 0
    for j, name in enumerate(names):
        per_member[name] = {
            **scores(rows.y, nested.outer[:, j], baseline, fold)[0],
            "edge": edge(nested.outer[ok, j], baseline[ok], rows.y[ok], rows.t0[ok],
                         rows.t1[ok], seed=seed, model_name=name,
                         baseline_name="paid rate of the side"),
        }
    later = dataset.filter(pl.col("window") != "train").sort("bar_index")
    later_p = predict_members(models, later.select(rows.features).cast(pl.Float64).to_numpy(),
                              names)
    train_frame = dataset.filter((pl.col("window") == "train") & pl.col("y").is_not_null()
                                 & ~pl.col("purged").fill_null(False)).sort("bar_index")
    cols = [f"p_{n.lower()}" for n in names]
    keep = ["bar_index", "timestamp", "window", "side", "y", "t1_index", "ret"]
    frame = pl.concat([
        train_frame.select(keep).with_columns(
            source=pl.lit("oof"), fold=pl.Series(fold),
            **{c: pl.Series(nested.outer[:, j]) for j, c in enumerate(cols)}),
        later.select(keep).with_columns(
            source=pl.lit("model"), fold=pl.lit(-1, dtype=pl.Int64),
            **{c: pl.Series(later_p[:, j]) for j, c in enumerate(cols)}),
    ]).sort("bar_index")
    validation = frame.filter((pl.col("window") == "validation") & pl.col("y").is_not_null())
    y_val = validation["y"].to_numpy().astype(np.float64)
    v0, v1 = validation["bar_index"].to_numpy(), validation["t1_index"].to_numpy()
    prior_val = side_rates(rows.y, side, validation["side"].to_numpy().astype(np.float64))
    validation_scores = {
        name: edge(validation[c].to_numpy(), prior_val, y_val, v0, v1, seed=seed,
                   model_name=name, baseline_name="paid rate of the side")
        for name, c in zip(names, cols, strict=True)
    } if y_val.size else {}
    metrics = {
        "data": {"members": names, "features": len(rows.features),
                 "train_proposals": int(rows.y.size), "notes": nested.notes},
        "train": {"paid_share": round(float(np.mean(rows.y)), 4),
                  "paid_share_by_side": {
                      "long": round(float(np.mean(rows.y[side > 0])), 4) if (side > 0).any()
                      else None,
                      "short": round(float(np.mean(rows.y[side < 0])), 4) if (side < 0).any()
                      else None}},
        "train_cv": {"per_member": per_member},
        "validation": {"per_member": validation_scores, "rows": int(y_val.size)},
    }
    inner_parts = []
    for k, (train, _, inner) in enumerate(nested.folds):
        if inner is None or train.size == 0:
            continue
        inner_parts.append(pl.DataFrame({
            "fold": np.full(train.size, k, dtype=np.int64),
            "bar_index": rows.t0[train], "t1_index": rows.t1[train], "y": rows.y[train],
            "side": side[train],
            "weight": rows.weight[train],
            **{c: inner[:, j] for j, c in enumerate(cols)},
        }))
    inner_frame = pl.concat(inner_parts).with_columns(pl.col(cols).fill_nan(None))
    return models, frame, inner_frame, json_safe(metrics)
