"""The tactician ensemble: gain weights, the nested rule, windows."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.ml.tactician.ensemble import combine_tactician, gain_weights


def test_gain_weights_favour_members_that_beat_the_prior():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.5).astype(float)
    good = np.where(y == 1, 0.7, 0.3)
    noise = rng.uniform(0.2, 0.8, 2000)
    weights = gain_weights(np.column_stack([good, noise, good * 0.9 + 0.05]), y, 0.5)
    assert weights[1] == 0.0 and weights[0] > weights[2] > 0 and weights.sum() == pytest.approx(1)
    assert gain_weights(np.column_stack([noise, noise]), y, 0.5).tolist() == [0.5, 0.5]


def test_each_folds_weights_never_see_that_fold(tiny_pipeline):
    catalog = tiny_pipeline.catalog
    predictions, inner = catalog["tactician_predictions"], catalog["tactician_inner"]
    oof = predictions.filter(pl.col("source") == "oof")
    for (fold,), rows in inner.partition_by("fold", as_dict=True).items():
        tested = set(oof.filter(pl.col("fold") == fold)["bar_index"].to_list())
        assert tested and not tested & set(rows["bar_index"].to_list())
        # nor any row whose trade window reaches into the tested block
        start, end = min(tested), max(oof.filter(pl.col("fold") == fold)["t1_index"])
        overlap = rows.filter((pl.col("bar_index") <= end) & (pl.col("t1_index") >= start))
        assert overlap.height == 0


def test_ensemble_covers_every_proposal_and_names_windows(tiny_pipeline):
    catalog = tiny_pipeline.catalog
    members = catalog["tactician_models"].table["members"]
    frame, model, metrics = combine_tactician(
        catalog["tactician_predictions"], catalog["tactician_inner"], members, seed=7)
    assert frame["p_take"].null_count() == 0
    assert sum(model["weights"]) == pytest.approx(1.0)
    assert set(metrics) == {"data", "train_cv", "validation"}
    assert metrics["validation"]["verdict"] in ("edge", "no edge")
    test = frame.filter(pl.col("window") == "test")
    assert test["y"].null_count() == test.height
