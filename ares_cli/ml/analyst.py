"""Analyst direction models (DESIGN.md step 5): XGBoost P(up) with purged, embargoed CV.

The analyst predicts the direction of a bar's triple-barrier label (1 = up, 0 = down) from causal
features. Everything reported here is out-of-fold (promise 3): `cross_validate` runs
`PurgedKFold` over the label windows `[t0, t1]` (promise 2) and scores each fold's model only on
its test rows, next to a class-prior baseline computed the same way (prior from each fold's
training rows), so "the model beats the prior" is an honest statement.

Early stopping never looks at the test fold: each fold's training rows are split in time order,
the last ~15% become an inner validation set, the rows before it whose labels reach into it are
purged, the model is early-stopped on that inner split, then refit on all of the fold's training
rows for the best number of rounds. `fit_final` trains on everything for the median of the folds'
best rounds, so the cross-validated figure describes the same recipe as the shipped model.

Determinism (promise 4): `tree_method="hist"`, a fixed seed and a fixed thread count give
identical model bytes for identical inputs. Models travel as XGBoost's own UBJSON bytes
(`Booster.save_raw("ubj")`), never pickled.

`fit_specialists` trains one model per regime on that regime's rows (with its own purged CV) and
a global model that stands in for regimes with too few rows. For the ensemble (step 7) it also
leaves `member_oof`: every member's out-of-fold P(up) on every row.

Pure and I/O-free; xgboost and scikit-learn are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ares_cli.ml.cv import PurgedKFold
from ares_cli.ml.regimes import REGIMES

if TYPE_CHECKING:
    import xgboost as xgb

__all__ = [
    "EPS",
    "INNER_VALID_FRACTION",
    "MEMBERS",
    "CVResult",
    "Specialist",
    "SpecialistSet",
    "TrainParams",
    "cross_validate",
    "fit_final",
    "fit_specialists",
    "predict",
]

# Probabilities are clipped to [EPS, 1 - EPS] before a log-loss (same constant as the ensemble),
# so a model that says 0 or 1 costs a large but finite penalty.
EPS = 1e-6
# Share of a fold's training rows (the latest ones) held out for early stopping.
INNER_VALID_FRACTION = 0.15
# Below these sizes the inner split is not worth trusting: train `num_boost_round` rounds instead.
_MIN_INNER_TRAIN = 20
_MIN_INNER_VALID = 10
# Column order of `SpecialistSet.member_oof`; equals `ares_cli.ml.ensemble.MEMBERS`.
MEMBERS: tuple[str, ...] = (*REGIMES, "GLOBAL")


@dataclass(frozen=True)
class TrainParams:
    """Training recipe of one direction model (CV layout + XGBoost hyper-parameters).

    `n_threads` and `seed` are part of the recipe because XGBoost's `hist` result depends on
    them: fixing both is what makes the model bytes reproducible.
    """

    n_splits: int = 5
    embargo: int = 12
    num_boost_round: int = 300
    early_stopping_rounds: int = 30
    max_depth: int = 4
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    n_threads: int = 2
    seed: int = 0

    def xgb_params(self) -> dict[str, Any]:
        """The XGBoost parameter dict for `xgboost.train` (deterministic CPU `hist`)."""
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "device": "cpu",
            "max_depth": int(self.max_depth),
            "learning_rate": float(self.learning_rate),
            "subsample": float(self.subsample),
            "colsample_bytree": float(self.colsample_bytree),
            "min_child_weight": float(self.min_child_weight),
            "reg_lambda": float(self.reg_lambda),
            "nthread": int(self.n_threads),
            "seed": int(self.seed),
            "verbosity": 0,
        }


@dataclass
class CVResult:
    """Out-of-fold predictions and scores of one purged cross-validation.

    Metrics are unweighted (each labelled row counts once; sample weights only shape the
    training loss) and pooled over all rows that were in a test fold, except `auc`, the mean of
    the per-fold AUCs (`fold_auc`, None where a test fold holds one class). The baseline predicts
    each test row with the class prior of its fold's training rows; its AUC is 0.5 by definition.
    """

    oof: np.ndarray  # out-of-fold P(up) per row; NaN for a row never in a scored test fold
    logloss: float
    auc: float
    accuracy: float
    baseline_logloss: float
    baseline_auc: float
    baseline_accuracy: float
    best_rounds: list[int]  # per fold (0 when the fold trained no model, see `notes`)
    rounds: int  # rounds for the final model: ceil(median of the folds' best rounds)
    baseline_oof: np.ndarray  # the class prior each row was predicted with
    fold: np.ndarray  # test fold of each row (int, -1 if never scored)
    fold_auc: list[float | None]  # per fold; None when skipped (single class / not scored)
    rows: int  # rows scored out-of-fold
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-row arrays; NaN becomes None)."""
        return _json_safe({
            "rows": self.rows,
            "logloss": _num(self.logloss),
            "baseline_logloss": _num(self.baseline_logloss),
            "auc": _num(self.auc),
            "baseline_auc": _num(self.baseline_auc),
            "accuracy": _num(self.accuracy),
            "baseline_accuracy": _num(self.baseline_accuracy),
            "best_rounds": [int(r) for r in self.best_rounds],
            "rounds": int(self.rounds),
            "fold_auc": [_num(a) for a in self.fold_auc],
            "notes": list(self.notes),
        })


