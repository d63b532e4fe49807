"""The analyst's composition (steps 5-7): what it refuses to fit on, and what it reports."""

from __future__ import annotations

import polars as pl
import pytest

from ares_cli.errors import DataError
from ares_cli.ml.analyst.specialists import MIN_ROWS_PER_FOLD, train_analyst, training_rows
from ares_cli.ml.models.booster import BoostConfig


def test_too_few_labelled_training_rows_is_a_data_error_naming_the_window(tiny_pipeline):
    dataset = tiny_pipeline.catalog["analyst_dataset"]
    labelled = dataset.filter((pl.col("window") == "train") & pl.col("y").is_not_null())
    keep = set(labelled["bar_index"].head(30).to_list())
    few = dataset.with_columns(
        y=pl.when((pl.col("window") != "train") | pl.col("bar_index").is_in(list(keep)))
        .then(pl.col("y")).otherwise(None))
    assert training_rows(few).y.size == 30
    with pytest.raises(DataError) as info:
        train_analyst(few, BoostConfig(n_threads=1), embargo=12, seed=7, min_rows=100)
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "the train window covers" in message and "30 labelled rows" in message
    assert f"at least {5 * MIN_ROWS_PER_FOLD}" in message


def test_training_rows_are_labelled_unpurged_train_rows_in_time_order(tiny_pipeline):
    dataset = tiny_pipeline.catalog["analyst_dataset"]
    rows = training_rows(dataset)
    train = dataset.filter((pl.col("window") == "train") & pl.col("y").is_not_null()
                           & ~pl.col("purged"))
    assert rows.y.size == train.height > 0
    assert (rows.t0[1:] > rows.t0[:-1]).all() and (rows.t1 > rows.t0).all()
    end = dataset.filter(pl.col("window") == "train")["bar_index"].max()
    assert rows.t1.max() <= end  # no training label reaches past the train window
