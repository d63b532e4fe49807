"""The purged booster: CV honesty, determinism, estimator rules, recipes and feature subsets."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import ares_cli.ml.models.booster as booster_module
import ares_cli.ml.models.parallel as parallel
from ares_cli.errors import InsufficientData
from ares_cli.ml.features.labels import average_uniqueness
from ares_cli.ml.models.booster import (
    BoostConfig,
    PurgedBooster,
    fit_booster,
    predict_model,
    scores,
)
from ares_cli.ml.models.cv import PurgedKFold

# Small and single-threaded: fast and immune to other processes competing for the cores.
FAST = BoostConfig(n_splits=3, num_boost_round=60, early_stopping_rounds=10, n_threads=1)
EMBARGO = 5
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


def fast(**kwargs: Any) -> PurgedBooster:
    return PurgedBooster(FAST, embargo=EMBARGO, **kwargs)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return make_data()


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, ...]) -> PurgedBooster:
    """One fitted booster on the default data, shared by the read-only tests."""
    return fast().fit(*data)


# ------------------------------------------------------------------------------ CV honesty


def test_signal_beats_prior_and_noise_does_not(fitted: PurgedBooster) -> None:
    cv = fitted.cv_
    assert cv.rows == cv.oof.size and np.isfinite(cv.oof).all()
    assert cv.logloss < cv.baseline_logloss - 0.1
    assert cv.auc > 0.8 and cv.baseline_auc == 0.5
    assert cv.accuracy > cv.baseline_accuracy + 0.15
    assert len(cv.best_rounds) == FAST.n_splits and 1 <= cv.rounds <= FAST.num_boost_round

    noise = fast().cross_validate(*make_data(signal=False, seed=1))
    assert abs(noise.logloss - noise.baseline_logloss) < 0.03
    assert 0.4 < noise.auc < 0.6


def test_baseline_is_the_training_fold_prior(
    data: tuple[np.ndarray, ...], fitted: PurgedBooster
) -> None:
    _, y, t0, t1 = data
    cv = fitted.cv_
    for k, (train, test) in enumerate(PurgedKFold(FAST.n_splits, EMBARGO).split(t0, t1)):
        assert (cv.fold[test] == k).all()
        np.testing.assert_allclose(cv.baseline_oof[test], y[train].mean())


def test_no_training_row_overlaps_its_test_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spy on every model fit and prediction; identify rows through an id column."""
    X, y, t0, _ = make_data(n=450)
    n = y.size
    t1 = np.minimum(t0 + 2, n - 1)  # shorter than the embargo, so the embargo is what bites
    X = np.column_stack([X, np.arange(n, dtype=np.float64)])  # last column = row id
    calls: list[tuple[str, np.ndarray, np.ndarray | None]] = []
    fit, pred = booster_module.fit_booster, booster_module.predict_booster

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

    # one fit at a time, so each prediction follows the fits it was made from (threads run
    # the same fits; test_*_same_at_any_fit_thread_count holds them to it)
    monkeypatch.setattr(parallel, "_threads", 1)
    monkeypatch.setattr(booster_module, "fit_booster", fit_spy)
    monkeypatch.setattr(booster_module, "predict_booster", predict_spy)
    fast().cross_validate(X, y, t0, t1)

    folds = list(PurgedKFold(FAST.n_splits, EMBARGO).split(t0, t1))
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
            embargoed = (rows > test[-1]) & (rows <= test[-1] + EMBARGO)
            assert not embargoed.any()
        # Inner split: validation is the latest training rows; inner labels end before it.
        assert inner.max() < valid.min()
        assert t1[inner].max() < t0[valid].min()
        assert valid.size == round(booster_module.INNER_VALID_FRACTION * train.size)