# --------------------------------------------------------------------------------------------
# Single models
# --------------------------------------------------------------------------------------------


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    params: TrainParams,
    *,
    weight: np.ndarray | None = None,
    features: list[int] | None = None,
) -> CVResult:
    """Purged K-fold CV of the training recipe `params`; out-of-fold P(up) and scores.

    Args:
        X: (n, p) float features, NaN allowed (XGBoost learns a default direction).
        y: (n,) labels in {0, 1}.
        t0, t1: label window of each row (int bar index or epoch µs), sorted by `t0`.
        params: the recipe; `n_splits` / `embargo` define the purged folds.
        weight: optional non-negative training weights (e.g. average uniqueness).
        features: optional column subset of `X` (indices), in the order the model sees them.

    Raises:
        ValueError: on malformed inputs, or when no fold could be scored.
    """
    Xs, yv, w = _check_xy(X, y, weight, features)
    t0a, t1a = np.asarray(t0), np.asarray(t1)
    if t0a.shape != (yv.size,) or t1a.shape != (yv.size,):
        raise ValueError(f"t0 and t1 must have shape ({yv.size},), got {t0a.shape}, {t1a.shape}")
    return _cross_validate(Xs, yv, w, t0a, t1a, params)


def fit_final(
    X: np.ndarray,
    y: np.ndarray,
    params: TrainParams,
    *,
    rounds: int,
    weight: np.ndarray | None = None,
    features: list[int] | None = None,
) -> bytes:
    """Train on all rows for `rounds` boosting rounds; the booster as UBJSON bytes.

    `rounds` is normally `CVResult.rounds` of the same recipe. The bytes are deterministic for
    identical inputs and parameters, so their digest can address the model in the store.
    """
    if isinstance(rounds, bool) or int(rounds) != rounds or rounds < 1:
        raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
    Xs, yv, w = _check_xy(X, y, weight, features)
    if np.unique(yv).size < 2:
        raise ValueError("fit_final needs both classes in y (got a single class)")
    booster = _fit_booster(params.xgb_params(), Xs, yv, w, int(rounds))
    return bytes(booster.save_raw("ubj"))


def predict(model: bytes, X: np.ndarray, *, features: list[int] | None = None) -> np.ndarray:
    """P(up) for each row of `X` (the same column subset the model was trained with)."""
    Xs = _check_matrix(X, features)
    booster = _load(model)
    if booster.num_features() != Xs.shape[1]:
        raise ValueError(
            f"model expects {booster.num_features()} features, got {Xs.shape[1]} columns"
        )
    return _predict_booster(booster, Xs)


# --------------------------------------------------------------------------------------------
# Regime specialists
# --------------------------------------------------------------------------------------------


@dataclass
class Specialist:
    """One regime's direction model, or the record that it falls back to the global model."""

    regime: str
    rows: int
    fallback: bool
    reason: str  # why it falls back ("" when it has its own model)
    model: bytes | None  # None when it falls back
    cv: CVResult | None  # its own purged CV (None when it falls back)
    rounds: int  # boosting rounds of the model that serves this regime
    metrics: dict[str, Any]


