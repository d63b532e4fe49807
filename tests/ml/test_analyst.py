"""Analyst direction models: purged CV honesty, determinism, specialists and their fallback."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import ares_cli.ml.analyst as analyst
from ares_cli.ml.analyst import (
    MEMBERS,
    TrainParams,
    cross_validate,
    fit_final,
    fit_specialists,
    predict,
)
from ares_cli.ml.cv import PurgedKFold
from ares_cli.ml.labels import average_uniqueness

# Small and single-threaded: fast and immune to other processes competing for the cores.
FAST = TrainParams(
    n_splits=3, embargo=5, num_boost_round=60, early_stopping_rounds=10, n_threads=1
)
HORIZON = 6


def make_data(
    n: int = 600, p: int = 8, *, signal: bool = True, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features with ~5% NaN; y depends on x0 (and x1) when `signal`, else is a coin flip."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    drive = X[:, 0] + 0.5 * X[:, 1]
    X[rng.random((n, p)) < 0.05] = np.nan
    if signal:
        y = (drive + 0.6 * rng.normal(size=n) > 0).astype(np.int8)
    else:
        y = (rng.random(n) < 0.5).astype(np.int8)
    t0 = np.arange(n, dtype=np.int64)
    t1 = np.minimum(t0 + HORIZON, n - 1)
    return X, y, t0, t1


def test_signal_beats_prior_and_noise_does_not() -> None:
    X, y, t0, t1 = make_data(signal=True)
    cv = cross_validate(X, y, t0, t1, FAST)
    assert cv.rows == y.size and np.isfinite(cv.oof).all()
    assert cv.logloss < cv.baseline_logloss - 0.1
    assert cv.auc > 0.8 and cv.baseline_auc == 0.5
    assert cv.accuracy > cv.baseline_accuracy + 0.15
    assert len(cv.best_rounds) == FAST.n_splits and 1 <= cv.rounds <= FAST.num_boost_round

    Xn, yn, t0n, t1n = make_data(signal=False, seed=1)
    noise = cross_validate(Xn, yn, t0n, t1n, FAST)
    assert abs(noise.logloss - noise.baseline_logloss) < 0.03
    assert 0.4 < noise.auc < 0.6


def test_baseline_is_the_training_fold_prior() -> None:
    X, y, t0, t1 = make_data()
    cv = cross_validate(X, y, t0, t1, FAST)
    for k, (train, test) in enumerate(PurgedKFold(FAST.n_splits, FAST.embargo).split(t0, t1)):
        assert (cv.fold[test] == k).all()
        np.testing.assert_allclose(cv.baseline_oof[test], y[train].mean())


def test_no_training_row_overlaps_its_test_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spy on every model fit and prediction; identify rows through an id column."""
    X, y, t0, _ = make_data(n=450)
    n = y.size
    t1 = np.minimum(t0 + 2, n - 1)  # shorter than the embargo, so the embargo is what bites
    X = np.column_stack([X, np.arange(n, dtype=np.float64)])  # last column = row id
    calls: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    fit, pred = analyst._fit_booster, analyst._predict_booster

    def ids(a: np.ndarray) -> np.ndarray:
        return a[:, -1].astype(np.int64)

    def fit_spy(
        params: dict[str, Any],
        Xa: np.ndarray,
        ya: np.ndarray,
        wa: np.ndarray,
        rounds: int,
        *,
        valid: tuple[np.ndarray, np.ndarray] | None = None,
        early_stopping_rounds: int | None = None,
    ) -> Any:
        calls.append(("fit", ids(Xa), None if valid is None else ids(valid[0])))
        return fit(params, Xa, ya, wa, rounds, valid=valid,
                   early_stopping_rounds=early_stopping_rounds)

    def predict_spy(booster: Any, Xa: np.ndarray) -> np.ndarray:
        calls.append(("predict", ids(Xa), None))
        return pred(booster, Xa)

    monkeypatch.setattr(analyst, "_fit_booster", fit_spy)
    monkeypatch.setattr(analyst, "_predict_booster", predict_spy)
    cross_validate(X, y, t0, t1, FAST)

    folds = list(PurgedKFold(FAST.n_splits, FAST.embargo).split(t0, t1))
    groups: list[list[tuple[str, np.ndarray, np.ndarray | None]]] = [[]]
    for call in calls:
        groups[-1].append(call)
        if call[0] == "predict":
            groups.append([])
    assert groups[-1] == [] and len(groups) - 1 == len(folds)
    for group, (train, test) in zip(groups[:-1], folds, strict=True):
        *fits, (_, tested, _) = group
        assert np.array_equal(tested, test)
        span_start, span_end = t0[test].min(), t1[test].max()
        assert len(fits) == 2  # early stopping on the inner split, then the refit
        (_, inner, valid), (_, refit, no_valid) = fits
        assert valid is not None and no_valid is None
        assert np.array_equal(refit, train)
        for rows in (inner, valid, refit):
            assert np.isin(rows, train).all()
            overlaps = (t0[rows] <= span_end) & (t1[rows] >= span_start)
            assert not overlaps.any(), "a training label window overlaps the test fold"
            embargoed = (rows > test[-1]) & (rows <= test[-1] + FAST.embargo)
            assert not embargoed.any()
        # Inner split: validation is the latest training rows; inner labels end before it.
        assert inner.max() < valid.min()
        assert t1[inner].max() < t0[valid].min()
        assert valid.size == round(analyst.INNER_VALID_FRACTION * train.size)


