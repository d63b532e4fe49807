"""Ensembles of member probabilities: a fixed gate or a stacked logistic regression.

Members are named columns of out-of-fold probabilities (the analyst's regime specialists and its
global model today; tactician members next); context is a few named columns known at the bar
(the analyst's soft regime scores). Two ways to combine them:

- `gated`: weight each expert column by its context score (sum_r score_r * p_r). Nothing is
  fitted, so it cannot overfit, and a bar clearly in one regime is handled by that expert.
- `StackedEnsemble`: a logistic regression on the members' logits and the context, which learns
  how much to trust each member from the data.

`combine_oof` is the single out-of-fold loop: per purged fold it fits the combiner (weighted like
the shipped one) on the training rows and predicts the test rows. `compare` scores that
out-of-fold ensemble, every member and the class prior on the same held-out rows (promise 3).
Pure and I/O-free; scikit-learn is imported inside the functions that need it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import numpy as np

from ares_cli.errors import InsufficientData
from ares_cli.ml.models.cv import PurgedKFold
from ares_cli.util.section import Field, Section

__all__ = [
    "EPS",
    "Combined",
    "EnsembleConfig",
    "OofCombination",
    "StackedEnsemble",
    "combine_oof",
    "compare",
    "evaluate",
    "gated",
]

# Probabilities are clipped to [EPS, 1 - EPS] before any logit or log-loss, so a member that says
# 0 or 1 costs a large but finite penalty instead of infinity.
EPS = 1e-6
_DICT_KIND = "ares.stacked_ensemble"
_DICT_VERSION = 2
_METHODS = ("gated", "stacked")


class Combined(NamedTuple):
    """What combining members gives a step: the per-row probabilities, the shipped model (a
    JSON-ready dict) and metrics under their windows, with the validation verdict and edge at
    `metrics["validation"]["verdict"]` and `["edge"]` (the step says them in words)."""

    frame: Any  # pl.DataFrame
    model: dict[str, Any]
    metrics: dict[str, Any]


class EnsembleConfig(Section):
    """`[ensemble]`: how specialists and the global model become one analyst probability."""

    method: Literal["stacked", "gated"] = "stacked"
    C: float = Field(1.0, gt=0)
    inner_splits: int = Field(3, ge=2)  # nested CV: member folds inside each stacker fold


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


def _check_probs(member_probs: np.ndarray, width: int | None = None) -> np.ndarray:
    """Validate `member_probs` as an (n, width) float array of probabilities."""
    probs = np.asarray(member_probs, dtype=np.float64)
    if probs.ndim != 2 or (width is not None and probs.shape[1] != width):
        raise ValueError(
            f"member probabilities must have shape (n, {width if width else 'members'}), "
            f"got {probs.shape}"
        )
    if not np.isfinite(probs).all() or (probs < 0).any() or (probs > 1).any():
        raise ValueError("member probabilities must be finite probabilities in [0, 1]")
    return probs


def _check_scores(scores: np.ndarray, n: int, width: int) -> np.ndarray:
    """Validate (n, width) non-negative rows summing to 1; renormalise rounding error."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape != (n, width):
        raise ValueError(f"scores must have shape ({n}, {width}), got {s.shape}")
    if not np.isfinite(s).all() or (s < 0).any():
        raise ValueError("scores must be finite and non-negative")
    if width == 0:
        return s
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
    if weight is not None and weight.sum() > 0:  # rounding may step past 0 or 1
        return float(np.clip(np.dot(weight, y) / weight.sum(), 0.0, 1.0))
    return float(y.mean())


