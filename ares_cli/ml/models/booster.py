"""A purged-CV XGBoost binary classifier, shared by the analyst (steps 5-7) and the tactician.

`PurgedBooster` follows scikit-learn's estimator rules (parameters in `__init__`, `fit` returns
self, learned state ends in `_`, `random_state`). `fit` runs purged, embargoed K-fold CV over
the label windows `[t0, t1]` (promise 2) and scores each fold's model only on its test rows, next
to a class-prior baseline computed the same way (prior of each fold's training rows), so "the
model beats the prior" is an honest out-of-fold statement (promise 3). It then trains the
shipped model on every row for the median of the folds' best rounds, so the CV figure describes
the recipe that ships.

Early stopping never looks at the test fold: each fold's training rows are split in time order,
the last ~15% become an inner validation set, the rows before it whose labels reach into it are
purged, the model is early-stopped there, then refit on all of the fold's training rows for the
best number of rounds.

Determinism (promise 4): `tree_method="hist"`, a fixed seed and a fixed thread count give
identical model bytes for identical inputs. Models travel as XGBoost's own UBJSON bytes, never
pickled. Pure and I/O-free; xgboost and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ares_cli.errors import InsufficientData
from ares_cli.ml.models.cv import PurgedKFold
from ares_cli.ml.models.parallel import fit_map
from ares_cli.util.jsonutil import json_safe
from ares_cli.util.section import Field, Section

if TYPE_CHECKING:
    import xgboost as xgb

__all__ = [
    "EPS",
    "INNER_VALID_FRACTION",
    "BoostConfig",
    "CVResult",
    "PurgedBooster",
    "drop_lowest_gain",
    "fit_booster",
    "fit_fold",
    "predict_booster",
    "predict_model",
    "scores",
    "select_by_schedule",
    "total_gain",
]

# Probabilities are clipped to [EPS, 1 - EPS] before a log-loss, so a model that says 0 or 1
# costs a large but finite penalty.
EPS = 1e-6
# Share of a fold's training rows (the latest ones) held out for early stopping.
INNER_VALID_FRACTION = 0.15
# Below these sizes the inner split is not worth trusting: train `num_boost_round` rounds instead.
_MIN_INNER_TRAIN = 20
_MIN_INNER_VALID = 10
# The hyper-parameters a search may change (the CV layout, rounds and threads stay fixed).
HYPER_PARAMETERS = ("max_depth", "learning_rate", "min_child_weight", "subsample",
                    "colsample_bytree", "reg_lambda")


class BoostConfig(Section):
    """`[analyst]` (and the tactician's section): purged K-fold layout and XGBoost parameters.

    `n_threads` is part of the recipe because XGBoost's `hist` result depends on it: fixing it
    (with the seed) is what makes the model bytes reproducible. One thread is the default
    because walk-forward runs folds in parallel processes: on two cores, two processes of two
    OpenMP threads each took 3.7x as long per model as two of one thread (spinning threads
    wait on each other), while one process gains only 15 % from a second thread. `max_bin`
    64 histogram bins train 2.5x faster than XGBoost's 256 on the few thousand rows a
    model here sees, with more rows per bin.
    """

    n_splits: int = Field(5, ge=2)
    num_boost_round: int = Field(300, ge=1)
    early_stopping_rounds: int = Field(30, ge=1)
    max_depth: int = Field(4, ge=1)
    learning_rate: float = Field(0.05, gt=0, le=1)
    subsample: float = Field(0.8, gt=0, le=1)
    colsample_bytree: float = Field(0.8, gt=0, le=1)
    min_child_weight: float = Field(5.0, ge=0)
    reg_lambda: float = Field(1.0, ge=0)
    n_threads: int = Field(1, ge=1)
    max_bin: int = Field(64, ge=2, le=1024)

    def xgb_params(self, seed: int) -> dict[str, Any]:
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
            "max_bin": int(self.max_bin),
            "seed": int(seed),
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
    # Folds whose model predicted one value for its whole test block (a model that learned
    # nothing, e.g. min_child_weight above every leaf's weighted hessian).
    constant_folds: int = 0
    fold_gain: list[np.ndarray | None] = field(default_factory=list, repr=False)

    @property
    def constant(self) -> bool:
        """Every scored fold predicted a single value: the recipe learns nothing here."""
        scored = sum(1 for r in self.best_rounds if r > 0)
        return scored == 0 or self.constant_folds >= scored

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-row arrays; NaN becomes None)."""
        return json_safe({
            "rows": self.rows,
            "logloss": self.logloss,
            "baseline_logloss": self.baseline_logloss,
            "auc": self.auc,
            "baseline_auc": self.baseline_auc,
            "accuracy": self.accuracy,
            "baseline_accuracy": self.baseline_accuracy,
            "best_rounds": [int(r) for r in self.best_rounds],
            "rounds": int(self.rounds),
            "fold_auc": list(self.fold_auc),
            "constant_folds": int(self.constant_folds),
            "constant": self.constant,
            "notes": list(self.notes),
        })


class PurgedBooster:
    """XGBoost P(y = 1) with purged, embargoed K-fold CV and out-of-fold predictions.

    Parameters: `config` (layout and hyper-parameters), `embargo` (bars after the latest label
    end of each test fold whose rows are dropped from training), `random_state` (XGBoost's
    seed), `features` (column indices of X the model sees, in order; None for all), `rounds`
    (boosting rounds of the shipped model; None: from the CV).
    After `fit`: `cv_` (CVResult), `oof_`, `rounds_`, `model_` (UBJSON bytes).
    """

    def __init__(
        self,
        config: BoostConfig | None = None,
        *,
        embargo: int = 0,
        random_state: int = 0,
        features: Sequence[int] | None = None,
        rounds: int | None = None,
    ) -> None:
        self.config = config or BoostConfig()
        self.embargo = embargo
        self.random_state = random_state
        self.features = features
        self.rounds = rounds

    # -- recipe ----------------------------------------------------------------------------
    def recipe(self) -> dict[str, Any]:
        """The training recipe as JSON: the section's keys plus `embargo` and `seed`."""
        return {**self.config.model_dump(mode="json"), "embargo": int(self.embargo),
                "seed": int(self.random_state)}

    @classmethod
    def from_recipe(cls, recipe: dict[str, Any], **kwargs: Any) -> PurgedBooster:
        """The estimator a `recipe()` dict describes (e.g. read back from a member table)."""
        values = dict(recipe)
        embargo, seed = int(values.pop("embargo")), int(values.pop("seed"))
        return cls(BoostConfig.model_validate(values, strict=False), embargo=embargo,
                   random_state=seed, **kwargs)

    def with_hyper_parameters(self, **values: Any) -> PurgedBooster:
        """A copy with some of `HYPER_PARAMETERS` replaced (what a search proposes)."""
        unknown = sorted(set(values) - set(HYPER_PARAMETERS))
        if unknown:
            raise ValueError(f"not searchable hyper-parameters: {unknown}")
        config = BoostConfig.model_validate({**self.config.model_dump(), **values},
                                            strict=False)
        return PurgedBooster(config, embargo=self.embargo, random_state=self.random_state,
                             features=self.features, rounds=self.rounds)

    # -- fitting ---------------------------------------------------------------------------
    def cross_validate(
        self, X: np.ndarray, y: np.ndarray, t0: np.ndarray, t1: np.ndarray,
        sample_weight: np.ndarray | None = None, *,
        fold_features: Sequence[Sequence[int]] | None = None,
    ) -> CVResult:
        """Purged K-fold CV of this recipe: out-of-fold P(y = 1) and scores; fits nothing kept.

        `fold_features[k]` (columns of this estimator's `features`) lets each fold's model see
        its own subset, for scoring a selection made inside each fold's training rows.
        """
        Xs, yv, w = _check_xy(X, y, sample_weight, self.features)
        t0a, t1a = _check_windows(t0, t1, yv.size)
        return _cross_validate(Xs, yv, w, t0a, t1a, self.config, self.embargo,
                               self.random_state, fold_features)

    def fit(
        self, X: np.ndarray, y: np.ndarray, t0: np.ndarray, t1: np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> PurgedBooster:
        """Cross-validate, then train the shipped model on every row for `rounds_` rounds."""
        self.cv_ = self.cross_validate(X, y, t0, t1, sample_weight)
        self.oof_ = self.cv_.oof
        return self.fit_final(X, y, sample_weight, rounds=self.rounds or self.cv_.rounds)

    def fit_final(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, *,
        rounds: int,
    ) -> PurgedBooster:
        """Train the shipped model only (the rounds come from an earlier CV of this recipe)."""
        if isinstance(rounds, bool) or int(rounds) != rounds or rounds < 1:
            raise ValueError(f"rounds must be an integer >= 1, got {rounds!r}")
        Xs, yv, w = _check_xy(X, y, sample_weight, self.features)
        if np.unique(yv).size < 2:
            raise ValueError("fitting needs both classes in y (got a single class)")
        self.rounds_ = int(rounds)
        booster = fit_booster(self.config.xgb_params(self.random_state), Xs, yv, w,
                              self.rounds_)
        self.model_ = bytes(booster.save_raw("ubj"))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """P(y = 1) per row of the full feature matrix `X` (1-D)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("PurgedBooster is not fitted: call fit() first")
        return predict_model(self.model_, X, features=self.features)


# --------------------------------------------------------------------------------------------
# Shared building blocks (the member set and the search use them too)
# --------------------------------------------------------------------------------------------


def predict_model(model: bytes, X: np.ndarray, *, features: Sequence[int] | None = None
                  ) -> np.ndarray:
    """P(y = 1) for each row of `X` from model bytes (the column subset it was trained with)."""
    Xs = _check_matrix(X, features)
    booster = _load(model)
    if booster.num_features() != Xs.shape[1]:
        raise ValueError(
            f"model expects {booster.num_features()} features, got {Xs.shape[1]} columns"
        )
    return predict_booster(booster, Xs)


def fit_fold(
    Xs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    train: np.ndarray,
    config: BoostConfig,
    seed: int,
) -> tuple[xgb.Booster, int, str]:
    """Early-stop on an inner time-ordered split of `train`, then refit on all of `train`.

    The inner validation set is the last `INNER_VALID_FRACTION` of the (time-ordered) training
    rows; inner training rows whose label ends at or after the first validation row starts are
    purged. Returns (booster, best rounds, note) — the note says when early stopping was skipped.
    """
    xgb_params = config.xgb_params(seed)
    train = np.sort(train)
    n_valid = max(1, round(INNER_VALID_FRACTION * train.size))
    valid = train[-n_valid:]
    inner = train[:-n_valid]
    inner = inner[t1[inner] < t0[valid].min()]
    note = ""
    if (
        inner.size < _MIN_INNER_TRAIN
        or valid.size < _MIN_INNER_VALID
        or np.unique(y[inner]).size < 2
    ):
        best = config.num_boost_round
        note = (
            f"inner split too small for early stopping ({inner.size} train / {valid.size} "
            f"validation rows); trained num_boost_round={config.num_boost_round}"
        )
    else:
        stopped = fit_booster(
            xgb_params, Xs[inner], y[inner], w[inner], config.num_boost_round,
            valid=(Xs[valid], y[valid]), early_stopping_rounds=config.early_stopping_rounds,
        )
        best = int(stopped.best_iteration) + 1
    booster = fit_booster(xgb_params, Xs[train], y[train], w[train], best)
    return booster, best, note


def fit_booster(
    xgb_params: dict[str, Any],
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    rounds: int,
    *,
    valid: tuple[np.ndarray, np.ndarray] | None = None,
    early_stopping_rounds: int | None = None,
) -> xgb.Booster:
    """A booster of `rounds` boosting rounds; with `valid` and `early_stopping_rounds`, cut
    short once that many rounds in a row have not lowered the validation log-loss, with
    `best_iteration` where it was lowest. The single place models are trained (tests spy on it).

    The rounds and the early stopping are `xgboost.train`'s (a test holds them to the same
    model bytes and best iteration), run here on the public `Booster` API without its
    per-round callback bookkeeping and its closing `Booster.reset`, which re-serialises the
    model: 0.4-4 ms a fit, some thousands of fits in a run. The validation set is unweighted
    like every reported metric.
    """
    import xgboost as xgb

    if int(rounds) < 1:
        raise ValueError(f"a booster needs at least one boosting round, got {rounds}")
    dtrain = xgb.DMatrix(X, label=y, weight=w, missing=np.nan, nthread=xgb_params["nthread"])
    if valid is None or not early_stopping_rounds:
        booster = xgb.Booster(xgb_params, [dtrain])
        for i in range(int(rounds)):
            booster.update(dtrain, i)
        return booster
    dvalid = xgb.DMatrix(valid[0], label=valid[1], missing=np.nan, nthread=xgb_params["nthread"])
    booster = xgb.Booster(xgb_params, [dtrain, dvalid])
    evals = [(dvalid, "valid")]
    best, best_round, stale, sign = math.inf, 0, 0, 1.0
    for i in range(int(rounds)):
        booster.update(dtrain, i)
        # "[i]\tvalid-logloss:0.69...": the last metric, parsed as xgboost's callbacks parse it
        name, value = booster.eval_set(evals, i).split()[-1].rsplit(":", 1)
        if i == 0:  # xgboost's rule for which metrics grow when they improve
            metric = name.split("-", 1)[1]
            sign = -1.0 if metric != "mape" and metric.startswith(_MAXIMISED) else 1.0
        score = sign * float(value)
        if i == 0 or score < best:  # round 0 always counts, as in xgboost
            best, best_round, stale = score, i, 0
        else:
            stale += 1
            if stale >= early_stopping_rounds:
                break
    booster.set_attr(best_iteration=str(best_round), best_score=str(sign * best))
    return booster


# Metrics xgboost's early stopping maximises (`xgboost.callback.EarlyStopping`, "mape" aside).
_MAXIMISED = ("auc", "aucpr", "pre", "pre@", "map", "ndcg", "auc@", "aucpr@", "map@", "ndcg@")


def predict_booster(booster: xgb.Booster, X: np.ndarray) -> np.ndarray:
    """P(y = 1) from every tree of `booster` (models here are trained to their final size)."""
    return np.asarray(booster.inplace_predict(X, missing=np.nan), dtype=np.float64)


def scores(
    y: np.ndarray, p: np.ndarray, base: np.ndarray, group: np.ndarray, what: str = "fold"
) -> tuple[dict[str, Any], dict[int, float | None], list[str]]:
    """Scores of predictions `p` and of the prior `base` on rows where `p` is finite.

    Log-loss and accuracy are pooled over those rows; AUC is the mean over `group` values
    (folds) of the per-group AUC, skipping groups whose rows hold a single class.
    Returns (metrics dict, AUC per group value (None if skipped), notes about skipped groups).
    """
    from ares_cli.ml.stats import binary_scores

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
            group_auc[g] = binary_scores.auc(ys[rows], ps[rows])
    aucs = [a for a in group_auc.values() if a is not None]
    nan = float("nan")

    def loss(q: np.ndarray) -> float:
        return binary_scores.log_loss(ys, np.clip(q, EPS, 1.0 - EPS))

    def accuracy(q: np.ndarray) -> float:
        return binary_scores.accuracy(ys, q)

    metrics = {
        "rows": int(ys.size),
        "logloss": loss(ps),
        "baseline_logloss": loss(bs),
        "auc": float(np.mean(aucs)) if aucs else nan,
        "baseline_auc": 0.5,
        "accuracy": accuracy(ps),
        "baseline_accuracy": accuracy(bs),
    }
    return metrics, group_auc, notes


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _cross_validate(
    Xs: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    config: BoostConfig,
    embargo: int,
    seed: int,
    fold_features: Sequence[Sequence[int]] | None = None,
) -> CVResult:
    """Purged CV on validated arrays (Xs already restricted to the model's columns).

    `fold_features[k]`, when given, is the column subset fold k's model sees (a selection made
    inside that fold's training rows). `fold_gain[k]` of the result holds fold k's model's total
    split gain per column it saw (None for a fold without a model).
    """
    n = y.size
    oof = np.full(n, np.nan)
    base = np.full(n, np.nan)
    fold = np.full(n, -1, dtype=np.int64)
    best_rounds: list[int] = []
    notes: list[str] = []
    gains: list[np.ndarray | None] = []
    constant = 0
    fits: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []  # (fold, train, test, cols)
    for k, (train, test) in enumerate(PurgedKFold(config.n_splits, embargo).split(t0, t1)):
        gains.append(None)
        if train.size == 0 or w[train].sum() <= 0:
            notes.append(f"fold {k}: no training rows left after purge/embargo; not scored")
            best_rounds.append(0)
            continue
        prior = float(np.sum(w[train] * y[train]) / np.sum(w[train]))
        fold[test] = k
        base[test] = prior
        best_rounds.append(0)
        if np.unique(y[train]).size < 2:
            notes.append(f"fold {k}: training rows hold a single class; predicted the prior")
            oof[test] = prior
            continue
        cols = Xs if fold_features is None else Xs[:, list(fold_features[k])]
        fits.append((k, train, test, cols))

    def fit(job: tuple[int, np.ndarray, np.ndarray, np.ndarray]
            ) -> tuple[int, str, np.ndarray, np.ndarray]:
        _k, train, test, cols = job
        booster, best, note = fit_fold(cols, y, w, t0, t1, train, config, seed)
        return best, note, predict_booster(booster, cols[test]), total_gain(booster,
                                                                            cols.shape[1])

    # the folds' fits are independent: on threads (see ares_cli.ml.models.parallel), each
    # result placed by its fold, so the outcome is the same as one after the other
    for (k, _train, test, _cols), (best, note, predicted, gain) in zip(
            fits, fit_map(fit, fits), strict=True):
        if note:
            notes.append(f"fold {k}: {note}")
        oof[test] = predicted
        constant += int(np.unique(predicted).size <= 1)
        gains[k] = gain
        best_rounds[k] = best
    if not (fold >= 0).any():
        raise InsufficientData(
            f"purged CV on {n} rows could not score any fold (" + "; ".join(notes) + ")"
        )
    trained = [r for r in best_rounds if r > 0]
    rounds = max(1, math.ceil(float(np.median(trained)))) if trained else config.num_boost_round
    m, auc_by_fold, auc_notes = scores(y, oof, base, fold)
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
        fold_auc=[auc_by_fold.get(k) for k in range(config.n_splits)],
        rows=int(m["rows"]),
        notes=notes + auc_notes,
        constant_folds=constant,
        fold_gain=gains,
    )


def total_gain(model: bytes | xgb.Booster, n_features: int) -> np.ndarray:
    """Total split gain per model column (0 for columns never split on)."""
    booster = model if not isinstance(model, bytes | bytearray) else _load(model)
    gain = np.zeros(n_features)
    for key, value in booster.get_score(importance_type="total_gain").items():
        gain[int(key.removeprefix("f"))] = float(np.sum(value))  # a scalar for tree models
    return gain


def drop_lowest_gain(features: list[int], gain: np.ndarray, k: int) -> list[int]:
    """`features` without the `k` of lowest gain (ties: the earlier column goes first)."""
    order = np.lexsort((np.arange(len(features)), gain))
    dropped = {int(i) for i in order[:k]}
    return [f for i, f in enumerate(features) if i not in dropped]


def select_by_schedule(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, rows: np.ndarray, config: BoostConfig,
    seed: int, rounds: int, schedule: Sequence[int],
) -> list[int]:
    """Replay a backward-elimination schedule (features dropped per round) on `rows` alone:
    each round trains on those rows and drops the lowest-gain features. Lets an out-of-fold
    prediction use a subset chosen without the rows it predicts."""
    subset = list(range(X.shape[1]))
    for k in schedule:
        model = fit_booster(config.xgb_params(seed), X[np.ix_(rows, subset)], y[rows], w[rows],
                            rounds)
        subset = drop_lowest_gain(subset, total_gain(model, len(subset)), k)
    return subset


def _load(model: bytes) -> xgb.Booster:
    """Booster from UBJSON bytes."""
    import xgboost as xgb

    if not isinstance(model, bytes | bytearray) or not model:
        raise ValueError("model must be non-empty booster bytes (Booster.save_raw('ubj'))")
    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    return booster


def _check_windows(t0: np.ndarray, t1: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    t0a, t1a = np.asarray(t0), np.asarray(t1)
    if t0a.shape != (n,) or t1a.shape != (n,):
        raise ValueError(f"t0 and t1 must have shape ({n},), got {t0a.shape}, {t1a.shape}")
    return t0a, t1a


def _check_matrix(X: np.ndarray, features: Sequence[int] | None) -> np.ndarray:
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
    X: np.ndarray, y: np.ndarray, weight: np.ndarray | None, features: Sequence[int] | None
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