def test_deterministic_bytes_and_oof() -> None:
    X, y, t0, t1 = make_data()
    a = cross_validate(X, y, t0, t1, FAST)
    b = cross_validate(X, y, t0, t1, FAST)
    assert np.array_equal(a.oof, b.oof) and a.best_rounds == b.best_rounds
    m1 = fit_final(X, y, FAST, rounds=a.rounds)
    m2 = fit_final(X, y, FAST, rounds=a.rounds)
    assert isinstance(m1, bytes) and m1 == m2
    assert np.array_equal(predict(m1, X), predict(m2, X))
    other = fit_final(X, y, TrainParams(**{**FAST.__dict__, "seed": 1}), rounds=a.rounds)
    assert other != m1  # the seed matters (subsampling), so it must be pinned


def test_features_subset_and_prediction_shape_checks() -> None:
    X, y, t0, t1 = make_data()
    cv = cross_validate(X, y, t0, t1, FAST, features=[0, 1])
    assert cv.logloss < cv.baseline_logloss
    model = fit_final(X, y, FAST, rounds=cv.rounds, features=[0, 1])
    p = predict(model, X, features=[0, 1])
    assert p.shape == (y.size,) and ((p > 0) & (p < 1)).all()
    with pytest.raises(ValueError, match="expects 2 features"):
        predict(model, X)
    with pytest.raises(ValueError, match="only 0"):
        cross_validate(X, y * 2, t0, t1, FAST)


def test_uniqueness_weights_change_training() -> None:
    X, y, t0, t1 = make_data()
    w = average_uniqueness(t0, t1, int(t1.max()) + 1)
    w[: y.size // 2] *= 0.2  # emphasise recent rows so the model must differ
    cv = cross_validate(X, y, t0, t1, FAST, weight=w)
    assert cv.logloss < cv.baseline_logloss
    assert fit_final(X, y, FAST, rounds=20, weight=w) != fit_final(X, y, FAST, rounds=20)


def test_single_class_test_fold_skips_its_auc() -> None:
    X, y, t0, t1 = make_data()
    y = y.copy()
    y[:200] = 1  # the first of three test folds holds only "up"
    cv = cross_validate(X, y, t0, t1, FAST)
    assert cv.fold_auc[0] is None and all(a is not None for a in cv.fold_auc[1:])
    assert any("fold 0" in note and "AUC skipped" in note for note in cv.notes)
    assert np.isfinite(cv.auc)


def test_specialists_with_small_regime_fallback() -> None:
    X, y, t0, t1 = make_data(n=900)
    n = y.size
    regime = np.array(["BULL"] * 300 + ["BEAR"] * 300 + ["SIDEWAYS"] * 260 + ["VOLATILE"] * 40)
    spec = fit_specialists(X, y, t0, t1, regime, FAST, min_rows=150)

    vol = spec.specialists["VOLATILE"]
    assert vol.fallback and vol.model is None and "40 rows < min_rows 150" in vol.reason
    assert spec.model_for("VOLATILE") == spec.global_model
    assert spec.metrics["VOLATILE"]["fallback"] and spec.metrics["VOLATILE"]["rows"] == 40
    rows = regime == "VOLATILE"
    assert np.array_equal(spec.oof[rows], spec.global_cv.oof[rows])

    for name in ("BULL", "BEAR", "SIDEWAYS"):
        own = spec.specialists[name]
        assert not own.fallback and own.model is not None and own.cv is not None
        assert np.array_equal(spec.oof[regime == name], own.cv.oof)
        assert own.metrics["logloss"] < own.metrics["baseline_logloss"]
    assert set(spec.models()) == {"GLOBAL", "BULL", "BEAR", "SIDEWAYS"}
    assert np.isfinite(spec.oof).all()
    assert spec.metrics["COMBINED"]["rows"] == n

    members = spec.member_oof
    assert members is not None and members.shape == (n, len(MEMBERS))
    assert np.isfinite(members).all()
    assert np.array_equal(members[:, MEMBERS.index("VOLATILE")], spec.global_cv.oof)
    assert np.array_equal(members[:, MEMBERS.index("GLOBAL")], spec.global_cv.oof)

    meta = json.loads(json.dumps(spec.to_dict(), allow_nan=False))
    assert meta["specialists"]["VOLATILE"]["model"] == "GLOBAL"
    assert meta["specialists"]["BULL"]["metrics"]["fallback"] is False
    routed = spec.predict(X[:5], regime[-5:])
    np.testing.assert_allclose(routed, predict(spec.global_model, X[:5]))


def test_specialists_reject_unknown_regimes() -> None:
    X, y, t0, t1 = make_data(n=100)
    with pytest.raises(ValueError, match="outside"):
        fit_specialists(X, y, t0, t1, np.array(["CRAB"] * 100), FAST, min_rows=50)
