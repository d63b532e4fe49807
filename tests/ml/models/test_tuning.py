"""Optuna tuning + feature selection: determinism, resume from a journal, acceptance margin.

The Optuna plumbing itself (storages, seeding, dead trials, shared workers) is tested in
test_study.py; these tests cover what `tune_model` builds on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import optuna
import pytest
from pydantic import ValidationError

from ares_cli.ml.models import study as st
from ares_cli.ml.models import tuning
from ares_cli.ml.models.booster import BoostConfig, PurgedBooster
from ares_cli.ml.models.tuning import EnhanceConfig, tune_model

FAST = PurgedBooster(
    BoostConfig(n_splits=3, num_boost_round=40, early_stopping_rounds=8, n_threads=1,
                min_child_weight=1.0),  # inside the weighted search range, so trial 0 = base
    embargo=4,
)
P = 10
NAMES = [f"f{i}" for i in range(P)]


def make_data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, ...]:
    """y depends on columns 0 and 1; the other 8 are noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, P))
    y = (X[:, 0] + 0.7 * X[:, 1] + 0.6 * rng.normal(size=n) > 0).astype(np.int8)
    t0 = np.arange(n, dtype=np.int64)
    return X, y, t0, np.minimum(t0 + 4, n - 1)


def run(tune: EnhanceConfig, suffix: str = "test", seed: int = 0) -> tuning.TuneResult:
    X, y, t0, t1 = make_data()
    return tune_model(X, y, t0, t1, FAST, tune, seed=seed, study_name=f"analyst-{suffix}",
                      feature_names=NAMES)


def test_in_memory_runs_are_deterministic_and_select_features() -> None:
    tune = EnhanceConfig(n_trials=4, min_features=4, drop_fraction=0.3)
    a, b = run(tune), run(tune)
    assert a.trial_values == b.trial_values and a.best_values == b.best_values
    assert a.features == b.features and a.enhanced.logloss == b.enhanced.logloss
    assert a.n_trials == 4 and a.n_new_trials == 4 and len(a.trial_values) == 4
    # Trial 0 is the untuned recipe, so the best trial is never worse than the baseline.
    assert a.trial_values[0] == pytest.approx(a.baseline.logloss)
    assert min(a.trial_values) <= a.baseline.logloss
    assert a.enhanced.logloss <= min(a.trial_values) + 1e-12
    assert a.selection[0]["n_features"] == P
    json.dumps(a.to_dict(), allow_nan=False)


def test_feature_selection_drops_noise_while_cv_holds() -> None:
    rng = np.random.default_rng(0)
    n, p = 400, 20
    X = rng.normal(size=(n, p))
    y = (X[:, 0] + 0.7 * X[:, 1] + 0.6 * rng.normal(size=n) > 0).astype(np.int8)
    t0 = np.arange(n, dtype=np.int64)
    names = [f"x{i}" for i in range(p)]
    tune = EnhanceConfig(n_trials=1, min_features=2, drop_fraction=0.5)
    result = tune_model(
        X, y, t0, np.minimum(t0 + 4, n - 1), FAST, tune, seed=0, study_name="sel",
        feature_names=names,
    )
    assert {0, 1} <= set(result.features) and 2 <= len(result.features) < p
    assert result.feature_names == [names[i] for i in result.features]
    kept = [step["logloss"] for step in result.selection if step["kept"]]
    assert kept == sorted(kept, reverse=True)  # each accepted step is no worse
    assert result.enhanced.logloss == kept[-1] < result.baseline.logloss
    assert result.n_selection_evals == len(result.selection) - 1


def test_huge_margin_is_not_accepted() -> None:
    result = run(EnhanceConfig(n_trials=2, margin=10.0, min_features=P))
    assert not result.accepted and result.improvement < 10.0
    assert result.features == list(range(P)) and result.n_selection_evals == 0


