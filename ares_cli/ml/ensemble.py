"""Analyst ensemble (DESIGN.md step 7): one P(up) per bar from the regime specialists and the
global model.

Step 5 leaves, per bar, an out-of-fold P(up) from each regime specialist (BULL, BEAR, SIDEWAYS,
VOLATILE; a specialist that fell back repeats the global column) and from the global model, and
step 2 leaves the regime classifier's soft scores. Two ways to combine them:

- `gated`: weight each specialist by the classifier's score for its regime. Nothing is fitted, so
  it cannot overfit, and a bar that is clearly in one regime is handled by that regime's expert.
- `StackedEnsemble`: a logistic regression on the members' logits and the scores, which learns
  how much to trust each member (and the global model) from the data.

`compare` tells whether combining is worth it at all: by purged K-fold CV (promise 2, via
`PurgedKFold`) it scores the ensemble, every single member and the class-prior baseline on the
same held-out rows (promise 3), so step 7 can keep the ensemble only if it beats its best member.

Pure and I/O-free; scikit-learn is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ares_cli.ml.cv import PurgedKFold
from ares_cli.ml.regimes import REGIMES

__all__ = [
    "EPS",
    "MEMBERS",
    "StackedEnsemble",
    "compare",
    "evaluate",
    "gated",
]

# Column order of `member_probs`: the four specialists in `REGIMES` order, then the global model.
MEMBERS: tuple[str, ...] = (*REGIMES, "GLOBAL")
# Probabilities are clipped to [EPS, 1 - EPS] before any logit or log-loss, so a member that says
# 0 or 1 costs a large but finite penalty instead of infinity.
EPS = 1e-6

_N_MEMBERS = len(MEMBERS)
_N_REGIMES = len(REGIMES)
_FEATURES: tuple[str, ...] = (
    *(f"logit_{m.lower()}" for m in MEMBERS),
    *(f"score_{r.lower()}" for r in REGIMES),
)
_DICT_KIND = "ares.stacked_ensemble"
_DICT_VERSION = 1
_METHODS = ("gated", "stacked")


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def _clip(p: np.ndarray) -> np.ndarray:
    """Clip probabilities to [EPS, 1 - EPS] (finite logits and log-losses)."""
    return np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)


def _logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) of clipped probabilities."""
    q = _clip(p)
    return np.log(q) - np.log1p(-q)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically stable 1 / (1 + exp(-z))."""
    return np.exp(-np.logaddexp(0.0, -z))


def _check_probs(member_probs: np.ndarray) -> np.ndarray:
    """Validate `member_probs` as an (n, 5) float array of probabilities."""
    probs = np.asarray(member_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != _N_MEMBERS:
        raise ValueError(
            f"member_probs must have shape (n, {_N_MEMBERS}) with columns {list(MEMBERS)}, "
            f"got {probs.shape}"
        )
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("member_probs must be finite probabilities in [0, 1]")
    return probs


def _check_scores(scores: np.ndarray, n: int) -> np.ndarray:
    """Validate `scores` as (n, 4) non-negative rows summing to 1; renormalise rounding error."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape != (n, _N_REGIMES):
        raise ValueError(
            f"scores must have shape ({n}, {_N_REGIMES}) with columns {list(REGIMES)}, "
            f"got {s.shape}"
        )
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("scores must be finite and non-negative")
    total = s.sum(axis=1)
    if n and np.abs(total - 1.0).max() > 1e-3:
        raise ValueError("each row of scores must sum to 1 (soft regime probabilities)")
    return s / total[:, None] if n else s