@dataclass
class SpecialistSet:
    """Global model + one specialist per regime, with out-of-fold predictions and metrics.

    `oof[i]` is the out-of-fold P(up) of the model responsible for row i's regime (its
    specialist, or the global model where the specialist fell back). `member_oof` (n, 5), in
    `MEMBERS` order, holds every member's out-of-fold P(up) on every row for step 7: computed on
    purged folds over all rows, each specialist trained (same recipe, inner early stopping) on the
    regime's rows of each fold's training set; a fallback column repeats the global column.
    `metrics` has one entry per regime, "GLOBAL", and "COMBINED" (the `oof` column as a whole).
    """

    global_model: bytes
    global_cv: CVResult
    specialists: dict[str, Specialist]
    oof: np.ndarray
    baseline_oof: np.ndarray
    member_oof: np.ndarray | None
    metrics: dict[str, dict[str, Any]]
    params: TrainParams
    min_rows: int
    notes: list[str] = field(default_factory=list)

    def model_for(self, regime: str) -> bytes:
        """Model bytes serving `regime` (the global model when that specialist fell back)."""
        spec = self.specialists[regime]
        return self.global_model if spec.fallback or spec.model is None else spec.model

    def models(self) -> dict[str, bytes]:
        """The distinct models to store: "GLOBAL" and each regime that has its own model."""
        out = {"GLOBAL": self.global_model}
        for name, spec in self.specialists.items():
            if not spec.fallback and spec.model is not None:
                out[name] = spec.model
        return out

    def predict(self, X: np.ndarray, regime: np.ndarray) -> np.ndarray:
        """P(up) per row, each row routed to the model serving its regime."""
        Xs = _check_matrix(X, None)
        reg = _check_regime(regime, Xs.shape[0])
        out = np.full(Xs.shape[0], np.nan)
        for name in REGIMES:
            rows = np.flatnonzero(reg == name)
            if rows.size:
                out[rows] = predict(self.model_for(name), Xs[rows])
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready metadata; models are referenced by sha256, their bytes are in `models()`."""
        return _json_safe({
            "kind": "ares.analyst_specialists",
            "version": 1,
            "params": asdict(self.params),
            "min_rows": int(self.min_rows),
            "members": list(MEMBERS),
            "global": {
                "model_sha256": _sha256(self.global_model),
                "rounds": int(self.global_cv.rounds),
                "metrics": self.metrics["GLOBAL"],
                "cv": self.global_cv.to_dict(),
            },
            "specialists": {
                name: {
                    "rows": spec.rows,
                    "fallback": spec.fallback,
                    "reason": spec.reason,
                    "model": "GLOBAL" if spec.fallback else name,
                    "model_sha256": _sha256(self.model_for(name)),
                    "rounds": int(spec.rounds),
                    "metrics": spec.metrics,
                    "cv": spec.cv.to_dict() if spec.cv is not None else None,
                }
                for name, spec in self.specialists.items()
            },
            "combined": self.metrics["COMBINED"],
            "notes": list(self.notes),
        })


def fit_specialists(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    regime: np.ndarray,
    params: TrainParams,
    *,
    min_rows: int,
    weight: np.ndarray | None = None,
    members: bool = True,
) -> SpecialistSet:
    """Global model + one specialist per regime, all with purged CV and out-of-fold scores.

    A regime with fewer than `min_rows` rows (or a single class) gets no model of its own: the
    global model serves it, `fallback=True`, and its metrics are the global model's out-of-fold
    scores on that regime's rows. A specialist's CV runs on its regime's rows only, purged by
    those rows' own `[t0, t1]`, and the embargo counts regime rows (so it spans at least as many
    bars as on the full series).

    Args:
        regime: (n,) regime name per row, each one of `REGIMES`.
        min_rows: minimum rows for a regime to get its own model (>= `params.n_splits`).
        weight: optional training weights, subset per regime as given (not recomputed).
        members: also compute `member_oof` for the ensemble (one more CV's worth of training).
    """
    Xs, yv, w = _check_xy(X, y, weight, None)
    n = yv.size
    t0a, t1a = np.asarray(t0), np.asarray(t1)
    if t0a.shape != (n,) or t1a.shape != (n,):
        raise ValueError(f"t0 and t1 must have shape ({n},), got {t0a.shape}, {t1a.shape}")
    reg = _check_regime(regime, n)
    if isinstance(min_rows, bool) or int(min_rows) != min_rows or min_rows < params.n_splits:
        raise ValueError(
            f"min_rows must be an integer >= n_splits ({params.n_splits}), got {min_rows!r}"
        )

    global_cv = _cross_validate(Xs, yv, w, t0a, t1a, params)
    global_model = bytes(
        _fit_booster(params.xgb_params(), Xs, yv, w, global_cv.rounds).save_raw("ubj")
    )
    oof = global_cv.oof.copy()
    baseline_oof = global_cv.baseline_oof.copy()
    group = global_cv.fold.copy()  # AUC groups for the combined column: (regime, fold)
    metrics: dict[str, dict[str, Any]] = {
        "GLOBAL": {
            **_metrics(yv, global_cv.oof, global_cv.baseline_oof, global_cv.fold)[0],
            "rounds": int(global_cv.rounds),
            "fallback": False,
        }
    }
    specialists: dict[str, Specialist] = {}
    for k, name in enumerate(REGIMES):
        rows = np.flatnonzero(reg == name)
        reason = ""
        cv: CVResult | None = None
        if rows.size < min_rows:
            reason = f"{rows.size} rows < min_rows {int(min_rows)}"
        elif np.unique(yv[rows]).size < 2:
            reason = f"{rows.size} rows but a single class"
        else:
            try:
                cv = _cross_validate(Xs[rows], yv[rows], w[rows], t0a[rows], t1a[rows], params)
            except ValueError as exc:  # e.g. labels so long that purging empties every fold
                reason = f"purged CV impossible on its {rows.size} rows: {exc}"
        if cv is None:
            sub = _metrics(yv[rows], global_cv.oof[rows], global_cv.baseline_oof[rows],
                           global_cv.fold[rows])[0]
            m = {**sub, "rounds": int(global_cv.rounds), "fallback": True}
            specialists[name] = Specialist(name, int(rows.size), True, reason, None, None,
                                           int(global_cv.rounds), m)
            metrics[name] = m
            continue
        model = bytes(
            _fit_booster(params.xgb_params(), Xs[rows], yv[rows], w[rows], cv.rounds)
            .save_raw("ubj")
        )
        oof[rows] = cv.oof
        baseline_oof[rows] = cv.baseline_oof
        group[rows] = np.where(cv.fold >= 0, (k + 1) * params.n_splits + cv.fold, -1)
        m = {**_metrics(yv[rows], cv.oof, cv.baseline_oof, cv.fold)[0],
             "rounds": int(cv.rounds), "fallback": False}
        specialists[name] = Specialist(name, int(rows.size), False, "", model, cv,
                                       int(cv.rounds), m)
        metrics[name] = m
    metrics["COMBINED"] = {**_metrics(yv, oof, baseline_oof, group, "group")[0],
                           "fallback": False}

    notes: list[str] = []
    member_oof = None
    if members:
        member_oof, notes = _member_oof(Xs, yv, w, t0a, t1a, reg, params, global_cv, specialists)
    return SpecialistSet(global_model, global_cv, specialists, oof, baseline_oof, member_oof,
                         metrics, params, int(min_rows), notes)


def _member_oof(
    Xs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    reg: np.ndarray,
    params: TrainParams,
    global_cv: CVResult,
    specialists: dict[str, Specialist],
) -> tuple[np.ndarray, list[str]]:
    """(n, 5) out-of-fold P(up) of every member on every row, on purged folds over all rows.

    For each fold, each specialist with its own model is retrained by its recipe on the fold's
    training rows of its regime and predicts the whole test block, so a specialist's column is
    out-of-fold on rows of every regime. Where a fold has too few rows of a regime to train, that
    block repeats the global column (noted).
    """
    n = y.size
    out = np.empty((n, len(MEMBERS)))
    for j in range(len(MEMBERS)):
        out[:, j] = global_cv.oof
    notes: list[str] = []
    xgb_params = params.xgb_params()
    folds = list(PurgedKFold(params.n_splits, params.embargo).split(t0, t1))
    for j, name in enumerate(REGIMES):
        if specialists[name].fallback:
            continue
        for k, (train, test) in enumerate(folds):
            tr = train[reg[train] == name]
            if tr.size < 2 or np.unique(y[tr]).size < 2:
                notes.append(
                    f"member {name}, fold {k}: {tr.size} training rows of the regime "
                    "(or one class); the global model's out-of-fold values stand in"
                )
                continue
            booster, _, note = _fit_fold(Xs, y, w, t0, t1, tr, params, xgb_params)
            if note:
                notes.append(f"member {name}, fold {k}: {note}")
            out[test, j] = _predict_booster(booster, Xs[test])
    return out, notes


def members_oof(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    regime: np.ndarray,
    recipes: dict[str, tuple[TrainParams, list[int]] | None],
    *,
    n_splits: int,
    embargo: int,
    weight: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """(n, 5) out-of-fold P(up) of every member (in `MEMBERS` order) on every row.

    `recipes[name]` is the member's (params, feature columns), or None for a regime that falls
    back to the global model (its column then repeats GLOBAL's). On each purged fold over all
    rows, a member is trained by its own recipe (inner early stopping, as `cross_validate`) on
    the fold's training rows of its regime (all rows for GLOBAL) and predicts the whole test
    block, so every column is out-of-fold on rows of every regime.
    """
    Xall, yv, w = _check_xy(X, y, weight, None)
    t0a, t1a = np.asarray(t0), np.asarray(t1)
    reg = _check_regime(regime, yv.size)
    out = np.full((yv.size, len(MEMBERS)), np.nan)
    notes: list[str] = []
    folds = list(PurgedKFold(n_splits, embargo).split(t0a, t1a))
    for j, name in enumerate(MEMBERS):
        recipe = recipes.get(name)
        if recipe is None:
            continue
        params, features = recipe
        Xs = Xall[:, features]
        xgb_params = params.xgb_params()
        for k, (train, test) in enumerate(folds):
            tr = train if name == "GLOBAL" else train[reg[train] == name]
            if tr.size < 2 or np.unique(yv[tr]).size < 2:
                prior = float(yv[tr].mean()) if tr.size else float(yv[train].mean())
                out[test, j] = prior
                notes.append(f"member {name}, fold {k}: {tr.size} training rows of one class or "
                             "none; predicted the prior")
                continue
            booster, _, note = _fit_fold(Xs, yv, w, t0a, t1a, tr, params, xgb_params)
            if note:
                notes.append(f"member {name}, fold {k}: {note}")
            out[test, j] = _predict_booster(booster, Xs[test])
    global_column = out[:, MEMBERS.index("GLOBAL")]
    for j, name in enumerate(MEMBERS):
        if recipes.get(name) is None:
            out[:, j] = global_column
    return out, notes


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _cross_validate(
    Xs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    params: TrainParams,
) -> CVResult:
    """`cross_validate` on validated arrays (Xs already restricted to the model's columns)."""
    n = y.size
    oof = np.full(n, np.nan)
    base = np.full(n, np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    best_rounds: list[int] = []
    notes: list[str] = []
    xgb_params = params.xgb_params()
    for k, (train, test) in enumerate(PurgedKFold(params.n_splits, params.embargo).split(t0, t1)):
        if train.size == 0 or w[train].sum() <= 0:
            notes.append(f"fold {k}: no training rows left after purge/embargo; not scored")
            best_rounds.append(0)
            continue
        prior = float(np.sum(w[train] * y[train]) / np.sum(w[train]))
        fold[test] = k
        base[test] = prior
        if np.unique(y[train]).size < 2:
            notes.append(f"fold {k}: training rows hold a single class; predicted the prior")
            oof[test] = prior
            best_rounds.append(0)
            continue
        booster, best, note = _fit_fold(Xs, y, w, t0, t1, train, params, xgb_params)
        if note:
            notes.append(f"fold {k}: {note}")
        oof[test] = _predict_booster(booster, Xs[test])
        best_rounds.append(best)
    if not (fold >= 0).any():
        raise ValueError("cross_validate: no fold could be scored (" + "; ".join(notes) + ")")
    trained = [r for r in best_rounds if r > 0]
    rounds = max(1, math.ceil(float(np.median(trained)))) if trained else params.num_boost_round
    m, auc_by_fold, auc_notes = _metrics(y, oof, base, fold)
    return CVResult(
        oof=oof,
        logloss=m["logloss"],
        auc=m["auc"],
        accuracy=m["accuracy"],
        baseline_logloss=m["baseline_logloss"],
        baseline_auc=m["baseline_auc"],
        baseline_accuracy=m["baseline_accuracy"],
        best_rounds=best_rounds,
        rounds=int(rounds),
        baseline_oof=base,
        fold=fold,
        fold_auc=[auc_by_fold.get(k) for k in range(params.n_splits)],
        rows=int(m["rows"]),
        notes=notes + auc_notes,
    )


def _fit_fold(
    Xs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    train: np.ndarray,
    params: TrainParams,
    xgb_params: dict[str, Any],
) -> tuple[xgb.Booster, int, str]:
    """Early-stop on an inner time-ordered split of `train`, then refit on all of `train`.

    The inner validation set is the last `INNER_VALID_FRACTION` of the (time-ordered) training
    rows; inner training rows whose label ends at or after the first validation row starts are
    purged. Returns (booster, best rounds, note) — the note says when early stopping was skipped.
    """
    train = np.sort(train)
    n_valid = max(1, round(INNER_VALID_FRACTION * train.size))
    valid = train[-n_valid:]
    inner = train[:-n_valid]
    inner = inner[t1[inner] < t0[valid].min()]
    note = ""
    if params.early_stopping_rounds <= 0:
        best = params.num_boost_round
    elif (
        inner.size < _MIN_INNER_TRAIN
        or valid.size < _MIN_INNER_VALID
        or np.unique(y[inner]).size < 2
    ):
        best = params.num_boost_round
        note = (
            f"inner split too small for early stopping ({inner.size} train / {valid.size} "
            f"validation rows); trained num_boost_round={params.num_boost_round}"
        )
    else:
        stopped = _fit_booster(
            xgb_params, Xs[inner], y[inner], w[inner], params.num_boost_round,
            valid=(Xs[valid], y[valid]), early_stopping_rounds=params.early_stopping_rounds,
        )
        best = int(stopped.best_iteration) + 1
    booster = _fit_booster(xgb_params, Xs[train], y[train], w[train], best)
    return booster, best, note


def _fit_booster(
    xgb_params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    rounds: int,
    *,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping_rounds: int | None = None,
) -> xgb.Booster:
    """One `xgboost.train` call (the single place models are trained; tests spy on it).

    The validation set, when given, is unweighted like every reported metric.
    """
    import xgboost as xgb

    dtrain = xgb.DMatrix(X, label=y, weight=w, missing=np.nan, nthread=xgb_params["nthread"])
    evals = []
    if valid is not None:
        dvalid = xgb.DMatrix(valid[0], label=valid[1], missing=np.nan,
                             nthread=xgb_params["nthread"])
        evals = [(dvalid, "valid")]
    return xgb.train(
        xgb_params,
        dtrain,
        num_boost_round=int(rounds),
        evals=evals,
        early_stopping_rounds=early_stopping_rounds if valid is not None else None,
        verbose_eval=False,
    )


def _predict_booster(booster: xgb.Booster, X: np.ndarray) -> np.ndarray:
    """P(up) from every tree of `booster` (models here are always trained to their final size)."""
    return np.asarray(booster.inplace_predict(X, missing=np.nan), dtype=np.float64)


def _load(model: bytes) -> xgb.Booster:
    """Booster from UBJSON bytes produced by `fit_final`."""
    import xgboost as xgb

    if not isinstance(model, bytes | bytearray) or not model:
        raise ValueError("model must be non-empty booster bytes (Booster.save_raw('ubj'))")
    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    return booster


def _metrics(
    y: np.ndarray, p: np.ndarray, base: np.ndarray, group: np.ndarray, what: str = "fold"
) -> tuple[dict[str, Any], dict[int, float | None], list[str]]:
    """Scores of predictions `p` and of the prior `base` on rows where `p` is finite.

    Log-loss and accuracy are pooled over those rows; AUC is the mean over `group` values
    (folds) of the per-group AUC, skipping groups whose rows hold a single class.
    Returns (metrics dict, AUC per group value (None if skipped), notes about skipped groups).
    """
    from sklearn.metrics import roc_auc_score

    scored = np.isfinite(p) & (group >= 0)
    ys, ps, bs, gs = y[scored], p[scored], base[scored], group[scored]
    group_auc: dict[int, float | None] = {}
    notes: list[str] = []
    for g in np.unique(gs).tolist():
        rows = gs == g
        if np.unique(ys[rows]).size < 2:
            group_auc[g] = None
            notes.append(f"{what} {g}: test rows hold a single class, AUC skipped")
        else:
            group_auc[g] = float(roc_auc_score(ys[rows], ps[rows]))
    aucs = [a for a in group_auc.values() if a is not None]
    nan = float("nan")
    metrics = {
        "rows": int(ys.size),
        "logloss": _logloss(ys, ps) if ys.size else nan,
        "baseline_logloss": _logloss(ys, bs) if ys.size else nan,
        "auc": float(np.mean(aucs)) if aucs else nan,
        "baseline_auc": 0.5,
        "accuracy": float(np.mean((ps >= 0.5) == (ys == 1))) if ys.size else nan,
        "baseline_accuracy": float(np.mean((bs >= 0.5) == (ys == 1))) if ys.size else nan,
    }
    return metrics, group_auc, notes


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean binary log-loss with probabilities clipped to [EPS, 1 - EPS]."""
    q = np.clip(p, EPS, 1.0 - EPS)
    return float(-np.mean(y * np.log(q) + (1.0 - y) * np.log1p(-q)))


def _check_matrix(X: np.ndarray, features: list[int] | None) -> np.ndarray:
    """Validate a 2-D numeric feature matrix (NaN allowed, ±inf not) and select `features`."""
    arr = np.asarray(X)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"X must be a 2-D numeric array, got shape {arr.shape} {arr.dtype}")
    if features is not None:
        idx = [int(f) for f in features]
        if not idx or len(set(idx)) != len(idx) or min(idx) < 0 or max(idx) >= arr.shape[1]:
            raise ValueError(
                f"features must be distinct column indices in [0, {arr.shape[1]}), got {features}"
            )
        arr = arr[:, idx]
    if np.isinf(arr).any():
        raise ValueError("X holds ±inf; use NaN for missing values")
    return arr


def _check_xy(
    X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, features: list[int] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate X, y (in {0, 1}) and weights (default ones); returns float64 y and weights."""
    Xs = _check_matrix(X, features)
    n = Xs.shape[0]
    yv = np.asarray(y)
    if yv.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {yv.shape}")
    yv = yv.astype(np.float64)
    if not np.isin(yv, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 (down) and 1 (up)")
    if weight is None:
        w = np.ones(n)
    else:
        w = np.asarray(weight, dtype=np.float64)
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(f"weight must be ({n},) finite and >= 0, got shape {w.shape}")
    return Xs, yv, w


def _check_regime(regime: np.ndarray, n: int) -> np.ndarray:
    """Validate per-row regime names against `REGIMES`; returns an object array of str."""
    reg = np.asarray(regime, dtype=object)
    if reg.shape != (n,):
        raise ValueError(f"regime must have shape ({n},), got {reg.shape}")
    unknown = sorted({str(r) for r in set(reg.tolist()) - set(REGIMES)})
    if unknown:
        raise ValueError(f"regime holds labels outside {list(REGIMES)}: {unknown}")
    return reg


def _num(x: float | None) -> float | None:
    """JSON-safe float: NaN / None become None."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _json_safe(obj: Any) -> Any:
    """Recursively turn non-finite floats into None and NumPy scalars into Python ones."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return _num(obj)
    return obj


def _sha256(data: bytes) -> str:
    """Hex sha256 of model bytes (how the store will address them)."""
    return hashlib.sha256(data).hexdigest()
