"""The analyst dataset: labels never reach into a later window, weights, vertical handling."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.config import Config
from ares_cli.data.bars import BarsConfig, bars_from_trades
from ares_cli.data.synthetic import generate
from ares_cli.ml.features.causal import FeaturesConfig
from ares_cli.ml.features.dataset import build_dataset
from ares_cli.ml.features.labels import LabelsConfig
from ares_cli.ml.features.regimes import classify_bars
from ares_cli.ml.features.splits import assign, plan_windows


@pytest.fixture(scope="module")
def inputs():
    market = generate(seed=5, days=40, trades_per_day=3000)
    bars = bars_from_trades(market.trades, 3_600_000)
    fine = bars_from_trades(market.trades, 60_000)
    cfg = Config()
    regimes, _, _ = classify_bars(bars, cfg.regimes, cfg.split.train)
    plan = plan_windows(bars.height, 0.6, 0.2, purge=24, embargo=12)
    splits = assign(regimes["timestamp"], regimes["regime"], plan)
    return bars, fine, regimes, splits


def test_no_label_spans_a_gap_in_the_data():
    """Outages cut labels like a window edge: no labelled row's span (its bar to the bar that
    decided it) holds a gap bar, and the count of cut rows is reported (mutation: without the
    cut, labels run through the outages and this fails)."""
    from ares_cli.data.bars import market_bars
    from ares_cli.data.gaps import bar_gaps

    market = generate(seed=5, days=40, trades_per_day=3000, outages=4)
    bars = bars_from_trades(market.trades, 3_600_000)
    ids = market_bars(market.trades, None, 3_600_000, 60_000).trade_ids
    gap, facts = bar_gaps(bars, ids, base_ms=3_600_000, max_gap=1)
    assert facts["gaps"] == 4
    bars = bars.with_columns(gap=pl.Series(gap))
    fine = bars_from_trades(market.trades, 60_000)
    cfg = Config()
    regimes, _, _ = classify_bars(bars, cfg.regimes, cfg.split.train)
    plan = plan_windows(bars.height, 0.6, 0.2, purge=24, embargo=12)
    splits = assign(regimes["timestamp"], regimes["regime"], plan)
    dataset, metrics = build((bars, fine, regimes, splits))
    labelled = dataset.filter(pl.col("y").is_not_null())
    cum = np.concatenate(([0], np.cumsum(gap)))
    t0 = labelled["bar_index"].to_numpy()
    t1 = labelled["t1_index"].to_numpy()
    assert labelled.height > 300
    assert ((cum[t1 + 1] - cum[t0]) == 0).all(), "a label runs through an outage"
    assert metrics["data"]["cut_by_gaps"] == int(dataset["cut_by_gap"].sum()) > 0


def build(inputs, **labels):
    return build_dataset(*inputs, FeaturesConfig(), LabelsConfig(**labels), BarsConfig())


def test_no_target_reaches_beyond_its_window(inputs):
    dataset, metrics = build(inputs)
    ends = inputs[3].group_by("window").agg(pl.col("bar_index").max().alias("end"))
    checked = dataset.filter(pl.col("y").is_not_null()).join(ends, on="window")
    assert checked.height > 500
    assert (checked["t1_index"] <= checked["end"]).all()
    assert (checked["t1_index"] > checked["bar_index"]).all()
    assert metrics["data"]["purged_rows"] == dataset["purged"].sum() > 0
    assert set(dataset["window"].unique()) == {"train", "validation", "test"}
    assert dataset["regime"].null_count() == 0


def test_weights_are_uniqueness_in_unit_interval(inputs):
    dataset, _ = build(inputs)
    weights = dataset.filter(pl.col("y").is_not_null())["weight"].to_numpy()
    assert np.all((weights > 0) & (weights <= 1))
    assert weights.mean() < 0.5  # 24-bar labels overlap heavily
    flat, _ = build(inputs, uniqueness_weights=False)
    assert (flat.filter(pl.col("y").is_not_null())["weight"] == 1.0).all()


def test_vertical_rows_dropped_or_labelled_by_sign(inputs):
    wide = {"k_up": 6.0, "k_down": 6.0}  # far barriers: many rows time out
    dropped, _ = build(inputs, **wide)
    signed, _ = build(inputs, vertical="sign", **wide)
    vertical = dropped["barrier"] == "vertical"
    assert vertical.sum() > 50
    assert dropped.filter(vertical)["y"].null_count() == vertical.sum()
    kept = signed.filter((pl.col("barrier") == "vertical") & ~pl.col("purged"))
    assert kept["y"].null_count() == (kept["ret"] == 0).sum()
    assert ((kept["y"] == 1) == (kept["ret"] > 0)).all()


def test_test_window_carries_no_outcome(inputs):
    """No label, return or label end of a test-window row leaves step 4."""
    from ares_cli.ml.features.dataset import OUTCOME_COLUMNS

    dataset, metrics = build(inputs)
    test = dataset.filter(pl.col("window") == "test")
    assert test.height > 100
    for column in (*OUTCOME_COLUMNS, "weight"):
        assert test[column].null_count() == test.height, column
    assert set(metrics) == {"data", "train", "validation"}
    earlier = dataset.filter(pl.col("window") != "test")
    assert earlier["y"].null_count() < earlier.height  # only the test window is blanked


def test_features_of_a_row_are_known_at_its_close(inputs):
    """Row t's features come from bars up to t: the one-bar return is close_t / close_{t-1}, and
    cutting the data right after bar t leaves row t's features unchanged (shifting features one
    bar ahead of the labels fails both)."""
    bars, fine, regimes, splits = inputs
    dataset, _ = build(inputs)
    close = bars["close"].to_numpy()
    rows = dataset.filter(pl.col("bar_index") > 0)
    expected = np.log(close[rows["bar_index"].to_numpy()] / close[rows["bar_index"].to_numpy() - 1])
    np.testing.assert_allclose(rows["f_ret_1"].to_numpy(), expected, rtol=1e-12)

    cut = 700  # a validation bar
    end = bars["timestamp"][cut]
    head = tuple(frame.filter(pl.col("timestamp") <= end) for frame in (bars, regimes, splits))
    bar = bars["timestamp"][1] - bars["timestamp"][0]
    short_fine = fine.filter(pl.col("timestamp") < end + bar)
    features = [c for c in dataset.columns if c.startswith("f_")]
    short, _ = build_dataset(head[0], short_fine, head[1], head[2], FeaturesConfig(),
                             LabelsConfig(), BarsConfig())
    full_row = dataset.filter(pl.col("bar_index") == cut).select(features)
    short_row = short.filter(pl.col("bar_index") == cut).select(features)
    assert full_row.height == short_row.height == 1
    assert full_row.equals(short_row)
