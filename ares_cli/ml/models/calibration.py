"""Probability calibration (step 11): isotonic or sigmoid (Platt), chosen by purged-CV Brier.

Calibrators are fitted on the clean out-of-fold training predictions only (the analyst's from
step 7, the tactician's from step 10). The method — none, isotonic or sigmoid — is the one with
the lowest Brier score in a purged K-fold CV over those training rows; the chosen calibrator is
then fitted on every training row and applied to the validation and test predictions, which no
calibrator has seen. Training rows get their calibrated value out of fold, from that same CV.
Reported per window: Brier score, log-loss and expected calibration error before and after, and
reliability tables (`sklearn.calibration.calibration_curve`) for the report's plots.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ares_cli.ml.models.cv import PurgedKFold
from ares_cli.util.section import Field, Section

__all__ = ["METHODS", "CalibrationConfig", "Calibrator", "calibrate", "ece", "reliability"]

METHODS = ("none", "isotonic", "sigmoid")
EPS = 1e-6


class CalibrationConfig(Section):
    """`[calibration]`: folds of the method choice and bins of the reliability tables."""

    n_splits: int = Field(5, ge=2)
    bins: int = Field(10, ge=2, le=50)
    min_rows: int = Field(50, ge=10)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPS, 1 - EPS)
    return np.log(q) - np.log1p(-q)


class Calibrator:
    """A fitted map from raw to calibrated probability (scikit-learn's estimator rules)."""

    def __init__(self, method: str = "isotonic") -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method

    def fit(self, p: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None) -> Calibrator:
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            model.fit(p, y, sample_weight=weight)
            self.x_, self.y_ = model.X_thresholds_.copy(), model.y_thresholds_.copy()
        elif self.method == "sigmoid":
            from sklearn.linear_model import LogisticRegression

            if np.unique(y).size < 2:
                self.a_, self.b_ = 0.0, float(_logit(np.array([y.mean()]))[0])
            else:
                model = LogisticRegression(C=1e6, max_iter=1000)
                model.fit(_logit(p)[:, None], y.astype(np.int64), sample_weight=weight)
                self.a_, self.b_ = float(model.coef_[0, 0]), float(model.intercept_[0])
        self.fitted_ = True
        return self

    def predict(self, p: np.ndarray) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(p, self.x_, self.y_)
        if self.method == "sigmoid":
            return np.exp(-np.logaddexp(0.0, -(self.a_ * _logit(p) + self.b_)))
        return p

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Calibrator:
        """The calibrator `to_dict` described (as stored in step 11's `calibrators`)."""
        out = cls(values["method"])
        if out.method == "isotonic":
            out.x_, out.y_ = np.asarray(values["x"], float), np.asarray(values["y"], float)
        elif out.method == "sigmoid":
            out.a_, out.b_ = float(values["a"]), float(values["b"])
        out.fitted_ = True
        return out

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method}
        if self.method == "isotonic":
            out.update(x=self.x_.tolist(), y=self.y_.tolist())
        elif self.method == "sigmoid":
            out.update(a=self.a_, b=self.b_)
        return out


def ece(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted |observed rate - mean probability| over
    `bins` equal-width bins, right-closed like Guo et al. and `calibration_curve` (a probability
    on an edge falls in the lower bin), so the ECE and the reliability table bin alike."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(float(y[mask].mean()) - float(p[mask].mean()))
    return total


def reliability(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict[str, list[float]]:
    """`sklearn.calibration.calibration_curve` (equal-width bins) as JSON-ready lists."""
    from sklearn.calibration import calibration_curve

    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    return {"predicted": predicted.tolist(), "observed": observed.tolist()}


def _scores(p: np.ndarray, y: np.ndarray, bins: int) -> dict[str, float]:
    q = np.clip(p, EPS, 1 - EPS)
    return {"brier": float(np.mean((p - y) ** 2)),
            "log_loss": float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q))),
            "ece": ece(p, y, bins)}


