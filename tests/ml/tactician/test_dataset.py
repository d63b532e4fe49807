"""The tactician's dataset on the session's tiny market: proposals, causality, windows."""

from __future__ import annotations

import polars as pl
import pytest

from ares_cli.errors import InsufficientData
from ares_cli.ml.tactician.dataset import (
    OUTCOME_COLUMNS,
    TacticianConfig,
    build_tactician_dataset,
    tactician_features,
)
from ares_cli.ml.trading.costs import CostsConfig

HOUR, MINUTE = 3_600_000, 60_000


def build(catalog, ensemble=None, **overrides):
    cfg = TacticianConfig(**overrides)
    return build_tactician_dataset(
        ensemble if ensemble is not None else catalog["analyst_ensemble"], catalog["bars"],
        catalog["bars_fine"], catalog["regimes"], catalog["splits"], cfg,
        base_ms=HOUR, fine_ms=MINUTE, cost_per_side=CostsConfig().per_side)


def test_proposals_follow_training_quantiles_and_test_events_carry_no_outcome(tiny_pipeline):
    catalog = tiny_pipeline.catalog
    frame, metrics = build(catalog)
    upper = metrics["data"]["thresholds"]["long_at_or_above"]
    lower = metrics["data"]["thresholds"]["short_at_or_below"]
    assert ((frame["side"] == 1) == (frame["p_up"] >= upper)).all()
    assert ((frame["side"] == -1) == (frame["p_up"] <= lower)).all()
    # a proposal never goes against the analyst's call
    assert (frame.filter(pl.col("side") == 1)["p_up"] > 0.5).all()
    assert (frame.filter(pl.col("side") == -1)["p_up"] < 0.5).all()
    test = frame.filter(pl.col("window") == "test")
    assert test.height > 0
    for column in OUTCOME_COLUMNS:
        assert test[column].null_count() == test.height, column
    labelled = frame.filter(pl.col("y").is_not_null())
    assert (labelled["t1_index"] >= labelled["bar_index"]).all()
    assert set(labelled["reason"].unique()) <= {"target", "stop", "time"}
    assert ((labelled["y"] == 1) == (labelled["ret"] > 0)).all()
    assert set(metrics) == {"data", "train", "validation"}


def test_thresholds_come_from_the_training_window_only(tiny_pipeline):
    catalog = tiny_pipeline.catalog
    _, metrics = build(catalog)
    shifted = catalog["analyst_ensemble"].with_columns(
        p_up=pl.when(pl.col("window") != "train").then(1 - pl.col("p_up"))
        .otherwise(pl.col("p_up")))
    _, again = build(catalog, ensemble=shifted)
    assert again["data"]["thresholds"] == metrics["data"]["thresholds"]


def test_features_are_known_at_the_decision_bars_close(tiny_pipeline):
    """Cutting the fine bars at an event's decision close leaves its features unchanged."""
    catalog = tiny_pipeline.catalog
    ensemble = catalog["analyst_ensemble"].filter(pl.col("p_up").is_not_null())
    full = tactician_features(ensemble, catalog["regimes"], catalog["bars_fine"],
                              base_ms=HOUR, fine_ms=MINUTE, flow_minutes=60)
    row = full.filter(pl.col("window") == "validation").row(5, named=True)
    cut_fine = catalog["bars_fine"].filter(  # nothing after the decision bar's close
        pl.col("timestamp") < row["timestamp"] + pl.duration(hours=1))
    cut = tactician_features(ensemble.filter(pl.col("bar_index") <= row["bar_index"]),
                             catalog["regimes"], cut_fine, base_ms=HOUR, fine_ms=MINUTE,
                             flow_minutes=60)
    again = cut.filter(pl.col("bar_index") == row["bar_index"]).row(0, named=True)
    for name in (c for c in full.columns if c.startswith("t_")):
        assert again[name] == pytest.approx(row[name], nan_ok=True), name


def test_too_few_proposals_is_a_data_error_naming_the_threshold(tiny_pipeline):
    with pytest.raises(InsufficientData) as info:
        build(tiny_pipeline.catalog, min_events=100_000)
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "labelled proposed trades" in message and "tactician.entry_quantile" in message


def test_candles_without_quote_volume_or_trades_give_null_not_infinite_features(tiny_pipeline):
    from ares_cli.ml.tactician.dataset import flow_features

    fine = tiny_pipeline.catalog["bars_fine"].with_columns(
        quote_volume=pl.lit(None, dtype=pl.Float64), trades=pl.lit(None, dtype=pl.Int64),
        taker_buy_volume=pl.lit(None, dtype=pl.Float64))
    flow = flow_features(fine, 60)
    for column in flow.columns[1:]:
        values = flow[column].drop_nulls().to_numpy()
        assert (values.size == 0) or bool(pl.Series(values).is_finite().all()), column
    for column in ("t_flow_vwap_distance", "t_flow_imbalance", "t_flow_intensity"):
        assert flow[column].null_count() == flow.height, column  # missing, not made up


def test_a_trade_reaching_into_a_later_window_is_purged_and_counted(tiny_pipeline):
    """Trades may outlast `labels.horizon` and the split gap: their outcome would be read from
    the next window's prices, so they are purged, never trained on."""
    catalog = tiny_pipeline.catalog
    frame, metrics = build(catalog, max_hold_bars=60, k_target=50.0, k_stop=50.0)
    ends = dict(catalog["splits"].group_by("window").agg(pl.col("bar_index").max()).iter_rows())
    for window in ("train", "validation"):
        rows = frame.filter(pl.col("window") == window)
        labelled = rows.filter(pl.col("y").is_not_null())
        assert labelled.height > 0
        assert (labelled["t1_index"] <= ends[window]).all(), window
        assert metrics[window]["purged"] == int(rows["purged"].sum()) > 0, window
        assert rows.filter(pl.col("purged"))["y"].null_count() == int(rows["purged"].sum())


def test_hourly_candles_as_the_fine_path_give_flow_features_not_a_library_error(tiny_pipeline):
    """Candles as coarse as the base bar are the fine path: 60 flow minutes hold one bar, under
    what a realised volatility needs; the window takes the floor of two bars instead of
    reaching polars' min_periods error."""
    from ares_cli.data.bars import resample_bars

    catalog = tiny_pipeline.catalog
    hourly = resample_bars(catalog["bars_fine"], HOUR)
    cfg = TacticianConfig(flow_minutes=60)
    frame, _ = build_tactician_dataset(
        catalog["analyst_ensemble"], catalog["bars"], hourly, catalog["regimes"],
        catalog["splits"], cfg, base_ms=HOUR, fine_ms=HOUR, cost_per_side=CostsConfig().per_side)
    vol = frame["t_flow_realised_vol"].drop_nulls()
    assert vol.len() > 0.9 * frame.height and bool(vol.is_finite().all())
