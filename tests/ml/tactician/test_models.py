"""Tactician members on the session's tiny market: out of fold, beside the prior, shipped."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.errors import InsufficientData
from ares_cli.ml.tactician.models import (
    LinearModel,
    TacticianModelConfig,
    predict_members,
    tactician_rows,
    train_tactician,
)

FAST = TacticianModelConfig(n_splits=3, num_boost_round=40, n_threads=1, bags=2)


@pytest.fixture(scope="module")
def trained(tiny_pipeline):
    dataset = tiny_pipeline.catalog["tactician_dataset"]
    models, frame, _, metrics = train_tactician(dataset, FAST, embargo=12, seed=7)
    return dataset, models, frame, metrics


def test_members_are_scored_out_of_fold_beside_the_prior(trained):
    _, _, frame, metrics = trained
    assert metrics["data"]["members"] == ["BOOST_0", "BOOST_1", "LINEAR"]
    for name, scored in metrics["train_cv"]["per_member"].items():
        assert {"logloss", "baseline_logloss", "auc", "edge"} <= set(scored), name
        assert scored["edge"]["verdict"] in ("edge", "no edge")
    train = frame.filter(pl.col("window") == "train")
    assert (train["source"] == "oof").all() and train["p_boost_0"].null_count() == 0
    later = frame.filter(pl.col("window") != "train")
    assert (later["source"] == "model").all()
    assert later.filter(pl.col("window") == "test")["y"].null_count() == \
        later.filter(pl.col("window") == "test").height
    assert set(metrics) == {"data", "train", "train_cv", "validation"}


def test_shipped_members_predict_from_the_model_set_alone(trained):
    dataset, models, frame, _ = trained
    rows = tactician_rows(dataset, "validation")
    again = predict_members(models, rows.X, ["BOOST_0", "BOOST_1", "LINEAR"])
    validation = frame.filter((pl.col("window") == "validation") & pl.col("y").is_not_null())
    np.testing.assert_allclose(again[:, 0], validation["p_boost_0"].to_numpy())
    np.testing.assert_allclose(again[:, 2], validation["p_linear"].to_numpy())
    assert models.models["BOOST_0"] != models.models["BOOST_1"]  # bags differ


def test_linear_baseline_handles_missing_values_and_round_trips():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=200) > 0).astype(float)
    X[rng.random((200, 3)) < 0.1] = np.nan
    model = LinearModel(C=1.0).fit(X, y)
    p = model.predict_proba(X)
    assert np.isfinite(p).all() and ((p > 0.5) == (y == 1)).mean() > 0.8
    np.testing.assert_array_equal(LinearModel.from_dict(model.to_dict()).predict_proba(X), p)


def test_too_few_proposals_is_a_data_error(tiny_pipeline):
    dataset = tiny_pipeline.catalog["tactician_dataset"]
    first = dataset.filter(pl.col("window") == "train")["bar_index"].head(15)
    few = dataset.with_columns(
        y=pl.when(pl.col("bar_index").is_in(first.to_list())).then(pl.col("y")).otherwise(None))
    with pytest.raises(InsufficientData, match="labelled training proposals"):
        train_tactician(few, FAST, embargo=12, seed=7)