def evaluate(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Score probabilities `p` = P(y = 1) against 0/1 labels `y`; JSON-ready.

    Returns log-loss (of `p` clipped to [EPS, 1 - EPS], so a confident miss is finite), AUC (None
    when `y` holds only one class, where it is undefined), accuracy (predict 1 when p >= 0.5),
    Brier score and the row count (`binary_scores`: sklearn's figures, tested equal to 1e-12). Every
    held-out bar counts once.
    Empty input gives None for every figure and `rows` 0.
    """
    from ares_cli.ml.stats import binary_scores

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
    yi = labels.astype(np.int64)
    both = 0 < yi.sum() < n
    return {
        "log_loss": binary_scores.log_loss(yi, _clip(probs)),
        "auc": binary_scores.auc(yi, probs) if both else None,
        "accuracy": binary_scores.accuracy(yi, probs),
        "brier": binary_scores.brier(yi, np.clip(probs, 0.0, 1.0)),
        "rows": n,
    }


# --------------------------------------------------------------------------------------------
# Combiners
# --------------------------------------------------------------------------------------------


def gated(expert_probs: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """Gated P(up): `sum_r gate_r * p_r` over the expert columns, one gate column per expert.

    For the analyst the experts are the four regime specialists (a specialist that fell back
    already repeats the global model) and the gate is the classifier's soft scores, so a bar
    scored 100 % BULL gets exactly the BULL specialist's probability. Gate rows are renormalised
    to sum exactly to 1 (rows off by more than 1e-3 are rejected).
    """
    probs = _check_probs(expert_probs)
    s = _check_scores(gate, probs.shape[0], probs.shape[1])
    return np.einsum("ij,ij->i", s, probs)


class StackedEnsemble:
    """Logistic regression on the members' logits and the context columns (a stacker).

    Learns how much each member deserves, e.g. a strong global model over a noisy specialist,
    which a fixed gate cannot. Inputs must be out-of-fold member predictions, or the stacker
    learns to trust in-sample overfit. L2-regularised (`C` as in scikit-learn; smaller is
    stronger), so context columns that sum to 1 (collinear with the intercept) are harmless.

    Follows scikit-learn's estimator rules: `__init__` only stores parameters, `fit` returns
    self, learned state ends in `_`. `predict_proba` returns the 1-D P(up), computed in NumPy
    from `coef_` / `intercept_`, so a model restored with `from_dict` predicts identically.
    If the training labels hold a single class the model predicts that (weighted) class rate,
    clipped, for every row and sets `constant_ = True`.
    """

    def __init__(
        self, C: float = 1.0, random_state: int | None = None, *,
        members: Sequence[str] = (), context: Sequence[str] = (),
    ) -> None:
        self.C = C
        self.random_state = random_state
        self.members = members
        self.context = context

    @property
    def feature_names_(self) -> tuple[str, ...]:
        return (*(f"logit_{m.lower()}" for m in self.members),
                *(f"score_{c.lower()}" for c in self.context))

    def _design(self, member_probs: np.ndarray, context: np.ndarray) -> np.ndarray:
        probs = _check_probs(member_probs, len(self.members))
        s = _check_scores(context, probs.shape[0], len(self.context))
        return np.hstack([_logit(probs), s])

    def fit(
        self,
        member_probs: np.ndarray,
        context: np.ndarray,
        y: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> StackedEnsemble:
        """Fit on (out-of-fold) member probabilities, context and 0/1 labels, with weights."""
        try:
            c = float(self.C)
        except (TypeError, ValueError):
            c = math.nan
        if not (math.isfinite(c) and c > 0):
            raise ValueError(f"C must be a positive finite number, got {self.C!r}")
        x = self._design(member_probs, context)
        n = x.shape[0]
        if n == 0:
            raise ValueError("StackedEnsemble.fit needs at least one row")
        labels = _check_labels(y, n)
        w = _check_weight(weight, n)
        if w is not None and w.sum() <= 0:
            raise ValueError("weight must not sum to zero")
        if labels.min() == labels.max():
            self.coef_ = np.zeros(x.shape[1])
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
        self.n_features_in_ = x.shape[1]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise RuntimeError("StackedEnsemble is not fitted: call fit() or from_dict() first")

    def decision_function(self, member_probs: np.ndarray, context: np.ndarray) -> np.ndarray:
        """Log-odds of up: `features @ coef_ + intercept_`."""
        self._check_fitted()
        return self._design(member_probs, context) @ self.coef_ + self.intercept_

    def predict_proba(self, member_probs: np.ndarray, context: np.ndarray) -> np.ndarray:
        """P(up) per row (1-D, not scikit-learn's two columns)."""
        return _sigmoid(self.decision_function(member_probs, context))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters and coefficients, for the deployable bundle."""
        self._check_fitted()
        return {
            "kind": _DICT_KIND,
            "version": _DICT_VERSION,
            "members": list(self.members),
            "context": list(self.context),
            "features": list(self.feature_names_),
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
        model = cls(C=data["C"], random_state=data.get("random_state"),
                    members=tuple(data["members"]), context=tuple(data["context"]))
        if tuple(data.get("features", ())) != model.feature_names_:
            raise ValueError(f"feature layout {data.get('features')!r} does not match "
                             f"{list(model.feature_names_)}")
        coef = np.asarray(data["coef"], dtype=np.float64)
        if coef.shape != (len(model.feature_names_),) or not np.isfinite(coef).all():
            raise ValueError(f"coef must be {len(model.feature_names_)} finite numbers")
        model.coef_ = coef
        model.intercept_ = float(data["intercept"])
        model.constant_ = bool(data.get("constant", False))
        model.n_features_in_ = coef.size
        return model


# --------------------------------------------------------------------------------------------
# Out-of-fold combination and the purged comparison
# --------------------------------------------------------------------------------------------


@dataclass
class OofCombination:
    """Out-of-fold ensemble and class-prior probabilities (NaN on rows of skipped folds), and
    the ensemble on extra rows, each from the fold it was assigned to (NaN when none)."""

    ensemble: np.ndarray
    baseline: np.ndarray
    folds: list[dict[str, Any]]
    extra: np.ndarray | None = None


Fold = tuple[np.ndarray, np.ndarray, np.ndarray | None]


def combine_oof(
    member_probs: np.ndarray,
    context: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    *,
    method: str,
    members: Sequence[str],
    context_names: Sequence[str],
    n_splits: int = 5,
    embargo: int = 12,
    seed: int = 0,
    weight: np.ndarray | None = None,
    C: float = 1.0,
    folds: Sequence[Fold] | None = None,
    extra: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> OofCombination:
    """The one out-of-fold loop: per purged fold, fit the combiner on the training rows (with
    the same sample weights as the shipped stacker) and predict the test rows.

    `member_probs` are out-of-fold member predictions. Stacking on them across folds leaks:
    the value of a training row in fold j came from members trained on fold j's own rows, so
    the stacker learns fold j's base rate. Pass `folds` (train, test, inner) from a nested
    member CV (`ml.members.NestedOof.folds`): the stacker of fold j is then fitted on `inner`,
    member predictions made inside fold j's training rows alone, and predicts fold j from
    `member_probs`. Without `folds` (or with `inner` None) the leaky member values are used,
    which only tests of the leak should do.

    "gated" fits nothing: its first `len(context_names)` member columns are the experts the
    context gates. The baseline predicts the training rows' (weighted) class prior. A fold whose
    purged training part is empty is skipped (NaN); a fold whose training rows hold one class
    gets a constant stacker; a fold whose weights sum to zero is fitted unweighted.

    `extra` = (member probabilities, context, fold) of rows without a label: each is combined by
    the combiner of its fold (`fold` -1: left NaN).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {list(_METHODS)}, got {method!r}")
    probs = _check_probs(member_probs, len(members))
    n = probs.shape[0]
    _check_scores(context, n, len(context_names))
    s = np.asarray(context, dtype=np.float64)  # each combiner renormalises the rows it gets
    labels = _check_labels(y, n)
    w = _check_weight(weight, n)
    if folds is None:
        folds = [(tr, te, None) for tr, te in PurgedKFold(n_splits, embargo).split(t0, t1)]
    ensemble_p = np.full(n, np.nan)
    baseline_p = np.full(n, np.nan)
    extra_p = None if extra is None else np.full(len(extra[2]), np.nan)
    infos: list[dict[str, Any]] = []
    for k, (train, test, inner) in enumerate(folds):
        mine = np.zeros(0, dtype=np.int64) if extra is None else np.flatnonzero(extra[2] == k)
        info: dict[str, Any] = {"fold": k, "train_rows": int(train.size),
                                "test_rows": int(test.size), "skipped": train.size == 0,
                                "constant_stacker": False, "nested": inner is not None}
        infos.append(info)
        if train.size == 0:
            continue
        w_train = None if w is None else w[train]
        if w_train is not None and w_train.sum() <= 0:
            w_train = None
        baseline_p[test] = _prior(labels[train], w_train)
        if method == "gated":
            ensemble_p[test] = gated(probs[test, : len(context_names)], s[test])
            if mine.size and extra is not None and extra_p is not None:
                extra_p[mine] = gated(extra[0][mine, : len(context_names)], extra[1][mine])
            continue
        rows, features = train, probs[train]
        if inner is not None:
            usable = np.isfinite(inner).all(axis=1)
            rows, features = train[usable], inner[usable]
            info["train_rows"] = int(rows.size)
        if rows.size == 0:
            info["skipped"] = True
            continue
        w_fit = None if w is None else w[rows]
        if w_fit is not None and w_fit.sum() <= 0:
            w_fit = None
        stacker = StackedEnsemble(C=C, random_state=seed, members=members,
                                  context=context_names)
        stacker.fit(features, s[rows], labels[rows], weight=w_fit)
        info["constant_stacker"] = stacker.constant_
        ensemble_p[test] = stacker.predict_proba(probs[test], s[test])
        if mine.size and extra is not None and extra_p is not None:
            extra_p[mine] = stacker.predict_proba(extra[0][mine], extra[1][mine])
    return OofCombination(ensemble_p, baseline_p, infos, extra_p)


def compare(
    member_probs: np.ndarray, y: np.ndarray, oof: OofCombination, members: Sequence[str],
    *, method: str,
) -> dict[str, Any]:
    """Score `combine_oof`'s out-of-fold ensemble, every member and the class prior on the same
    pooled held-out rows (`evaluate` each); JSON-ready.

    Members need no fitting: their columns are already out-of-fold. The best member has the
    lowest log-loss (on an exact tie the last member — the fallback model the others copy —
    wins, then the earlier member). ValueError when every fold was skipped.
    """
    probs, labels = _check_probs(member_probs, len(members)), np.asarray(y)
    used = np.isfinite(oof.ensemble)
    if not used.any():
        raise InsufficientData(
            f"every one of the {len(oof.folds)} purged folds has an empty training set "
            f"(labels span too much of the {labels.size} rows); nothing can be evaluated"
        )
    y_used = labels[used]
    scored = {name: evaluate(probs[used, j], y_used) for j, name in enumerate(members)}
    best = members[-1]
    for name in members:
        if scored[name]["log_loss"] < scored[best]["log_loss"]:
            best = name
    ensemble = evaluate(oof.ensemble[used], y_used)
    return {
        "method": method,
        "folds": oof.folds,
        "ensemble": ensemble,
        "members": scored,
        "baseline": evaluate(oof.baseline[used], y_used),
        "best_member": best,
        "ensemble_beats_best_member": bool(ensemble["log_loss"] < scored[best]["log_loss"]),
    }