def calibrate(
    train_p: np.ndarray, train_y: np.ndarray, t0: np.ndarray, t1: np.ndarray,
    weight: np.ndarray | None, later_p: np.ndarray, *, cfg: CalibrationConfig, embargo: int,
) -> tuple[Calibrator, np.ndarray, np.ndarray, dict[str, Any]]:
    """(fitted calibrator, out-of-fold calibrated training p, calibrated later p, CV choice).

    Training rows are in time order with label windows `[t0, t1]`. The method with the lowest
    purged-CV Brier wins; ties keep the simpler one (none, then sigmoid, then isotonic).
    """
    n = train_y.size
    folds = list(PurgedKFold(cfg.n_splits, embargo).split(t0, t1))
    cv_p = {m: np.full(n, np.nan) for m in METHODS}
    for train, test in folds:
        if train.size < 2:
            continue
        w = None if weight is None else weight[train]
        for method in METHODS:
            cv_p[method][test] = Calibrator(method).fit(train_p[train], train_y[train],
                                                        w).predict(train_p[test])
    scored = np.isfinite(cv_p["none"])
    briers = {m: float(np.mean((cv_p[m][scored] - train_y[scored]) ** 2)) for m in METHODS}
    order = ("none", "sigmoid", "isotonic")
    best = min(order, key=lambda m: (round(briers[m], 12), order.index(m)))
    chosen = Calibrator(best).fit(train_p, train_y, weight)
    return chosen, cv_p[best], chosen.predict(later_p), {"cv_brier": briers, "chosen": best}


def report(before: np.ndarray, after: np.ndarray, y: np.ndarray, bins: int) -> dict[str, Any]:
    """Brier, log-loss and ECE before and after, and both reliability tables."""
    b, a = _scores(before, y, bins), _scores(after, y, bins)
    out: dict[str, Any] = {f"{k}_before": v for k, v in b.items()}
    out.update({f"{k}_after": v for k, v in a.items()})
    out["rows"] = int(y.size)
    out["reliability_before"] = reliability(before, y, bins) if y.size else None
    out["reliability_after"] = reliability(after, y, bins) if y.size else None
    return out


def calibrate_probabilities(
    frame: Any, column: str, *, cfg: CalibrationConfig, embargo: int, seed: int, name: str,
) -> tuple[Any, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Calibrate `column` of a step-7 or step-10 table: (table with `<column>_cal`, calibrator
    dict, train_cv metrics, validation metrics).

    Fitted on the labelled out-of-fold training rows; a training bar without a label has no
    calibrated value (no calibrator was fitted without its neighbours' outcomes).
    """
    import polars as pl

    from ares_cli.errors import InsufficientData
    from ares_cli.ml.stats.edge_intervals import edge

    frame = frame.sort("bar_index")
    train = frame.filter((pl.col("window") == "train") & pl.col("y").is_not_null()
                         & pl.col(column).is_not_null())
    if train.height < cfg.min_rows:
        raise InsufficientData(
            f"calibrate has {train.height} labelled out-of-fold {name} predictions in the "
            f"training window; it needs at least {cfg.min_rows} (calibration.min_rows)")
    later = frame.filter((pl.col("window") != "train") & pl.col(column).is_not_null())
    y = train["y"].to_numpy().astype(np.float64)
    p = train[column].to_numpy().astype(np.float64)
    t0, t1 = train["bar_index"].to_numpy(), train["t1_index"].to_numpy()
    chosen, oof_cal, later_cal, choice = calibrate(
        p, y, t0, t1, None, later[column].to_numpy().astype(np.float64), cfg=cfg,
        embargo=embargo)
    cal = f"{column}_cal"
    table = pl.concat([
        train.select("bar_index", "window", column).with_columns(
            pl.Series(cal, oof_cal).fill_nan(None)),
        later.select("bar_index", "window", column).with_columns(pl.Series(cal, later_cal)),
    ]).sort("bar_index")
    scored = np.isfinite(oof_cal)
    train_cv = {**choice, **report(p[scored], oof_cal[scored], y[scored], cfg.bins)}
    validation = later.with_columns(pl.Series(cal, later_cal)).filter(
        (pl.col("window") == "validation") & pl.col("y").is_not_null())
    v_y = validation["y"].to_numpy().astype(np.float64)
    v_raw, v_cal = validation[column].to_numpy(), validation[cal].to_numpy()
    v_report = report(v_raw, v_cal, v_y, cfg.bins) if v_y.size else {"rows": 0}
    if v_y.size:
        # the baseline the earlier steps judged the model against: the training paid rate of
        # each side for the tactician (longs and shorts pay at different rates), else the prior
        if "side" in train.columns and "side" in validation.columns:
            sides = train["side"].to_numpy()
            rates = {s: float(y[sides == s].mean()) for s in np.unique(sides)}
            base = np.array([rates.get(s, float(y.mean()))
                             for s in validation["side"].to_numpy()])
            base_name = "paid rate of the side"
        else:
            base, base_name = np.full(v_y.size, float(y.mean())), "class prior"
        v_report["edge_after"] = edge(v_cal, base, v_y, validation["bar_index"].to_numpy(),
                                      validation["t1_index"].to_numpy(), seed=seed,
                                      model_name=f"calibrated {name}", baseline_name=base_name)
    return table, chosen.to_dict(), train_cv, v_report
