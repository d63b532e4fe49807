"""Analyst enhancement (DESIGN.md step 6): Optuna tuning + feature selection on purged CV.

`tune_model` searches XGBoost hyper-parameters with a seeded TPE sampler, scoring each trial by
the purged-CV log-loss of `analyst.cross_validate` (promises 2-3), then drops the least important
features while the CV log-loss does not get worse. The enhanced recipe is `accepted` only when it
beats the untuned baseline by at least `margin`: both scores come from the same folds the search
looked at, so they are optimistic, and the margin plus the trial count (step 14's deflated Sharpe
ratio) are what keep that honest.

Storage: in memory by default, or an Optuna journal file / RDB URL so a study survives a crash and
several workers can share it (promise 6). The study is loaded if it exists and only the missing
COMPLETE trials are run, so a killed step resumes instead of starting over (promise 5). A trial
left RUNNING by a process that died on this host is marked FAIL; with an RDB, Optuna's heartbeat
does the same for any host.

Pure apart from the Optuna storage the caller names; optuna is imported inside the functions.
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ares_cli.ml.analyst import CVResult, TrainParams, cross_validate, fit_final

if TYPE_CHECKING:
    import optuna

__all__ = ["SEARCH_SPACE", "TuneParams", "TuneResult", "tune_model"]

# name -> (low, high, log scale); ints are sampled with suggest_int, the rest with suggest_float.
SEARCH_SPACE: dict[str, tuple[float, float, bool]] = {
    "max_depth": (2, 8, False),
    "learning_rate": (0.01, 0.3, True),
    "min_child_weight": (1.0, 50.0, True),
    "subsample": (0.5, 1.0, False),
    "colsample_bytree": (0.3, 1.0, False),
    "reg_lambda": (1e-3, 100.0, True),
}
_INT_PARAMS = frozenset({"max_depth"})
_WORKER_ATTR = "ares_worker"
# RDB storages: a RUNNING trial whose heartbeat is older than the grace period is failed.
_HEARTBEAT_S = 60
_GRACE_S = 180


@dataclass(frozen=True)
class TuneParams:
    """How to search: trial budget, acceptance margin, seed, storage, feature-selection limits.

    `storage` is "" (in memory, nothing survives the process), "journal:PATH" (an Optuna journal
    file, safe for several processes on one file system) or an RDB URL (sqlite:///..., postgres).
    """

    n_trials: int = 20
    margin: float = 0.002
    seed: int = 0
    storage: str = ""
    study_name: str = "analyst"
    min_features: int = 8
    drop_fraction: float = 0.2


@dataclass
class TuneResult:
    """Outcome of `tune_model`: the tuned recipe, selected features, and the before/after CV.

    `n_trials` counts every COMPLETE trial the study holds, including those of earlier runs or
    other workers; step 14 uses it (plus `n_selection_evals`) as the number of configurations
    tried when deflating the Sharpe ratio.
    """

    params: TrainParams  # base recipe with the best trial's hyper-parameters
    best_values: dict[str, float | int]  # the tuned hyper-parameters alone
    features: list[int]  # selected column indices, ascending
    feature_names: list[str]
    baseline: CVResult  # base params, all features
    enhanced: CVResult  # tuned params, selected features
    accepted: bool  # baseline.logloss - enhanced.logloss >= margin
    improvement: float  # baseline.logloss - enhanced.logloss
    n_trials: int
    n_new_trials: int  # trials run by this call
    trial_values: list[float]  # CV log-loss of each COMPLETE trial, by trial number
    selection: list[dict[str, Any]]  # one entry per feature-selection step
    study_name: str
    notes: list[str] = field(default_factory=list)

    @property
    def n_selection_evals(self) -> int:
        """CV evaluations spent on feature selection (candidates tried after the first)."""
        return max(0, len(self.selection) - 1)

    @property
    def rounds(self) -> int:
        """Boosting rounds for `fit_final` of the enhanced recipe."""
        return self.enhanced.rounds

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no per-row arrays)."""
        return {
            "study_name": self.study_name,
            "params": asdict(self.params),
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
    base: TrainParams,
    tune: TuneParams,
    *,
    weight: np.ndarray | None = None,
    feature_names: list[str],
    study_suffix: str,
) -> TuneResult:
    """Tune hyper-parameters, select features, and say whether the result beats `base`.

    Args:
        X, y, t0, t1, weight: as for `analyst.cross_validate`.
        base: the untuned recipe; its CV layout, rounds, threads and seed are kept.
        tune: search settings.
        feature_names: one name per column of `X`.
        study_suffix: appended to `tune.study_name`. With persistent storage it must identify
            the data and recipe (e.g. the step's action key and the regime): a study found under
            the same name is resumed, and trials scored on other data would pollute it.

    Raises:
        ValueError: on malformed settings; whatever the objective raises (the trial is FAIL).
    """
    import optuna
    from optuna.trial import TrialState

    _check_tune(tune)
    n_features = np.asarray(X).shape[1] if np.ndim(X) == 2 else -1
    if len(feature_names) != n_features:
        raise ValueError(f"feature_names has {len(feature_names)} names for {n_features} columns")
    name = f"{tune.study_name}-{study_suffix}"
    notes: list[str] = []

    def cv(params: TrainParams, features: list[int] | None = None) -> CVResult:
        return cross_validate(X, y, t0, t1, params, weight=weight, features=features)

    baseline = cv(base)
    with _quiet_optuna():
        storage = _make_storage(tune.storage)
        failed = _fail_dead_local_trials(storage, name)
        if failed:
            notes.append(f"marked {failed} trial(s) left RUNNING by a dead process as FAIL")
        sampler = optuna.samplers.TPESampler(seed=tune.seed)
        study = optuna.create_study(
            storage=storage,
            sampler=sampler,
            study_name=name,
            direction="minimize",
            load_if_exists=True,
        )
        if not study.get_trials(deepcopy=False):
            start = {k: getattr(base, k) for k in SEARCH_SPACE}
            if all(_in_space(k, v) for k, v in start.items()):
                study.enqueue_trial(start)  # trial 0 scores the untuned recipe
        done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        remaining = max(0, tune.n_trials - done)
        worker = _worker_identity()

        def objective(trial: optuna.Trial) -> float:
            trial.set_user_attr(_WORKER_ATTR, worker)
            completed = len(trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            _reseed(sampler, tune.seed + completed)
            values = _suggest(trial)
            result = cv(replace(base, **values))
            trial.set_user_attr("rounds", int(result.rounds))
            trial.set_user_attr("auc", _num(result.auc))
            return float(result.logloss)

        if remaining:
            study.optimize(
                objective,
                n_trials=remaining,
                callbacks=[
                    optuna.study.MaxTrialsCallback(tune.n_trials, states=(TrialState.COMPLETE,))
                ],
            )
        complete = sorted(
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
            key=lambda t: t.number,
        )

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
        best_values = {k: getattr(base, k) for k in SEARCH_SPACE}
        notes.append("no complete trial; the base hyper-parameters are kept")
    tuned = replace(base, **best_values)

    features, enhanced, selection = _select_features(X, y, tuned, tune, weight, cv)
    improvement = float(baseline.logloss - enhanced.logloss)
    return TuneResult(
        params=tuned,
        best_values=best_values,
        features=features,
        feature_names=[feature_names[i] for i in features],
        baseline=baseline,
        enhanced=enhanced,
        accepted=bool(improvement >= tune.margin),
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
    tuned: TrainParams,
    tune: TuneParams,
    weight: np.ndarray | None,
    cv: Any,
) -> tuple[list[int], CVResult, list[dict[str, Any]]]:
    """Backward elimination by gain: drop the least important `drop_fraction` while CV holds.

    Each step fits the current recipe on all rows, ranks the current features by total gain
    (features never split on rank lowest; ties go by column order), drops the lowest
    `max(1, floor(drop_fraction * n))` without going under `min_features`, and keeps the smaller
    set if its CV log-loss is not worse. Total gain rather than mean gain: a feature used once
    with a lucky split should not outrank one the model relies on everywhere.
    """
    n_features = np.asarray(X).shape[1]
    current = list(range(n_features))
    current_cv: CVResult = cv(tuned, None)
    path: list[dict[str, Any]] = [
        {"n_features": len(current), "logloss": float(current_cv.logloss), "kept": True}
    ]
    while len(current) > tune.min_features:
        k = max(1, math.floor(tune.drop_fraction * len(current)))
        k = min(k, len(current) - tune.min_features)
        model = fit_final(X, y, tuned, rounds=current_cv.rounds, weight=weight, features=current)
        gain = _total_gain(model, len(current))
        order = np.lexsort((np.arange(len(current)), gain))  # ascending gain, then position
        dropped = {int(i) for i in order[:k]}
        candidate = [f for i, f in enumerate(current) if i not in dropped]
        candidate_cv: CVResult = cv(tuned, candidate)
        kept = bool(candidate_cv.logloss <= current_cv.logloss)
        path.append(
            {
                "n_features": len(candidate),
                "logloss": float(candidate_cv.logloss),
                "dropped": sorted(current[i] for i in dropped),
                "kept": kept,
            }
        )
        if not kept:
            break
        current, current_cv = candidate, candidate_cv
    return current, current_cv, path


def _total_gain(model: bytes, n_features: int) -> np.ndarray:
    """Total split gain per model column (0 for columns never split on)."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(model))
    scores = booster.get_score(importance_type="total_gain")
    gain = np.zeros(n_features)
    for key, value in scores.items():
        gain[int(key.removeprefix("f"))] = float(np.sum(value))  # a scalar for tree models
    return gain


def _suggest(trial: optuna.Trial) -> dict[str, float | int]:
    """Draw one point of `SEARCH_SPACE`."""
    out: dict[str, float | int] = {}
    for key, (low, high, log) in SEARCH_SPACE.items():
        if key in _INT_PARAMS:
            out[key] = trial.suggest_int(key, int(low), int(high), log=log)
        else:
            out[key] = trial.suggest_float(key, low, high, log=log)
    return out


def _in_space(key: str, value: float) -> bool:
    """Whether `value` lies inside the search range of `key` (so it can be enqueued)."""
    low, high, _ = SEARCH_SPACE[key]
    return low <= value <= high and (key not in _INT_PARAMS or int(value) == value)


def _make_storage(spec: str) -> optuna.storages.BaseStorage | None:
    """Optuna storage for `TuneParams.storage` ("" -> None, i.e. a fresh in-memory study)."""
    import optuna

    if spec == "":
        return None
    if spec.startswith("journal:"):
        path = spec.removeprefix("journal:")
        if not path:
            raise ValueError("storage 'journal:PATH' needs a file path")
        from optuna.storages.journal import JournalFileBackend, JournalStorage

        return JournalStorage(JournalFileBackend(path))
    if "://" in spec:
        with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(
                spec, heartbeat_interval=_HEARTBEAT_S, grace_period=_GRACE_S
            )
    raise ValueError(
        f"storage must be '', 'journal:PATH' or an RDB URL (sqlite:///..., postgresql://...), "
        f"got {spec!r}"
    )


def _reseed(sampler: optuna.samplers.TPESampler, seed: int) -> None:
    """Seed the sampler's draws for the next trial from the count of completed trials.

    A study resumed after a crash (its interrupted trial marked FAIL) then draws exactly the
    points an uninterrupted run would have drawn, so both give the same best recipe and the
    same artifact digests. Optuna keeps these generators private; if a release renames them,
    tuning still works, only this crash-independence is lost.
    """
    for owner in (sampler, getattr(sampler, "_random_sampler", None)):
        state = getattr(owner, "_rng", None)
        if state is not None and hasattr(state, "rng"):
            state.rng.seed(seed % (2**32))


def _fail_dead_local_trials(storage: optuna.storages.BaseStorage | None, name: str) -> int:
    """Mark FAIL the RUNNING trials whose worker process on this host no longer exists.

    A `kill -9` leaves its trial RUNNING forever; it would never count as complete but would
    still steer the sampler (TPE's constant liar treats it as pending). Trials of other hosts
    are left alone (they may be alive); RDB storages fail those by heartbeat.
    """
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    if storage is None:
        return 0
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        return 0
    failed = 0
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(_WORKER_ATTR)
        if not isinstance(worker, dict) or not _is_dead_local(worker):
            continue
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
        try:
            if storage.set_trial_state_values(trial_id, state=TrialState.FAIL):
                failed += 1
        except UpdateFinishedTrialError:
            pass  # finished meanwhile
    return failed


def _worker_identity() -> dict[str, Any]:
    """Who runs a trial: host, pid and the process start time (guards against pid reuse)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start": _process_start(pid)}


def _is_dead_local(worker: dict[str, Any]) -> bool:
    """True when `worker` ran on this host and its process is gone (or the pid was reused)."""
    if worker.get("host") != socket.gethostname() or os.name != "posix":
        return False
    pid = worker.get("pid")
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # exists, owned by someone else
    start = worker.get("start")
    now = _process_start(pid)
    return start is not None and now is not None and now != start


def _process_start(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot (Linux /proc), None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial INFO logging for the duration, then restore the level."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _check_tune(tune: TuneParams) -> None:
    """Reject settings that would make the search or the selection meaningless."""
    if isinstance(tune.n_trials, bool) or int(tune.n_trials) != tune.n_trials or tune.n_trials < 0:
        raise ValueError(f"n_trials must be an integer >= 0, got {tune.n_trials!r}")
    if not (tune.margin >= 0 and math.isfinite(tune.margin)):
        raise ValueError(f"margin must be finite and >= 0, got {tune.margin!r}")
    if int(tune.min_features) != tune.min_features or tune.min_features < 1:
        raise ValueError(f"min_features must be an integer >= 1, got {tune.min_features!r}")
    if not 0 < tune.drop_fraction < 1:
        raise ValueError(f"drop_fraction must be in (0, 1), got {tune.drop_fraction!r}")
    if not tune.study_name:
        raise ValueError("study_name must not be empty")


def _num(x: float | None) -> float | None:
    """JSON-safe float: NaN / None become None."""
    return None if x is None or not math.isfinite(float(x)) else float(x)
