"""Analyst ensemble: gating by hand, stacking on synthetic members, purged comparison."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ares_cli.ml import ensemble
from ares_cli.ml.ensemble import MEMBERS, StackedEnsemble, compare, evaluate, gated


def _scores(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random soft regime scores (rows sum to 1)."""
    return rng.dirichlet(np.ones(4), size=n)


def _market(
    n: int = 600, seed: int = 1, informative: str = "GLOBAL"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One informative member, four noise members, overlapping label spans (t1 = t0 + 1..6).

    The label comes from a latent signal the informative member sees (with noise); the others
    are pure noise probabilities, all distinct so each row can be recognised by its values.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (z + 0.7 * rng.normal(size=n) > 0).astype(np.int64)
    probs = rng.uniform(0.05, 0.95, size=(n, len(MEMBERS)))
    probs[:, MEMBERS.index(informative)] = 1.0 / (1.0 + np.exp(-1.5 * z))
    t0 = np.arange(n, dtype=np.int64)
    t1 = t0 + rng.integers(1, 7, size=n)
    return probs, _scores(rng, n), y, t0, t1


# ------------------------------------------------------------------------------------- gated


def test_gated_equals_hand_computation() -> None:
    probs = np.array(
        [
            [0.9, 0.1, 0.5, 0.3, 0.6],
            [0.2, 0.4, 0.6, 0.8, 0.5],
        ]
    )
    scores = np.array(
        [
            [0.5, 0.25, 0.25, 0.0],
            [0.1, 0.2, 0.3, 0.4],
        ]
    )
    expected = [
        0.5 * 0.9 + 0.25 * 0.1 + 0.25 * 0.5 + 0.0 * 0.3,
        0.1 * 0.2 + 0.2 * 0.4 + 0.3 * 0.6 + 0.4 * 0.8,
    ]
    np.testing.assert_allclose(gated(probs, scores), expected, rtol=0, atol=1e-12)


def test_gated_with_one_hot_scores_picks_the_regime_specialist() -> None:
    rng = np.random.default_rng(3)
    n = 40
    probs = rng.uniform(size=(n, len(MEMBERS)))
    regime = rng.integers(0, 4, size=n)
    scores = np.eye(4)[regime]
    np.testing.assert_array_equal(gated(probs, scores), probs[np.arange(n), regime])


def test_gated_rejects_bad_inputs() -> None:
    probs = np.full((3, 5), 0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        gated(probs, np.full((3, 4), 0.5))
    with pytest.raises(ValueError, match="shape"):
        gated(probs[:, :4], np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        gated(np.full((3, 5), 1.5), np.full((3, 4), 0.25))


# ---------------------------------------------------------------------------------- evaluate


def test_evaluate_clips_and_handles_one_class() -> None:
    out = evaluate(np.array([0.0, 1.0, 1.0]), np.array([1, 1, 1]))
    assert out["auc"] is None
    assert out["rows"] == 3
    assert out["log_loss"] == pytest.approx(-np.log(1e-6) / 3)
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["brier"] == pytest.approx(1 / 3)

    both = evaluate(np.array([0.2, 0.8, 0.6, 0.4]), np.array([0, 1, 1, 0]))
    assert both["auc"] == 1.0
    assert both["accuracy"] == 1.0
    json.dumps(both)


# ---------------------------------------------------------------------------------- stacking


def test_stacked_weights_the_informative_member_over_noise() -> None:
    probs, scores, y, t0, t1 = _market(informative="BEAR")
    model = StackedEnsemble(C=1.0, random_state=0).fit(probs, scores, y)
    coef = dict(zip(model.feature_names_, model.coef_, strict=True))
    informative = coef["logit_bear"]
    assert informative > 0.5
    for name in ("bull", "sideways", "volatile", "global"):
        assert abs(coef[f"logit_{name}"]) < informative / 3

    result = compare(probs, scores, y, t0, t1, method="stacked", n_splits=5, embargo=3)
    loss = result["ensemble"]["log_loss"]
    for name in ("BULL", "SIDEWAYS", "VOLATILE", "GLOBAL"):
        assert loss < result["members"][name]["log_loss"]
    assert loss < result["baseline"]["log_loss"]
    assert result["best_member"] == "BEAR"
    assert result["ensemble"]["rows"] == len(y)


def test_stacked_roundtrip_through_json_predicts_identically() -> None:
    probs, scores, y, _, _ = _market(n=300, seed=5)
    model = StackedEnsemble(C=0.5, random_state=7).fit(probs, scores, y)
    restored = StackedEnsemble.from_dict(json.loads(json.dumps(model.to_dict())))
    rng = np.random.default_rng(9)
    new_probs = rng.uniform(size=(50, 5))
    new_probs[:3, 0] = [0.0, 1.0, 0.5]  # clipping at the edges
    new_scores = _scores(rng, 50)
    np.testing.assert_array_equal(
        restored.predict_proba(new_probs, new_scores), model.predict_proba(new_probs, new_scores)
    )
    assert restored.C == 0.5
    assert restored.random_state == 7

    with pytest.raises(ValueError, match="not a"):
        StackedEnsemble.from_dict({**model.to_dict(), "kind": "other"})


def test_stacked_matches_sklearn_probabilities() -> None:
    from sklearn.linear_model import LogisticRegression

    probs, scores, y, _, _ = _market(n=300, seed=6)
    model = StackedEnsemble(random_state=0).fit(probs, scores, y)
    clipped = np.clip(probs, 1e-6, 1 - 1e-6)
    x = np.hstack([np.log(clipped / (1 - clipped)), scores])
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(x, y).predict_proba(x)[:, 1]
    np.testing.assert_allclose(model.predict_proba(probs, scores), reference, atol=1e-6)


def test_stacked_one_class_training_predicts_the_prior() -> None:
    probs, scores, _, _, _ = _market(n=50)
    model = StackedEnsemble().fit(probs, scores, np.ones(50, dtype=np.int64))
    assert model.constant_
    np.testing.assert_allclose(model.predict_proba(probs, scores), 1 - 1e-6)


def test_unfitted_stacker_raises() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        StackedEnsemble().predict_proba(np.full((1, 5), 0.5), np.full((1, 4), 0.25))


# ----------------------------------------------------------------------------------- compare


def test_compare_trains_only_on_purged_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    probs, scores, y, t0, t1 = _market(n=200, seed=2)
    row_of = {float(v): i for i, v in enumerate(probs[:, 0])}
    assert len(row_of) == len(y)
    fitted_rows: list[np.ndarray] = []
    real_fit = StackedEnsemble.fit

    def spy_fit(
        self: StackedEnsemble, member_probs: np.ndarray, *args: object, **kw: object
    ) -> StackedEnsemble:
        fitted_rows.append(np.array([row_of[float(v)] for v in member_probs[:, 0]]))
        return real_fit(self, member_probs, *args, **kw)

    monkeypatch.setattr(ensemble.StackedEnsemble, "fit", spy_fit)
    embargo = 4
    result = compare(probs, scores, y, t0, t1, method="stacked", n_splits=5, embargo=embargo)

    # Recompute the test blocks independently of PurgedKFold.
    blocks = np.array_split(np.arange(len(y)), 5)
    assert len(fitted_rows) == len(blocks)
    for train, test in zip(fitted_rows, blocks, strict=True):
        span_start, span_end = t0[test].min(), t1[test].max()
        assert train.size > 0
        assert not np.isin(train, test).any()
        overlaps = (t0[train] <= span_end) & (t1[train] >= span_start)
        assert not overlaps.any(), "a training label window overlaps the test fold span"
        after = np.arange(test[-1] + 1, min(len(y), test[-1] + 1 + embargo))
        assert not np.isin(train, after).any(), "embargoed rows used for training"
    assert [f["train_rows"] for f in result["folds"]] == [r.size for r in fitted_rows]


def test_compare_gated_evaluates_the_gate_out_of_fold() -> None:
    probs, scores, y, t0, t1 = _market(n=300, seed=4)
    result = compare(probs, scores, y, t0, t1, method="gated", n_splits=4, embargo=2)
    assert result["ensemble"] == evaluate(gated(probs, scores), y)
    assert set(result["members"]) == set(MEMBERS)
    assert result["best_member"] == "GLOBAL"
    # The gate ignores GLOBAL, the only informative member here.
    assert result["ensemble_beats_best_member"] is False
    json.dumps(result)


def test_compare_handles_one_class_folds() -> None:
    probs, scores, _, t0, t1 = _market(n=100, seed=8)
    y = np.zeros(100, dtype=np.int64)
    y[80:] = 1  # folds 0-3 test one class; fold 4 trains on zeros only
    result = compare(probs, scores, y, t0, t1, method="stacked", n_splits=5, embargo=2)
    assert result["folds"][4]["constant_stacker"] is True
    assert not any(f["skipped"] for f in result["folds"])
    assert np.isfinite(result["ensemble"]["log_loss"])
    assert result["ensemble"]["rows"] == 100

    all_zero = compare(probs, scores, np.zeros(100, dtype=np.int64), t0, t1, method="stacked")
    assert all_zero["ensemble"]["auc"] is None
    assert all_zero["baseline"]["auc"] is None
    assert all(m["auc"] is None for m in all_zero["members"].values())


def test_compare_is_deterministic_and_json_ready() -> None:
    probs, scores, y, t0, t1 = _market(n=300, seed=11)
    weight = np.random.default_rng(0).uniform(0.2, 1.0, size=300)
    first = compare(probs, scores, y, t0, t1, method="stacked", seed=3, weight=weight)
    second = compare(probs, scores, y, t0, t1, method="stacked", seed=3, weight=weight)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_compare_fails_when_every_fold_is_purged_empty() -> None:
    probs, scores, y, t0, _ = _market(n=50)
    t1 = np.full(50, 49, dtype=np.int64)  # every label runs to the end
    with pytest.raises(ValueError, match="empty training set"):
        compare(probs, scores, y, t0, t1, method="gated", n_splits=5, embargo=0)


def test_compare_rejects_unknown_method() -> None:
    probs, scores, y, t0, t1 = _market(n=50)
    with pytest.raises(ValueError, match="method"):
        compare(probs, scores, y, t0, t1, method="mean")