def _check_labels(y: np.ndarray, n: int) -> np.ndarray:
    """Validate `y` as n labels in {0, 1}; returns float64."""
    labels = np.asarray(y)
    if labels.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {labels.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y must contain only 0 and 1")
    return labels.astype(np.float64)


def _check_weight(weight: np.ndarray | None, n: int) -> np.ndarray | None:
    """Validate optional sample weights: n finite values >= 0."""
    if weight is None:
        return None
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weight must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weight must be finite and >= 0")
    return w


def _prior(y: np.ndarray, weight: np.ndarray | None) -> float:
    """(Weighted) share of positives; the unweighted share if the weights sum to zero."""
    if weight is not None and weight.sum() > 0:
        return float(np.dot(weight, y) / weight.sum())
    return float(y.mean())


def evaluate(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score probabilities `p` = P(y = 1) against 0/1 labels `y`; JSON-ready.

    Returns log-loss (of `p` clipped to [EPS, 1 - EPS], so a confident miss is finite), AUC (None
    when `y` holds only one class, where it is undefined), accuracy (predict 1 when p >= 0.5),
    Brier score and the row count. All figures are unweighted: every held-out bar counts once.
    Empty input gives None for every figure and `rows` 0.
    """
    probs = np.asarray(p, dtype=np.float64).ravel()
    labels = np.asarray(y).ravel()
    if probs.shape != labels.shape:
        raise ValueError(f"p and y must have equal length, got {probs.shape} and {labels.shape}")
    n = int(labels.size)
    if n == 0:
        return {"log_loss": None, "auc": None, "accuracy": None, "brier": None, "rows": 0}
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y must contain only 0 and 1")
    if not np.isfinite(probs).all():
        raise ValueError("p must be finite")
    yf = labels.astype(np.float64)
    q = _clip(probs)
    log_loss = -float(np.mean(yf * np.log(q) + (1.0 - yf) * np.log1p(-q)))
    auc: float | None = None
    if 0.0 < yf.mean() < 1.0:
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(yf, probs))
    return {
        "log_loss": log_loss,
        "auc": auc,
        "accuracy": float(np.mean((probs >= 0.5) == (yf == 1.0))),
        "brier": float(np.mean((probs - yf) ** 2)),
        "rows": n,
    }


# --------------------------------------------------------------------------------------------
# Combiners
# --------------------------------------------------------------------------------------------


def gated(member_probs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Regime-gated P(up): `sum_r score_r * p_r` over the four specialists.

    The classifier's soft scores act as the gate, so a bar scored 100 % BULL gets exactly the BULL
    specialist's probability and an ambiguous bar gets a blend. The GLOBAL column is not used
    directly: it already stands in for any specialist that fell back to it. Scores are
    renormalised to sum exactly to 1 (rows off by more than 1e-3 are rejected).
    """
    probs = _check_probs(member_probs)
    s = _check_scores(scores, probs.shape[0])
    return np.einsum("ij,ij->i", s, probs[:, :_N_REGIMES])


def _design(member_probs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Stacking features: logit of each member's clipped probability, then the regime scores."""
    probs = _check_probs(member_probs)
    s = _check_scores(scores, probs.shape[0])
    return np.hstack([_logit(probs), s])


class StackedEnsemble:
    """Logistic regression on the members' logits and the regime scores (a stacker).

    Learns how much each member deserves, e.g. a strong global model over a noisy specialist,
    which a fixed gate cannot. Inputs must be out-of-fold member predictions, or the stacker
    learns to trust in-sample overfit. L2-regularised (`C` as in scikit-learn; smaller is
    stronger), so the collinearity of the scores (rows sum to 1) with the intercept is harmless.

    Follows scikit-learn's estimator rules: `__init__` only stores parameters, `fit` returns
    self, learned state ends in `_`. `predict_proba` returns the 1-D P(up), computed in NumPy
    from `coef_` / `intercept_`, so a model restored with `from_dict` predicts identically.

    If the training labels hold a single class, no regression can be fitted: the model then
    predicts that (weighted) class rate, clipped, for every row and sets `constant_ = True`.
    """

    def __init__(self, C: float = 1.0, random_state: int | None = None) -> None:
        self.C = C
        self.random_state = random_state

    def fit(
        self,
        member_probs: np.ndarray,
        scores: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> StackedEnsemble:
        """Fit the stacker on (out-of-fold) member probabilities, scores and 0/1 labels.

        `weight` (e.g. average label uniqueness from step 4) is passed to the regression as
        sample weights.
        """
        try:
            c = float(self.C)
        except (TypeError, ValueError):
            c = math.nan
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"C must be a positive finite number, got {self.C!r}")
        x = _design(member_probs, scores)
        n = x.shape[0]
        if n == 0:
            raise ValueError("StackedEnsemble.fit needs at least one row")
        labels = _check_labels(y, n)
        w = _check_weight(weight, n)
        if w is not None and w.sum() <= 0:
            raise ValueError("weight must not sum to zero")
        if labels.min() == labels.max():
            self.coef_ = np.zeros(len(_FEATURES))
            self.intercept_ = float(_logit(np.array(_prior(labels, w)))[()])
            self.constant_ = True
        else:
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(
                C=c, solver="lbfgs", max_iter=1000, random_state=self.random_state
            )
            model.fit(x, labels.astype(np.int64), sample_weight=w)
            self.coef_ = np.asarray(model.coef_, dtype=np.float64).ravel().copy()
            self.intercept_ = float(model.intercept_[0])
            self.constant_ = False
        self.n_features_in_ = len(_FEATURES)
        self.feature_names_ = _FEATURES
        return self

    def _check_fitted(self) -> None:
        """Raise if `fit` / `from_dict` has not set the learned state."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("StackedEnsemble is not fitted: call fit() or from_dict() first")

    def decision_function(self, member_probs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Log-odds of up: `features @ coef_ + intercept_`."""
        self._check_fitted()
        return _design(member_probs, scores) @ self.coef_ + self.intercept_

    def predict_proba(self, member_probs: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """P(up) per row (1-D, not scikit-learn's two columns)."""
        return _sigmoid(self.decision_function(member_probs, scores))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters and coefficients, for the deployable bundle."""
        self._check_fitted()
        return {
            "kind": _DICT_KIND,
            "version": _DICT_VERSION,
            "members": list(MEMBERS),
            "regimes": list(REGIMES),
            "features": list(_FEATURES),
            "clip": EPS,
            "C": float(self.C),
            "random_state": self.random_state,
            "coef": [float(c) for c in self.coef_],
            "intercept": float(self.intercept_),
            "constant": bool(self.constant_),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackedEnsemble:
        """Rebuild a fitted ensemble from `to_dict` output (rejects another layout)."""
        if data.get("kind") != _DICT_KIND or data.get("version") != _DICT_VERSION:
            raise ValueError(
                f"not a {_DICT_KIND} v{_DICT_VERSION} dict: "
                f"kind={data.get('kind')!r}, version={data.get('version')!r}"
            )
        if tuple(data.get("features", ())) != _FEATURES:
            raise ValueError(
                f"feature layout {data.get('features')!r} does not match {list(_FEATURES)}"
            )
        coef = np.asarray(data["coef"], dtype=np.float64)
        if coef.shape != (len(_FEATURES),) or not np.isfinite(coef).all():
            raise ValueError(f"coef must be {len(_FEATURES)} finite numbers")
        model = cls(C=data["C"], random_state=data.get("random_state"))
        model.coef_ = coef
        model.intercept_ = float(data["intercept"])
        model.constant_ = bool(data.get("constant", False))
        model.n_features_in_ = len(_FEATURES)
        model.feature_names_ = _FEATURES
        return model


# --------------------------------------------------------------------------------------------
# Purged-CV comparison
# --------------------------------------------------------------------------------------------


def compare(
    member_probs: np.ndarray,
    scores: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    *,
    method: str,
    n_splits: int = 5,
    embargo: int = 12,
    seed: int = 0,
    weight: np.ndarray | None = None,
    C: float = 1.0,
) -> dict[str, Any]:
    """Purged K-fold comparison of the ensemble with each member and the class prior; JSON-ready.

    Folds come from `PurgedKFold(n_splits, embargo).split(t0, t1)` (rows in time order). Per fold,
    "stacked" fits a `StackedEnsemble(C, random_state=seed)` on the purged training rows and
    predicts the test rows; "gated" fits nothing. The baseline predicts the training rows' class
    prior. Members need no fitting: their columns are already out-of-fold. `weight` weights the
    stacker's fit and the baseline prior; the scores themselves are unweighted.

    Every candidate is scored on the same pooled held-out rows with `evaluate`. A fold whose
    purged training part is empty is skipped for all candidates (no prior, no stacker) and listed
    in "folds"; if every fold is skipped, ValueError. A fold whose training rows hold one class
    gets a constant stacker (see `StackedEnsemble`).

    Returns {"method", "n_splits", "embargo", "seed", "folds": [...], "ensemble": metrics,
    "members": {name: metrics}, "baseline": metrics, "best_member", "ensemble_beats_best_member"}.
    The best member has the lowest log-loss (on an exact tie GLOBAL wins, as a fallen-back
    specialist is only its copy, then the earlier member); the ensemble beats it when its
    log-loss is strictly lower.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    probs = _check_probs(member_probs)
    n = probs.shape[0]
    s = _check_scores(scores, n)
    labels = _check_labels(y, n)
    w = _check_weight(weight, n)

    splitter = PurgedKFold(n_splits=n_splits, embargo=embargo)
    ensemble_p = np.full(n, np.nan)
    baseline_p = np.full(n, np.nan)
    folds: list[dict[str, Any]] = []
    for k, (train, test) in enumerate(splitter.split(t0, t1)):
        info: dict[str, Any] = {
            "fold": k,
            "train_rows": int(train.size),
            "test_rows": int(test.size),
            "skipped": train.size == 0,
            "constant_stacker": False,
        }
        folds.append(info)
        if train.size == 0:
            continue
        w_train = None if w is None else w[train]
        baseline_p[test] = _prior(labels[train], w_train)
        if method == "gated":
            ensemble_p[test] = gated(probs[test], s[test])
        else:
            stacker = StackedEnsemble(C=C, random_state=seed)
            if w_train is not None and w_train.sum() <= 0:
                w_train = None  # all-zero weights in this fold: fall back to equal weights
            stacker.fit(probs[train], s[train], labels[train], weight=w_train)
            info["constant_stacker"] = stacker.constant_
            ensemble_p[test] = stacker.predict_proba(probs[test], s[test])

    used = np.isfinite(ensemble_p)
    if not used.any():
        raise ValueError(
            f"every one of the {n_splits} purged folds has an empty training set "
            f"(labels span too much of the {n} rows); nothing can be evaluated"
        )
    y_used = labels[used]
    members = {name: evaluate(probs[used, j], y_used) for j, name in enumerate(MEMBERS)}
    best = "GLOBAL"
    for name in MEMBERS:
        if members[name]["log_loss"] < members[best]["log_loss"]:
            best = name
    ensemble = evaluate(ensemble_p[used], y_used)
    return {
        "method": method,
        "n_splits": int(n_splits),
        "embargo": int(embargo),
        "seed": int(seed),
        "folds": folds,
        "ensemble": ensemble,
        "members": members,
        "baseline": evaluate(baseline_p[used], y_used),
        "best_member": best,
        "ensemble_beats_best_member": bool(ensemble["log_loss"] < members[best]["log_loss"]),
    }