def test_journal_study_resumes_with_only_the_missing_trials(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'optuna.log'}"
    first = run(EnhanceConfig(n_trials=4, storage=storage, min_features=P))
    assert (first.n_trials, first.n_new_trials) == (4, 4)
    second = run(EnhanceConfig(n_trials=6, storage=storage, min_features=P))
    assert (second.n_trials, second.n_new_trials) == (6, 2)
    assert second.trial_values[:4] == first.trial_values
    again = run(EnhanceConfig(n_trials=6, storage=storage, min_features=P))
    assert (again.n_trials, again.n_new_trials) == (6, 0)
    assert again.best_values == second.best_values
    other = run(EnhanceConfig(n_trials=1, storage=storage, min_features=P), suffix="other")
    assert other.study_name == "analyst-other" and other.n_trials == 1


def test_dead_trial_is_noted_failed_and_its_gap_filled(tmp_path: Path) -> None:
    """A worker that died mid-trial leaves it RUNNING; the next run fails it and fills the gap."""
    storage = f"journal:{tmp_path / 'optuna.log'}"
    whole_storage = f"journal:{tmp_path / 'whole.log'}"
    whole = run(EnhanceConfig(n_trials=3, storage=whole_storage, min_features=P))
    run(EnhanceConfig(n_trials=2, storage=storage, min_features=P))
    study = optuna.load_study(study_name="analyst-test", storage=st.make_storage(storage))
    dead = study.ask()  # its process is gone: our pid, but another process start time
    dead.set_user_attr(st.WORKER_ATTR, {**st.worker_identity(), "start": -1})

    result = run(EnhanceConfig(n_trials=3, storage=storage, min_features=P))
    assert (result.n_trials, result.n_new_trials) == (3, 1)
    assert any("RUNNING" in note for note in result.notes)
    assert result.trial_values == whole.trial_values  # the dead trial shifted nothing
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(optuna.trial.TrialState.FAIL) == 1
    assert optuna.trial.TrialState.RUNNING not in states


def test_rejects_bad_settings() -> None:
    with pytest.raises(ValidationError, match="drop_fraction"):
        EnhanceConfig(n_trials=1, drop_fraction=1.5)
    with pytest.raises(ValidationError, match="must be empty"):
        EnhanceConfig(n_trials=1, storage="nowhere")
    X, y, t0, t1 = make_data()
    with pytest.raises(ValueError, match="feature_names"):
        tune_model(X, y, t0, t1, FAST, EnhanceConfig(), seed=0, study_name="x",
                   feature_names=["a"])


def test_min_child_weight_range_is_measured_in_weighted_rows() -> None:
    """Uniqueness weights of ~0.2 make a row's hessian ~0.05: the range follows, so a tuned
    leaf never needs hundreds of rows (which left specialists predicting one value)."""
    unweighted = tuning.search_space(None, n_rows=3000, n_splits=5)["min_child_weight"]
    weighted = tuning.search_space(np.full(3000, 0.2), n_rows=3000, n_splits=5)[
        "min_child_weight"]
    assert unweighted[0] == pytest.approx(0.25) and weighted[0] == pytest.approx(0.05)
    assert weighted[1] == pytest.approx(0.05 * 0.05 * 2400)  # 5 % of a fold's rows
    assert weighted[2] is True


def test_a_model_that_cannot_beat_the_prior_or_learns_nothing_is_rejected() -> None:
    """Pure noise: whatever the search finds does not beat the class prior out of fold."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(400, P))
    y = (rng.random(400) < 0.5).astype(np.int8)
    t0 = np.arange(400, dtype=np.int64)
    result = tune_model(X, y, t0, np.minimum(t0 + 4, 399), FAST,
                        EnhanceConfig(n_trials=3, margin=0.0, min_features=P), seed=0,
                        study_name="noise", feature_names=NAMES)
    assert not result.accepted
    assert any("class prior" in reason or "single value" in reason
               for reason in result.rejected_because)
