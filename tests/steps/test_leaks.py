"""Leak guards over the real steps: no fit in steps 2-7 sees a validation or test row, and no
step output carries a test-window outcome."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest

import ares_cli.ml.models.booster as booster
from ares_cli.ml.features.causal import feature_columns
from ares_cli.ml.features.dataset import OUTCOME_COLUMNS
from ares_cli.ml.features.regimes import RegimeClassifier
from ares_cli.ml.models.ensemble import StackedEnsemble
from ares_cli.pipeline import run_steps
from ares_cli.steps import STEPS
from tests.conftest import TINY_LAST_STEP

ANALYST_STEPS = range(4, min(TINY_LAST_STEP, 7) + 1)


def _train_values(tiny_pipeline) -> tuple[np.ndarray, np.ndarray, int]:
    """Every feature value and normalised regime score of train-window rows, and the number
    of bars in the train window. Continuous features make a row of another window show
    values that never occur in the train window."""
    dataset = tiny_pipeline.catalog["analyst_dataset"]
    train = dataset.filter(pl.col("window") == "train")
    values = np.unique(train.select(feature_columns(dataset)).to_numpy().astype(np.float64))
    scores = train.select(pl.col("^f_regime_score_.*$")).to_numpy().astype(np.float64)
    scores = scores / scores.sum(axis=1, keepdims=True)
    splits = tiny_pipeline.catalog["splits"]
    train_bars = int(splits.filter(pl.col("window") == "train")["bar_index"].max()) + 1
    return values[np.isfinite(values)], np.unique(scores[np.isfinite(scores)]), train_bars


def _outside(matrix: np.ndarray, allowed: np.ndarray) -> int:
    finite = np.isfinite(matrix)
    return int((finite & ~np.isin(matrix, allowed)).any(axis=1).sum())


def test_no_fit_in_steps_2_to_7_receives_a_validation_or_test_row(
    tiny_pipeline, tiny_config, monkeypatch: pytest.MonkeyPatch
):
    """Spy on every fitting entry point — the regime thresholds, every XGBoost training call
    (CV folds, early-stopping sets, Optuna trials, feature selection, shipped models) and the
    stacker — while steps 2..7 run again in memory."""
    train_values, train_scores, train_bars = _train_values(tiny_pipeline)
    seen: dict[str, list[Any]] = {"regimes": [], "xgboost": [], "stacker": []}
    fit_regimes, fit_xgb, fit_stack = (RegimeClassifier.fit, booster.fit_booster,
                                       StackedEnsemble.fit)

    def regimes_spy(self: RegimeClassifier, close: np.ndarray) -> RegimeClassifier:
        seen["regimes"].append(len(close))
        return fit_regimes(self, close)

    def xgb_spy(params: dict, X: np.ndarray, y: np.ndarray, w: np.ndarray, rounds: int,
                **kwargs: Any) -> Any:
        seen["xgboost"].append(_outside(X, train_values))
        if kwargs.get("valid") is not None:
            seen["xgboost"].append(_outside(kwargs["valid"][0], train_values))
        return fit_xgb(params, X, y, w, rounds, **kwargs)

    def stack_spy(self: StackedEnsemble, members: np.ndarray, context: np.ndarray,
                  *args: Any, **kwargs: Any) -> StackedEnsemble:
        seen["stacker"].append(_outside(np.asarray(context), train_scores))
        return fit_stack(self, members, context, *args, **kwargs)

    monkeypatch.setattr(RegimeClassifier, "fit", regimes_spy)
    monkeypatch.setattr(booster, "fit_booster", xgb_spy)
    monkeypatch.setattr(StackedEnsemble, "fit", stack_spy)
    collected = {k: tiny_pipeline.catalog[k] for k in ("trades", "true_regimes")}
    run_steps(STEPS[1:max(ANALYST_STEPS)], collected, tiny_config)

    assert seen["regimes"] and all(n <= train_bars for n in seen["regimes"])
    assert len(seen["xgboost"]) > 50 and sum(seen["xgboost"]) == 0, (
        f"{sum(seen['xgboost'])} rows from outside the train window reached XGBoost")
    assert seen["stacker"] and sum(seen["stacker"]) == 0


def test_no_step_output_carries_a_test_window_outcome(tiny_pipeline):
    """Labels, returns and label end times of test-window rows exist in no table steps 1..7
    produce (steps up to 12 may not read what is never there)."""
    checked = 0
    for number, outcome in tiny_pipeline.steps.items():
        for name, kind in outcome.kinds.items():
            frame = tiny_pipeline.catalog[name]
            if kind != "table" or "window" not in frame.columns:
                continue
            test = frame.filter(pl.col("window") == "test")
            for column in set(OUTCOME_COLUMNS) & set(frame.columns):
                assert test[column].null_count() == test.height, (number, name, column)
                checked += 1
    assert checked >= 2 * len(OUTCOME_COLUMNS) - 4  # the dataset and the analyst ensemble


def test_every_metric_names_its_window(tiny_pipeline):
    allowed = {"data", "train", "train_cv", "validation", "test", "walk_forward"}
    for number, outcome in tiny_pipeline.steps.items():
        assert set(outcome.metrics) <= allowed, (number, sorted(outcome.metrics))
        if number < 13:
            assert "test" not in outcome.metrics and "walk_forward" not in outcome.metrics


def test_no_fit_in_steps_9_to_11_depends_on_a_validation_label(tiny_pipeline, tiny_config):
    """Flip every validation-window label the tactician and the calibrators could read (the
    meta-labels of step 8 and the analyst's outcomes) and re-run steps 9-11 in memory: the
    tactician boosters and linear member, the ensemble weights and both calibrators must come
    out bit-identical (mutations: refitting the tactician, or its calibrator, on validation)."""
    from ares_cli.steps import BY_NAME

    catalog = dict(tiny_pipeline.catalog)
    flipped = 0
    for name in ("tactician_dataset", "analyst_ensemble"):
        frame = catalog[name]
        validation = (pl.col("window") == "validation") & pl.col("y").is_not_null()
        flipped += frame.filter(validation).height
        catalog[name] = frame.with_columns(
            y=pl.when(validation).then(1 - pl.col("y")).otherwise(pl.col("y")))
    assert flipped > 20, "the test needs validation labels to flip"
    steps = [BY_NAME[n] for n in ("tactician-train", "tactician-ensemble", "calibrate")]
    again = run_steps(steps, catalog, tiny_config)
    fitted = ("tactician_models", "tactician_ensemble_model", "calibrators")
    before = {n: d for s in tiny_pipeline.steps.values() for n, d in s.digests.items()
              if n in fitted}
    after = {n: d for s in again.steps.values() for n, d in s.digests.items() if n in fitted}
    assert set(before) == set(fitted) and after == before
