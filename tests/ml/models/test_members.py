"""Named members: per-group purged CV with fallback, the member table, out-of-fold matrices."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

import ares_cli.ml.models.booster as booster_module
import ares_cli.ml.models.members as members_module
import ares_cli.ml.models.parallel as parallel
from ares_cli.ml.analyst.specialists import MEMBERS
from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.models.booster import BoostConfig, PurgedBooster, predict_model
from ares_cli.ml.models.cv import PurgedKFold
from ares_cli.ml.models.members import (
    Member,
    MemberFit,
    MemberTable,
    fit_members,
    member_predictions,
    members_oof,
    nested_oof,
)
from ares_cli.util.jsonutil import canonical_json

FAST = BoostConfig(n_splits=3, num_boost_round=60, early_stopping_rounds=10, n_threads=1)
EMBARGO = 5
HORIZON = 6
N = 900
P = 8
MIN_ROWS = 150
FEATURES = [f"f{i}" for i in range(P)]


def make_data(
    n: int = N, p: int = P, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features with ~5% NaN, y driven by x0 and x1, and regimes in interleaved blocks of 20
    rows (BULL, BEAR, SIDEWAYS, ...) with 40 VOLATILE rows: every fold sees every regime."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    drive = X[:, 0] + 0.5 * X[:, 1]
    X[rng.random((n, p)) < 0.05] = np.nan
    y = (drive + 0.6 * rng.normal(size=n) > 0).astype(np.int8)
    t0 = np.arange(n, dtype=np.int64)
    t1 = np.minimum(t0 + HORIZON, n - 1)
    regime = np.array([REGIMES[(i // 20) % 3] for i in range(n)], dtype=object)
    regime[400:420] = regime[700:720] = "VOLATILE"
    return X, y, t0, t1, regime.astype(str)


def base() -> PurgedBooster:
    return PurgedBooster(FAST, embargo=EMBARGO, random_state=0)


def fit(X: np.ndarray, y: np.ndarray, t0: np.ndarray, t1: np.ndarray, regime: np.ndarray,
        **kwargs: Any) -> MemberFit:
    options: dict[str, Any] = {"names": MEMBERS, "fallback_to": "GLOBAL", "min_rows": MIN_ROWS,
                               "feature_names": FEATURES, **kwargs}
    return fit_members(X, y, t0, t1, regime, base(), **options)


def oof(X: np.ndarray, y: np.ndarray, t0: np.ndarray, t1: np.ndarray, regime: np.ndarray,
        table: MemberTable, names: tuple[str, ...] = MEMBERS) -> tuple[np.ndarray, list[str]]:
    nested, notes = members_oof(X, y, t0, t1, regime, table, names=names,
                                n_splits=FAST.n_splits, embargo=EMBARGO)
    return nested.outer, notes


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return make_data()


@pytest.fixture(scope="module")
def fitted(data: tuple[np.ndarray, ...]) -> MemberFit:
    return fit(*data)


@pytest.fixture(scope="module")
def member_oof(data: tuple[np.ndarray, ...], fitted: MemberFit) -> tuple[np.ndarray, list[str]]:
    return oof(*data, fitted.table)


def test_analyst_members_are_the_regimes_then_global() -> None:
    assert (*REGIMES, "GLOBAL") == MEMBERS


# ------------------------------------------------------------------------------ fit_members


def test_small_group_falls_back(data: tuple[np.ndarray, ...], fitted: MemberFit) -> None:
    X, y, _, _, regime = data
    table = fitted.table
    assert list(table.members) == list(MEMBERS) and table.train_rows == N
    assert table.fallback_to == "GLOBAL" and table.features == FEATURES

    vol = table.members["VOLATILE"]
    assert vol.fallback and "40 rows < min_rows 150" in vol.reason
    assert vol.features is None and vol.feature_index is None
    assert table.serving("VOLATILE") == "GLOBAL" and "VOLATILE" not in fitted.models
    assert vol.rounds == table.members["GLOBAL"].rounds
    assert fitted.metrics["VOLATILE"]["fallback"] and fitted.metrics["VOLATILE"]["rows"] == 40
    rows = regime == "VOLATILE"
    global_cv = fitted.cv["GLOBAL"]
    assert np.array_equal(fitted.oof[rows], global_cv.oof[rows])
    assert global_cv.rows == N and table.members["GLOBAL"].feature_index == list(range(P))

    for name in ("BULL", "BEAR", "SIDEWAYS"):
        own = table.members[name]
        assert not own.fallback and own.reason == "" and table.serving(name) == name
        assert own.features == FEATURES and own.rounds == fitted.cv[name].rounds
        assert np.array_equal(fitted.oof[regime == name], fitted.cv[name].oof)
        assert fitted.cv[name].rows == int((regime == name).sum())
        metrics = fitted.metrics[name]
        assert not metrics["fallback"] and metrics["logloss"] < metrics["baseline_logloss"]
    assert set(fitted.models) == {"GLOBAL", "BULL", "BEAR", "SIDEWAYS"}
    assert set(table.own_models()) == set(fitted.models)
    assert set(fitted.cv) == set(fitted.models)
    assert np.isfinite(fitted.oof).all()
    assert fitted.metrics["COMBINED"]["rows"] == N
    json.dumps(fitted.metrics, allow_nan=False)

    # Every member's recipe is the base recipe, and its booster rebuilds it.
    for member in table.members.values():
        assert member.recipe == base().recipe()
    rebuilt = table.members["BULL"].booster()
    assert rebuilt.recipe() == base().recipe()
    assert rebuilt.features == list(range(P)) and rebuilt.rounds == table.members["BULL"].rounds
    # A member's shipped model is its recipe fitted on its group's rows for its rounds.
    bull = regime == "BULL"
    again = rebuilt.fit_final(X[bull], y[bull], rounds=rebuilt.rounds)
    assert again.model_ == fitted.models["BULL"]


def test_single_class_group_falls_back(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1, regime = data
    y = y.copy()
    y[regime == "BEAR"] = 1
    out = fit(X, y, t0, t1, regime)
    bear = out.table.members["BEAR"]
    assert bear.fallback and "single class" in bear.reason
    assert "BEAR" not in out.models and out.metrics["BEAR"]["fallback"]


def test_group_whose_purged_cv_is_impossible_falls_back(data: tuple[np.ndarray, ...]) -> None:
    X, y, t0, t1, regime = data
    t1 = t1.copy()
    t1[regime == "SIDEWAYS"] = N - 1  # its labels all run to the end: no fold can train
    out = fit(X, y, t0, t1, regime)
    sideways = out.table.members["SIDEWAYS"]
    assert sideways.fallback and "purged CV impossible" in sideways.reason


def test_fit_members_rejects_bad_groups_and_min_rows() -> None:
    X, y, t0, t1, regime = make_data(n=100)
    with pytest.raises(ValueError, match="outside"):
        fit(X, y, t0, t1, np.array(["CRAB"] * 100))
    with pytest.raises(ValueError, match="group must have shape"):
        fit(X, y, t0, t1, regime[:-1])
    for min_rows in (FAST.n_splits - 1, 2.5, True):
        with pytest.raises(ValueError, match="min_rows"):
            fit(X, y, t0, t1, regime, min_rows=min_rows)


def test_generic_names_and_fallback_member() -> None:
    """Nothing is analyst-specific: any group names, any fallback member name."""
    X, y, t0, t1, _ = make_data(n=300)
    group = np.where(np.arange(300) % 40 < 30, "WIDE", "NARROW")
    out = fit_members(X, y, t0, t1, group, base(), names=("ALL", "WIDE", "NARROW"),
                      fallback_to="ALL", min_rows=100, feature_names=FEATURES)
    table = out.table
    assert list(table.members) == ["ALL", "WIDE", "NARROW"]
    assert table.members["NARROW"].fallback and table.serving("NARROW") == "ALL"
    assert set(out.models) == {"ALL", "WIDE"}
    assert table.to_dict()["fallback_to"] == "ALL"
    assert MemberTable.from_dict(table.to_dict()) == table


# ------------------------------------------------------------------------------ member table


def test_member_table_round_trip(fitted: MemberFit) -> None:
    table = fitted.table
    data = table.to_dict()
    assert "fallback_to" not in data and "trials_total" not in data  # defaults stay implicit
    # Canonical JSON sorts keys, so the stored table carries no member order: still equal.
    stored = json.loads(canonical_json(data))
    assert list(stored["members"]) == sorted(MEMBERS)
    restored = MemberTable.from_dict(stored)
    assert restored == table
    assert restored.to_dict() == data

    tuned = Member("BULL", False, "", {**table.members["BULL"].recipe, "max_depth": 2},
                   FEATURES[:3], [0, 1, 2], 17, enhanced=True)
    enhanced = MemberTable(table.features, {**table.members, "BULL": tuned}, table.train_rows,
                           "GLOBAL", trials_total=8, configurations_tried=11)
    data = enhanced.to_dict()
    assert data["trials_total"] == 8 and data["configurations_tried"] == 11
    assert data["members"]["BULL"]["enhanced"] is True
    assert "enhanced" not in data["members"]["BEAR"]
    again = MemberTable.from_dict(json.loads(canonical_json(data)))
    assert again == enhanced and again.members["BULL"].booster().features == [0, 1, 2]


# ------------------------------------------------------------------- predictions and oof


def test_member_predictions_route_fallbacks(
    data: tuple[np.ndarray, ...], fitted: MemberFit
) -> None:
    X = data[0][:50]
    out = member_predictions(X, fitted.table, fitted.models, MEMBERS)
    assert out.shape == (50, len(MEMBERS))
    for j, name in enumerate(MEMBERS):
        source = fitted.table.serving(name)
        np.testing.assert_array_equal(out[:, j], predict_model(fitted.models[source], X))
    col = MEMBERS.index
    np.testing.assert_array_equal(out[:, col("VOLATILE")], out[:, col("GLOBAL")])
    assert not np.array_equal(out[:, col("BULL")], out[:, col("GLOBAL")])
    names = tuple(reversed(MEMBERS))
    reordered = member_predictions(X, fitted.table, fitted.models, names)
    np.testing.assert_array_equal(reordered, out[:, ::-1])


def test_members_oof_columns(
    fitted: MemberFit, member_oof: tuple[np.ndarray, list[str]]
) -> None:
    out, notes = member_oof
    assert out.shape == (N, len(MEMBERS)) and np.isfinite(out).all()
    assert ((out > 0) & (out < 1)).all()
    assert notes == []  # every fold holds rows of both classes of every group
    col = MEMBERS.index
    # GLOBAL is cross-validated on the same folds by the same recipe as in fit_members.
    np.testing.assert_array_equal(out[:, col("GLOBAL")], fitted.cv["GLOBAL"].oof)
    # A fallen-back member's column repeats its fallback's column.
    np.testing.assert_array_equal(out[:, col("VOLATILE")], out[:, col("GLOBAL")])
    for name in ("BULL", "BEAR", "SIDEWAYS"):
        assert not np.array_equal(out[:, col(name)], out[:, col("GLOBAL")])


def test_members_oof_respects_names_order(
    data: tuple[np.ndarray, ...], fitted: MemberFit, member_oof: tuple[np.ndarray, list[str]]
) -> None:
    names = ("GLOBAL", "SIDEWAYS", "VOLATILE", "BULL", "BEAR")
    reordered, _ = oof(*data, fitted.table, names)
    for j, name in enumerate(names):
        np.testing.assert_array_equal(reordered[:, j], member_oof[0][:, MEMBERS.index(name)])
    for wrong in (MEMBERS[:-1], (*MEMBERS, "EXTRA"), (*REGIMES, "ALL")):
        with pytest.raises(ValueError, match="not the table's members"):
            oof(*data, fitted.table, wrong)


def test_members_oof_is_out_of_fold(monkeypatch: pytest.MonkeyPatch, fitted: MemberFit) -> None:
    """Spy on every fit and prediction (row ids as the last feature column): no member ever
    trains on a row of the block it predicts, nor on a row whose label overlaps it."""
    X, y, t0, _, regime = make_data()
    t1 = np.minimum(t0 + 2, N - 1)  # shorter than the embargo, so the embargo is what bites
    X = np.column_stack([X, np.arange(N, dtype=np.float64)])  # last column = row id
    members = {n: Member(n, m.fallback, m.reason, m.recipe,
                         None if m.fallback else [*FEATURES, "row_id"],
                         None if m.fallback else list(range(P + 1)), m.rounds)
               for n, m in fitted.table.members.items()}
    table = MemberTable([*FEATURES, "row_id"], members, N)
    calls: list[tuple[str, np.ndarray]] = []
    fit_real, predict_real = booster_module.fit_booster, members_module.predict_booster

    def ids(a: np.ndarray) -> np.ndarray:
        return a[:, -1].astype(np.int64)

    def fit_spy(params: dict[str, Any], Xa: np.ndarray, *args: Any, **kwargs: Any) -> Any:
        calls.append(("fit", ids(Xa)))
        if kwargs.get("valid") is not None:
            calls.append(("fit", ids(kwargs["valid"][0])))
        return fit_real(params, Xa, *args, **kwargs)

    def predict_spy(booster: Any, Xa: np.ndarray) -> np.ndarray:
        calls.append(("predict", ids(Xa)))
        return predict_real(booster, Xa)

    # fit_fold looks fit_booster up in the booster module; members.py calls its own
    # imported name for predict_booster.
    # one fit at a time, so each prediction follows the fits it was made from (threads run
    # the same fits; test_*_same_at_any_fit_thread_count holds them to it)
    monkeypatch.setattr(parallel, "_threads", 1)
    monkeypatch.setattr(booster_module, "fit_booster", fit_spy)
    monkeypatch.setattr(members_module, "predict_booster", predict_spy)
    out, notes = oof(X, y, t0, t1, regime, table)
    assert np.isfinite(out).all() and notes == []

    folds = list(PurgedKFold(FAST.n_splits, EMBARGO).split(t0, t1))
    expected = [(name, k) for k in range(len(folds)) for name in MEMBERS
                if not table.members[name].fallback]
    blocks: list[list[np.ndarray]] = [[]]
    for kind, rows in calls:
        if kind == "predict":
            blocks[-1].append(rows)
            blocks.append([])
        else:
            blocks[-1].append(rows)
    assert blocks[-1] == [] and len(blocks) - 1 == len(expected)
    for block, (name, k) in zip(blocks[:-1], expected, strict=True):
        *fitting, tested = block
        train, test = folds[k]
        assert np.array_equal(tested, test)
        assert fitting, "a block was predicted without a fit"
        mine = train if name == "GLOBAL" else train[regime[train] == name]
        assert np.array_equal(fitting[-1], mine)  # the refit: the fold's rows of its group
        span_start, span_end = t0[test].min(), t1[test].max()
        for rows in fitting:
            assert not np.isin(rows, test).any(), f"{name} fold {k} trained on a test row"
            assert np.isin(rows, mine).all()
            overlaps = (t0[rows] <= span_end) & (t1[rows] >= span_start)
            assert not overlaps.any(), "a training label window overlaps the test block"
            embargoed = (rows > test[-1]) & (rows <= test[-1] + EMBARGO)
            assert not embargoed.any()


def test_fallback_member_must_be_one_of_the_names() -> None:
    X, y, t0, t1, regime = make_data(n=100)
    with pytest.raises(ValueError, match="fallback_to 'ALL'"):
        fit(X, y, t0, t1, regime, fallback_to="ALL")


def test_a_fold_without_training_rows_predicts_one_half_not_nan() -> None:
    """Labels of the first third run to the end, so the first fold's training set is purged
    empty: its block is 0.5 (nothing learned) and says so, never NaN."""
    X, y, t0, t1, regime = make_data(n=300)
    t1 = t1.copy()
    t1[:100] = 299
    table = fit(X, y, t0, np.minimum(t0 + HORIZON, 299), regime, min_rows=10).table
    nested, notes = members_oof(X, y, t0, t1, regime, table, names=MEMBERS, n_splits=3,
                                embargo=0)
    out = nested.outer
    assert np.isfinite(out).all()
    assert (out[:100] == 0.5).all()
    assert any("no training rows" in note for note in notes)


def test_nested_inner_predictions_never_learn_from_their_outer_test_fold() -> None:
    """Record every fit of a nested CV: the inner predictions of outer fold k (what fold k's
    stacker trains on) come from fits on fold k's purged training rows only."""
    n = 240
    t0 = np.arange(n, dtype=np.int64)
    t1 = np.minimum(t0 + 5, n - 1)
    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def fit_predict(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        calls.append((fit_rows, predict_rows))
        return np.full((predict_rows.size, 2), float(fit_rows.size))

    nested = nested_oof(fit_predict, t0, t1, 2, n_splits=4, embargo=3, inner_splits=3)
    outer_folds = list(PurgedKFold(4, 3).split(t0, t1))
    assert len(nested.folds) == 4 and len(calls) == 4 * (1 + 3)
    for k, (train, test, inner) in enumerate(nested.folds):
        assert np.array_equal(train, outer_folds[k][0]) and np.array_equal(test, outer_folds[k][1])
        assert inner is not None and inner.shape == (train.size, 2)
        span_start, span_end = t0[test].min(), t1[test].max()
        outer_call, *inner_calls = calls[4 * k: 4 * k + 4]
        assert np.array_equal(outer_call[0], train) and np.array_equal(outer_call[1], test)
        for fit_rows, predict_rows in inner_calls:
            assert np.isin(fit_rows, train).all() and np.isin(predict_rows, train).all()
            assert not np.isin(fit_rows, predict_rows).any()
            assert not ((t0[fit_rows] <= span_end) & (t1[fit_rows] >= span_start)).any()
        assert np.isfinite(inner).all()


def test_unlabelled_bars_are_predicted_only_by_folds_clean_for_their_future() -> None:
    """Bars without a label get out-of-fold predictions from a fold none of whose training
    labels touches the bars after them (horizon plus embargo): recorded fits prove it."""
    from ares_cli.ml.models.members import clean_for

    n, horizon, embargo = 300, 6, 3
    t0 = np.arange(0, 2 * n, 2, dtype=np.int64)  # labelled rows on even bars
    t1 = t0 + horizon
    extra_bars = np.arange(1, 2 * n, 2, dtype=np.int64)  # unlabelled odd bars
    start, end = extra_bars, extra_bars + horizon
    calls: list[tuple[np.ndarray, np.ndarray]] = []

    def fit_predict(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        calls.append((fit_rows, predict_rows))
        return np.full((predict_rows.size, 1), 0.5)

    extra_ids = np.arange(n, 2 * n)
    nested = nested_oof(fit_predict, t0, t1, 1, n_splits=5, embargo=embargo,
                        inner_splits=None, extra_rows=extra_ids, extra_window=(start, end))
    assert nested.extra_fold is not None and (nested.extra_fold >= 0).mean() > 0.9
    for fit_rows, predict_rows in calls:
        assert (fit_rows < n).all()  # unlabelled rows are never fitted on
        for row in predict_rows[predict_rows >= n]:
            j = row - n
            touching = (t0[fit_rows] <= end[j] + embargo) & (t1[fit_rows] >= start[j])
            assert not touching.any(), f"bar {extra_bars[j]} predicted by a fit on its future"
    # clean_for by hand: one training label [10, 16]
    verdict = clean_for(np.array([10]), np.array([16]), np.array([0, 5, 8, 17, 20]),
                        np.array([6, 11, 14, 23, 26]), 2)
    assert verdict.tolist() == [True, False, False, True, True]  # [17, 23]: label ended before


def test_no_unlabelled_rows_is_an_empty_answer_not_none() -> None:
    t0 = np.arange(0, 60, dtype=np.int64)

    def fit_predict(fit_rows: np.ndarray, predict_rows: np.ndarray) -> np.ndarray:
        return np.full((predict_rows.size, 1), 0.5)

    empty = np.zeros(0, dtype=np.int64)
    nested = nested_oof(fit_predict, t0, t0 + 2, 1, n_splits=3, embargo=0, inner_splits=None,
                        extra_rows=empty, extra_window=(empty, empty))
    assert nested.extra is not None and nested.extra.shape == (0, 1)
    assert nested.extra_fold is not None and nested.extra_fold.size == 0


def test_nested_out_of_fold_is_the_same_at_any_fit_thread_count(
        monkeypatch: pytest.MonkeyPatch, fitted: MemberFit) -> None:
    """Outer and inner folds fitted on threads give the one-at-a-time result bit for bit."""
    X, y, t0, t1, regime = make_data()
    runs = []
    for threads in (1, 2):
        monkeypatch.setattr(parallel, "_threads", threads)
        runs.append(members_oof(X, y, t0, t1, regime, fitted.table, names=list(MEMBERS),
                                n_splits=FAST.n_splits, embargo=EMBARGO, inner_splits=2))
    (one, notes_one), (two, notes_two) = runs
    assert np.array_equal(one.outer, two.outer, equal_nan=True) and notes_one == notes_two
    for (tr1, te1, in1), (tr2, te2, in2) in zip(one.folds, two.folds, strict=True):
        assert np.array_equal(tr1, tr2) and np.array_equal(te1, te2)
        assert (in1 is None and in2 is None) or np.array_equal(in1, in2, equal_nan=True)
