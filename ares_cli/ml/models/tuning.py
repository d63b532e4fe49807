"""Analyst enhancement (DESIGN.md step 6): Optuna tuning + feature selection on purged CV.

`tune_model` searches XGBoost hyper-parameters with a seeded TPE sampler, scoring each trial
by the purged-CV log-loss of `PurgedBooster.cross_validate` (promises 2-3), then drops the least
important features while the CV log-loss does not get worse. The enhanced recipe is `accepted`
only when it beats the untuned baseline by at least `margin`: both scores come from the same
folds the search looked at, so they are optimistic, and the margin plus the trial count (step
14's deflated Sharpe ratio) are what keep that honest.

Storage: in memory by default, or an Optuna journal file / RDB URL so a study survives a crash and
several workers can share it (promise 6). The study is loaded if it exists and only the missing
COMPLETE trials are run, so a killed step resumes instead of starting over (promise 5); trial k is
drawn by a TPE sampler seeded with `seed + k`, so a resumed study draws what an uninterrupted one
draws. That plumbing (storage, dead-trial handling, seeding, worker identity) lives in
`ml/models/study.py`; this module holds the search space, the objective and the feature selection.

Pure apart from the Optuna storage the caller names; optuna is imported inside the functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import field_validator

from ares_cli.ml.models.booster import CVResult, PurgedBooster, drop_lowest_gain, total_gain
from ares_cli.ml.models.study import (
    complete_trials,
    count_complete,
    join_workers,
    make_storage,
    open_study,
    quiet_optuna,
    run_until_complete,
    shared_storage,
    start_workers,
)
from ares_cli.util.section import Field, Section

if TYPE_CHECKING:
    import optuna

__all__ = ["SEARCH_SPACE", "EnhanceConfig", "TuneResult", "search_space", "tune_model"]

Space = dict[str, tuple[float, float, bool]]
# name -> (low, high, log scale); ints are sampled with suggest_int, the rest with suggest_float.
# `min_child_weight` is replaced by a range fitted to the data's weights (see `search_space`).
SEARCH_SPACE: Space = {
    "max_depth": (2, 8, False),
    "learning_rate": (0.01, 0.3, True),
    "min_child_weight": (1.0, 50.0, True),
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.3, 1.0, False),
    "reg_lambda": (1e-3, 100.0, True),
}
_INT_PARAMS = frozenset({"max_depth"})
# A leaf may need the hessian of at least one average row, and at most that of this share of a
# fold's training rows.
_MAX_LEAF_SHARE = 0.05


def search_space(weight: np.ndarray | None, n_rows: int, n_splits: int) -> Space:
    """`SEARCH_SPACE` with `min_child_weight` measured in weighted rows.

    XGBoost compares `min_child_weight` with a leaf's summed hessian, p(1-p)·w ≈ 0.25·w per row.
    With uniqueness weights of ~0.2 a fixed range of 1..50 asks for up to ~1,000 rows per leaf,
    so every split is refused and the model predicts one value. The range here runs from one
    average row to `_MAX_LEAF_SHARE` of a fold's training rows.
    """
    mean_w = float(np.mean(weight)) if weight is not None and len(weight) else 1.0
    per_row = 0.25 * max(mean_w, 1e-9)
    train_rows = n_rows * (n_splits - 1) / n_splits
    high = per_row * max(2.0, _MAX_LEAF_SHARE * train_rows)
    return {**SEARCH_SPACE, "min_child_weight": (per_row, high, True)}


class EnhanceConfig(Section):
    """`[enhance]`: trial budget, acceptance margin, storage and feature-selection limits.

    `storage` is "" (in memory, nothing survives the process), "journal:PATH" (an Optuna journal
    file, safe for several processes on one file system) or an RDB URL (sqlite:///..., postgres).
    """

    n_trials: int = Field(8, ge=1)
    margin: float = Field(0.002, ge=0)
    storage: str = ""
    min_features: int = Field(8, ge=1)
    drop_fraction: float = Field(0.2, gt=0, lt=1)

    @field_validator("storage")
    @classmethod
    def _storage_spec(cls, value: str) -> str:
        if value and not (
            (value.startswith("journal:") and len(value) > len("journal:")) or "://" in value
        ):
            raise ValueError(
                f"'{value}' must be empty (in memory), 'journal:PATH' or an RDB URL such as "
                "sqlite:///optuna.db"
            )
        return value


@dataclass
class TuneResult:
    """Outcome of `tune_model`: the tuned recipe, selected features, and the before/after CV.

    `n_trials` counts every COMPLETE trial the study holds, including those of earlier runs or
    other workers; step 14 uses it (plus `n_selection_evals`) as the number of configurations
    tried when deflating the Sharpe ratio.
    """

    booster: PurgedBooster  # base recipe with the best trial's hyper-parameters (all features)
    best_values: dict[str, float | int]  # the tuned hyper-parameters alone
    features: list[int]  # selected column indices, ascending
    feature_names: list[str]
    baseline: CVResult  # base params, all features
    enhanced: CVResult  # tuned params, selected features
    accepted: bool  # beats the untuned recipe by the margin and the prior, and is not constant
    improvement: float  # baseline.logloss - enhanced.logloss
    n_trials: int
    n_new_trials: int  # trials run by this call
    trial_values: list[float]  # CV log-loss of each COMPLETE trial, by trial number
    selection: list[dict[str, Any]]  # one entry per feature-selection step
    study_name: str
    notes: list[str] = field(default_factory=list)
    rejected_because: list[str] = field(default_factory=list)

    @property
    def n_selection_evals(self) -> int:
        """CV evaluations spent on feature selection (candidates tried after the first)."""
        return max(0, len(self.selection) - 1)

    @property
    def rounds(self) -> int:
        """Boosting rounds of the enhanced recipe's shipped model."""
        return self.enhanced.rounds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-row arrays)."""
        return {
            "study_name": self.study_name,
            "params": self.booster.recipe(),
            "best_values": dict(self.best_values),
            "features": list(self.features),
            "feature_names": list(self.feature_names),
            "baseline": self.baseline.to_dict(),
            "enhanced": self.enhanced.to_dict(),
            "accepted": self.accepted,
            "improvement": _num(self.improvement),
            "rounds": self.rounds,
            "n_trials": self.n_trials,
            "n_new_trials": self.n_new_trials,
            "n_selection_evals": self.n_selection_evals,
            "trial_values": [_num(v) for v in self.trial_values],
            "selection": [
                {k: _num(v) if isinstance(v, float) else v for k, v in step.items()}
                for step in self.selection
            ],
            "notes": list(self.notes),
        }


def tune_model(
    X: np.ndarray,
    y: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    base: PurgedBooster,
    tune: EnhanceConfig,
    *,
    seed: int,
    study_name: str,
    weight: np.ndarray | None = None,
    feature_names: list[str],
    workers: int = 1,
    work_dir: Path | None = None,
) -> TuneResult:
    """Tune hyper-parameters, select features, and say whether the result beats `base`.

    Args:
        X, y, t0, t1, weight: as for `PurgedBooster.cross_validate`.
        base: the untuned recipe on all columns; its CV layout, rounds, threads and seed are kept.
        tune: search settings (`min_features` is capped at the number of columns).
        seed: seed of the sampler (trial k draws with `seed + k`).
        study_name: with persistent storage it must identify the data and recipe (e.g. the
            step's action key and the member): a study found under the same name is resumed,
            and trials scored on other data would pollute it.
        feature_names: one name per column of `X`.
        workers: processes running trials of the study (a resource; with several, which
            points TPE proposes depends on their timing, so results are not bit-reproducible).
            With in-memory storage they share a temporary journal file in `work_dir`.

    Raises:
        ValueError: on malformed input; whatever the objective raises (the trial is FAIL).
    """

    n_features = np.asarray(X).shape[1] if np.ndim(X) == 2 else -1
    if len(feature_names) != n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names for {n_features} columns")
    if not study_name:
        raise ValueError("study_name must not be empty")
    name = study_name
    notes: list[str] = []
    space = search_space(weight, n_rows=len(y), n_splits=base.config.n_splits)
    low, high, log = space["min_child_weight"]  # keep the untuned recipe inside, as trial 0
    space["min_child_weight"] = (min(low, base.config.min_child_weight),
                                 max(high, base.config.min_child_weight), log)

    scored: dict[tuple[Any, ...], CVResult] = {}

    def cv(booster: PurgedBooster, fold_features: list[list[int]] | None = None) -> CVResult:
        """Purged CV of `booster`, each recipe and feature layout computed once (the enqueued
        untuned trial is the baseline; the first selection round is the best trial)."""
        layout = None if fold_features is None or all(
            len(f) == n_features for f in fold_features) else tuple(map(tuple, fold_features))
        key = (tuple(sorted(booster.config.model_dump().items())), layout)
        if key not in scored:
            scored[key] = _with_features(booster, None).cross_validate(
                X, y, t0, t1, weight, fold_features=None if layout is None else fold_features)
        return scored[key]

    def objective(trial: optuna.Trial) -> float:
        return _score_trial(trial, cv(base.with_hyper_parameters(**_suggest(trial, space))))

    baseline = cv(base)
    with shared_storage(tune.storage, workers, work_dir, "enhance.storage") as (storage, note), \
            quiet_optuna():
        notes += [note] if note else []
        study, failed = open_study(name, make_storage(storage), ["minimize"])
        if failed:
            notes.append(f"marked {failed} trial(s) left RUNNING by a dead process as FAIL")
        if not study.get_trials(deepcopy=False):
            start = {k: getattr(base.config, k) for k in space}
            if all(_in_space(k, v, space) for k, v in start.items()):
                study.enqueue_trial(start)  # trial 0 scores the untuned recipe
        done = count_complete(study)
        others = start_workers(workers - 1, _work,
                               _TrialScorer(X, y, t0, t1, weight, base, space), storage, name,
                               tune.n_trials, seed)
        run_until_complete(study, objective, tune.n_trials, sampler_factory=_tpe, seed=seed)
        join_workers(others, "enhance")
        complete = complete_trials(study)

    usable = [
        t for t in complete
        if t.value is not None and math.isfinite(t.value) and set(SEARCH_SPACE) <= set(t.params)
    ]
    if usable:
        best = min(usable, key=lambda t: (t.value, t.number))
        best_values: dict[str, float | int] = {
            k: (int(best.params[k]) if k in _INT_PARAMS else float(best.params[k]))
            for k in SEARCH_SPACE
        }
    else:
        best_values = {k: getattr(base.config, k) for k in SEARCH_SPACE}
        notes.append("no complete trial; the base hyper-parameters are kept")
    tuned = base.with_hyper_parameters(**best_values)

    min_features = min(tune.min_features, n_features)
    features, enhanced, selection = _select_features(X, y, tuned, min_features,
                                                     tune.drop_fraction, weight, cv)
    improvement = float(baseline.logloss - enhanced.logloss)
    rejected = []
    if not improvement >= tune.margin:
        rejected.append(f"CV log-loss gain {improvement:+.4f} is below the margin {tune.margin}")
    if not enhanced.logloss < enhanced.baseline_logloss:
        rejected.append(f"CV log-loss {enhanced.logloss:.4f} does not beat the class prior "
                        f"{enhanced.baseline_logloss:.4f}")
    if enhanced.constant:
        rejected.append("it predicts a single value in every fold (learns nothing)")
    return TuneResult(
        booster=tuned,
        best_values=best_values,
        features=features,
        feature_names=[feature_names[i] for i in features],
        baseline=baseline,
        enhanced=enhanced,
        accepted=not rejected,
        rejected_because=rejected,
        improvement=improvement,
        n_trials=len(complete),
        n_new_trials=len(complete) - done,
        trial_values=[float(t.value) for t in complete if t.value is not None],
        selection=selection,
        study_name=name,
        notes=notes,
    )


def _select_features(
    X: np.ndarray,
    y: np.ndarray,
    tuned: PurgedBooster,
    min_features: int,
    drop_fraction: float,
    weight: np.ndarray | None,
    cv: Any,
) -> tuple[list[int], CVResult, list[dict[str, Any]]]:
    """Backward elimination by gain, chosen inside each fold and scored out of fold.

    Each round drops the least important `max(1, floor(drop_fraction * n))` features without
    going under `min_features`. Which ones: in every CV fold, those with the lowest total split
    gain in that fold's own model (trained on the fold's training rows only), so the score of a
    round — the out-of-fold log-loss of models on their fold's subsets — never rests on a
    choice that saw the rows it is scored on. A round is kept if that score is not worse. The
    shipped subset applies the same kept rounds to gains of models trained on all rows. Total
    gain rather than mean gain: a feature used once with a lucky split should not outrank one
    the model relies on everywhere.
    """
    n_features = np.asarray(X).shape[1]
    every = list(range(n_features))
    fold_sets = [every] * tuned.config.n_splits
    current_cv = cv(tuned, fold_sets)
    shipped = every
    path: list[dict[str, Any]] = [
        {"n_features": n_features, "logloss": float(current_cv.logloss), "kept": True}
    ]
    while len(shipped) > min_features:
        k = min(max(1, math.floor(drop_fraction * len(shipped))), len(shipped) - min_features)
        candidate_sets = [
            drop_lowest_gain(fold_set, gain if gain is not None else np.zeros(len(fold_set)), k)
            for fold_set, gain in zip(fold_sets, current_cv.fold_gain, strict=True)
        ]
        candidate_cv = cv(tuned, candidate_sets)
        kept = bool(candidate_cv.logloss <= current_cv.logloss)
        step: dict[str, Any] = {"n_features": len(shipped) - k,
                                "logloss": float(candidate_cv.logloss), "kept": kept}
        path.append(step)
        if not kept:
            break
        full = _with_features(tuned, shipped).fit_final(X, y, weight, rounds=current_cv.rounds)
        smaller = drop_lowest_gain(shipped, total_gain(full.model_, len(shipped)), k)
        step["dropped"] = sorted(set(shipped) - set(smaller))
        shipped, fold_sets, current_cv = smaller, candidate_sets, candidate_cv
    return shipped, current_cv, path


def _tpe(seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    return optuna.samplers.TPESampler(seed=seed)


def _score_trial(trial: optuna.Trial, result: CVResult) -> float:
    trial.set_user_attr("rounds", int(result.rounds))
    trial.set_user_attr("auc", _num(result.auc))
    return float(result.logloss)


@dataclass
class _TrialScorer:
    """The objective in a form other processes can receive: the data and the search space."""

    X: np.ndarray
    y: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    weight: np.ndarray | None
    base: PurgedBooster
    space: Space

    def __call__(self, trial: optuna.Trial) -> float:
        booster = _with_features(self.base.with_hyper_parameters(**_suggest(trial, self.space)),
                                 None)
        return _score_trial(trial, booster.cross_validate(self.X, self.y, self.t0, self.t1,
                                                          self.weight))


def _work(scorer: _TrialScorer, storage: str, name: str, n_trials: int, seed: int) -> None:
    """One worker process: join the study and run trials until it holds `n_trials`."""
    with quiet_optuna():
        study, _ = open_study(name, make_storage(storage), ["minimize"])
        run_until_complete(study, scorer, n_trials, sampler_factory=_tpe, seed=seed)


def _with_features(booster: PurgedBooster, features: list[int] | None) -> PurgedBooster:
    return PurgedBooster(booster.config, embargo=booster.embargo,
                         random_state=booster.random_state, features=features)


def _suggest(trial: optuna.Trial, space: Space) -> dict[str, float | int]:
    """Draw one point of `space`."""
    out: dict[str, float | int] = {}
    for key, (low, high, log) in space.items():
        if key in _INT_PARAMS:
            out[key] = trial.suggest_int(key, int(low), int(high), log=log)
        else:
            out[key] = trial.suggest_float(key, low, high, log=log)
    return out


def _in_space(key: str, value: float, space: Space) -> bool:
    """Whether `value` lies inside the search range of `key` (so it can be enqueued)."""
    low, high, _ = space[key]
    return low <= value <= high and (key not in _INT_PARAMS or int(value) == value)


def _num(x: float | None) -> float | None:
    """JSON-safe float: NaN / None become None."""
    return None if x is None or not math.isfinite(float(x)) else float(x)