def test_single_class_test_fold_skips_its_auc(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1 = data
    y = y.copy()
    y[:200] = 1  # the first of three test folds holds only "up"
    cv = fast().cross_validate(X, y, t0, t1)
    assert cv.fold_auc[0] is None and all(a is not None for a in cv.fold_auc[1:])
    assert any("fold 0" in note and "AUC skipped" in note for note in cv.notes)
    assert np.isfinite(cv.auc)
    summary = cv.to_dict()
    assert summary["fold_auc"][0] is None
    json.dumps(summary, allow_nan=False)


def test_cv_fails_when_every_fold_is_purged_empty() -> None:
    X, y, t0, _ = make_data(n=60)
    t1 = np.full(60, 59, dtype=np.int64)  # every label runs to the end
    with pytest.raises(InsufficientData, match="could not score any fold"):
        fast().cross_validate(X, y, t0, t1)


def test_scores_average_auc_over_groups_and_skip_single_class_groups() -> None:
    y = np.array([0, 1, 0, 1, 1, 1], dtype=np.float64)
    p = np.array([0.2, 0.8, 0.6, 0.4, 0.7, np.nan])
    base = np.full(6, 0.5)
    group = np.array([0, 0, 1, 1, 2, -1])
    metrics, by_group, notes = scores(y, p, base, group)
    assert by_group == {0: 1.0, 1: 0.0, 2: None}
    assert metrics["auc"] == 0.5 and metrics["rows"] == 5  # NaN / group -1 rows not scored
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert notes == ["fold 2: test rows hold a single class, AUC skipped"]


# -------------------------------------------------------------------------- estimator rules


def test_follows_scikit_learn_estimator_rules(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1 = data
    model = fast(random_state=3, rounds=7)
    # __init__ only stores its parameters, unchanged; nothing learned yet.
    assert vars(model) == {"config": FAST, "embargo": EMBARGO, "random_state": 3,
                           "features": None, "rounds": 7}
    assert not [k for k in vars(model) if k.endswith("_")]
    with pytest.raises(RuntimeError, match="not fitted"):
        model.predict_proba(X)

    assert model.fit(X, y, t0, t1) is model
    learned = {k for k in vars(model) if k.endswith("_")}
    assert learned == {"cv_", "oof_", "rounds_", "model_"}
    assert model.oof_ is model.cv_.oof and isinstance(model.model_, bytes)
    assert model.rounds_ == 7  # the `rounds` parameter overrides the CV's median
    assert vars(model)["rounds"] == 7 and model.random_state == 3  # parameters untouched
    p = model.predict_proba(X)
    assert p.shape == (y.size,) and ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(p, predict_model(model.model_, X))


def test_fit_ships_the_cv_rounds_and_fit_final_matches_fit(
    data: tuple[np.ndarray, ...], fitted: PurgedBooster
) -> None:
    X, y, _, _ = data
    assert fitted.rounds_ == fitted.cv_.rounds
    again = fast().fit_final(X, y, rounds=fitted.rounds_)
    assert again.model_ == fitted.model_ and not hasattr(again, "cv_")


def test_fit_final_rejects_bad_rounds_and_single_class(data: tuple[np.ndarray, ...]) -> None:
    X, y, _, _ = data
    for rounds in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="rounds"):
            fast().fit_final(X, y, rounds=rounds)
    with pytest.raises(ValueError, match="both classes"):
        fast().fit_final(X, np.ones_like(y), rounds=5)


def test_input_checks(data: tuple[np.ndarray, ...], fitted: PurgedBooster) -> None:
    X, y, t0, t1 = data
    with pytest.raises(ValueError, match="only 0"):
        fast().cross_validate(X, y * 2, t0, t1)
    with pytest.raises(ValueError, match="t0 and t1"):
        fast().cross_validate(X, y, t0[:-1], t1)
    with pytest.raises(ValueError, match="weight"):
        fast().cross_validate(X, y, t0, t1, -np.ones(y.size))
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        fitted.predict_proba(bad)
    with pytest.raises(ValueError, match="non-empty"):
        predict_model(b"", X)


# ------------------------------------------------------------------- determinism and recipe


def test_deterministic_bytes_and_oof(
    data: tuple[np.ndarray, ...], fitted: PurgedBooster
) -> None:
    X, y, t0, t1 = data
    again = fast().fit(X, y, t0, t1)
    assert np.array_equal(again.oof_, fitted.oof_)
    assert again.cv_.best_rounds == fitted.cv_.best_rounds
    assert isinstance(fitted.model_, bytes) and again.model_ == fitted.model_
    assert np.array_equal(again.predict_proba(X), fitted.predict_proba(X))
    other = fast(random_state=1).fit_final(X, y, rounds=fitted.rounds_)
    assert other.model_ != fitted.model_  # the seed matters (subsampling), so it must be pinned


def test_recipe_round_trip(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1 = data
    config = FAST.model_copy(update={"max_depth": 3, "subsample": 0.7})
    original = PurgedBooster(config, embargo=EMBARGO, random_state=11)
    recipe = original.recipe()
    assert recipe == {**config.model_dump(mode="json"), "embargo": EMBARGO, "seed": 11}
    restored = PurgedBooster.from_recipe(json.loads(json.dumps(recipe)))
    assert restored.recipe() == recipe
    assert restored.config == config and restored.random_state == 11
    a, b = original.cross_validate(X, y, t0, t1), restored.cross_validate(X, y, t0, t1)
    assert np.array_equal(a.oof, b.oof) and a.best_rounds == b.best_rounds
    assert a.to_dict() == b.to_dict()

    subset = PurgedBooster.from_recipe(recipe, features=[0, 1], rounds=9)
    assert subset.features == [0, 1] and subset.rounds == 9 and subset.recipe() == recipe
    with pytest.raises(ValueError):
        PurgedBooster.from_recipe({**recipe, "surprise": 1})


def test_with_hyper_parameters_copies_and_validates() -> None:
    base = fast(random_state=4, features=[0, 2], rounds=5)
    tuned = base.with_hyper_parameters(max_depth=2, learning_rate=0.2)
    assert tuned is not base and base.config == FAST  # the original is untouched
    assert tuned.config.max_depth == 2 and tuned.config.learning_rate == 0.2
    assert tuned.config.model_dump(exclude={"max_depth", "learning_rate"}) == FAST.model_dump(
        exclude={"max_depth", "learning_rate"}
    )
    assert (tuned.embargo, tuned.random_state, tuned.features, tuned.rounds) == (
        EMBARGO, 4, [0, 2], 5)
    with pytest.raises(ValueError, match="not searchable"):
        base.with_hyper_parameters(n_splits=4)
    with pytest.raises(ValueError):
        base.with_hyper_parameters(max_depth=0)


# ------------------------------------------------------------------------ weights, features


def test_uniqueness_weights_change_training(
    data: tuple[np.ndarray, ...], fitted: PurgedBooster
) -> None:
    X, y, t0, t1 = data
    w = average_uniqueness(t0, t1, int(t1.max()) + 1)
    w[: y.size // 2] *= 0.2  # emphasise recent rows so the model must differ
    weighted = fast().fit(X, y, t0, t1, w)
    assert weighted.cv_.logloss < weighted.cv_.baseline_logloss
    assert not np.array_equal(weighted.oof_, fitted.oof_)
    plain = fast().fit_final(X, y, rounds=20)
    assert fast().fit_final(X, y, w, rounds=20).model_ != plain.model_


def test_features_subset(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1 = data
    subset = fast(features=[1, 0]).fit(X, y, t0, t1)
    assert subset.cv_.logloss < subset.cv_.baseline_logloss
    # Exactly the model trained on those columns, in that order.
    direct = fast().fit(X[:, [1, 0]], y, t0, t1)
    assert subset.model_ == direct.model_ and np.array_equal(subset.oof_, direct.oof_)
    p = subset.predict_proba(X)
    assert p.shape == (y.size,) and ((p > 0) & (p < 1)).all()
    np.testing.assert_array_equal(p, predict_model(subset.model_, X, features=[1, 0]))
    np.testing.assert_array_equal(p, direct.predict_proba(X[:, [1, 0]]))
    with pytest.raises(ValueError, match="expects 2 features"):
        predict_model(subset.model_, X)
    for bad in ([0, 0], [], [X.shape[1]], [-1]):
        with pytest.raises(ValueError, match="distinct column indices"):
            fast(features=bad).cross_validate(X, y, t0, t1)


def test_cross_validation_is_the_same_at_any_fit_thread_count(monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Folds fitted on threads give the one-at-a-time result bit for bit (threads are a
    resource, not a recipe)."""
    X, y, t0, t1 = make_data(n=450)
    results = []
    for threads in (1, 2, 3):
        monkeypatch.setattr(parallel, "_threads", threads)
        results.append(fast().cross_validate(X, y, t0, t1))
    for other in results[1:]:
        assert np.array_equal(other.oof, results[0].oof, equal_nan=True)
        assert other.best_rounds == results[0].best_rounds
        assert other.notes == results[0].notes and other.rounds == results[0].rounds


@pytest.mark.parametrize("case", range(12))
def test_fit_booster_is_xgboost_train(case: int) -> None:
    """The hand-driven rounds and early stopping give `xgboost.train`'s model, byte for byte,
    and its best iteration (missing values, weights, depths, patience and rates varied)."""
    import xgboost as xgb

    rng = np.random.default_rng(100 + case)
    n, k = int(rng.integers(40, 500)), int(rng.integers(3, 30))
    X = rng.normal(size=(n, k))
    X[rng.random((n, k)) < 0.05] = np.nan
    y = (rng.random(n) < 0.3 + 0.4 * (np.nan_to_num(X[:, 0]) > 0)).astype(np.float64)
    w = rng.random(n) + 0.5
    params = BoostConfig(max_depth=int(rng.integers(2, 6)),
                         learning_rate=float(rng.choice([0.05, 0.3]))).xgb_params(case)
    cut, patience = int(0.8 * n), int(rng.choice([3, 30]))

    ours = fit_booster(params, X[:cut], y[:cut], w[:cut], 300, valid=(X[cut:], y[cut:]),
                       early_stopping_rounds=patience)
    train = xgb.DMatrix(X[:cut], label=y[:cut], weight=w[:cut], missing=np.nan, nthread=1)
    valid = xgb.DMatrix(X[cut:], label=y[cut:], missing=np.nan, nthread=1)
    theirs = xgb.train(params, train, 300, evals=[(valid, "valid")],
                       early_stopping_rounds=patience, verbose_eval=False)
    assert ours.best_iteration == theirs.best_iteration
    assert bytes(ours.save_raw("ubj")) == bytes(theirs.save_raw("ubj"))

    rounds = ours.best_iteration + 1
    refit = fit_booster(params, X, y, w, rounds)
    reference = xgb.train(params, xgb.DMatrix(X, label=y, weight=w, missing=np.nan, nthread=1),
                          rounds)
    assert bytes(refit.save_raw("ubj")) == bytes(reference.save_raw("ubj"))
    assert np.array_equal(refit.inplace_predict(X), reference.inplace_predict(X))


def test_fit_booster_ties_do_not_count_as_gains() -> None:
    """Trees that cannot split leave the validation loss where it was: like xgboost, the best
    iteration stays the first of the tied rounds and training stops a patience later."""
    import xgboost as xgb

    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(200, 4)), (rng.random(200) < 0.4).astype(np.float64)
    params = {**BoostConfig().xgb_params(0), "min_child_weight": 1e9}  # no split allowed
    ours = fit_booster(params, X[:150], y[:150], np.ones(150), 100,
                       valid=(X[150:], y[150:]), early_stopping_rounds=5)
    theirs = xgb.train(params, xgb.DMatrix(X[:150], label=y[:150], nthread=1), 100,
                       evals=[(xgb.DMatrix(X[150:], label=y[150:], nthread=1), "valid")],
                       early_stopping_rounds=5, verbose_eval=False)
    assert ours.best_iteration == theirs.best_iteration
    assert ours.num_boosted_rounds() == theirs.num_boosted_rounds() == ours.best_iteration + 6


@pytest.mark.parametrize("metric", [["logloss", "auc"], "auc", "error"])
def test_fit_booster_stops_on_the_last_metric_in_its_direction(metric: object) -> None:
    """With other evaluation metrics (ares sets log-loss; a caller's parameters may not),
    early stopping follows xgboost.train: the last metric, maximised where xgboost maximises it."""
    import xgboost as xgb

    rng = np.random.default_rng(11)
    X = rng.normal(size=(300, 5))
    y = (rng.random(300) < 0.3 + 0.4 * (X[:, 0] > 0)).astype(np.float64)
    params = {**BoostConfig().xgb_params(0), "eval_metric": metric}
    ours = fit_booster(params, X[:240], y[:240], np.ones(240), 300, valid=(X[240:], y[240:]),
                       early_stopping_rounds=10)
    theirs = xgb.train(params, xgb.DMatrix(X[:240], label=y[:240], nthread=1), 300,
                       evals=[(xgb.DMatrix(X[240:], label=y[240:], nthread=1), "valid")],
                       early_stopping_rounds=10, verbose_eval=False)
    assert ours.best_iteration == theirs.best_iteration
    assert ours.attributes() == theirs.attributes()
    assert bytes(ours.save_raw("ubj")) == bytes(theirs.save_raw("ubj"))


def test_fit_booster_needs_a_round() -> None:
    with pytest.raises(ValueError, match="at least one boosting round"):
        fit_booster(BoostConfig().xgb_params(0), np.zeros((4, 2)), np.array([0.0, 1, 0, 1]),
                    np.ones(4), 0)
