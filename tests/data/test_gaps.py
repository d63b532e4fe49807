"""Holes in the data: missing trade ids, outages against quiet markets, the synthetic outage
knob as ground truth, and the real BTC hourly history's 28 outages."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from ares_cli.data.bars import bars_from_trades, market_bars
from ares_cli.data.gaps import bar_gaps, gaps_between, gaps_in, missing_trade_ids
from ares_cli.data.synthetic import generate
from tests.conftest import shared_file

HOUR_MS = 3_600_000


def _ids(trades: pl.DataFrame) -> pl.DataFrame:
    """Per hourly bar with trades, its first and last trade id (what step 2 passes)."""
    return market_bars(trades, None, HOUR_MS, 60_000).trade_ids


def test_missing_trade_ids_count_holes_ids_and_the_longest():
    market = generate(seed=3, days=2, trades_per_day=2000, regimes=False)
    trades = market.trades
    ids = trades["trade_id"]
    lost = (ids >= ids[100]) & (ids < ids[130]) | (ids == ids[500])
    holes = missing_trade_ids(trades.filter(~lost))
    assert holes["holes"] == 2 and holes["ids"] == 31 and holes["longest_hole_ids"] == 30
    assert holes["share"] == pytest.approx(31 / trades.height)
    expected = (trades["timestamp"][130] - trades["timestamp"][99]).total_seconds()
    assert holes["longest_hole_seconds"] == pytest.approx(expected)
    assert missing_trade_ids(trades) == {"holes": 0, "ids": 0, "share": 0.0,
                                         "longest_hole_ids": 0}


def test_outages_of_the_synthetic_market_are_found_and_a_quiet_market_is_not_a_gap():
    market = generate(seed=5, days=30, trades_per_day=3000, outages=3)
    trades = market.trades
    assert len(market.outages) == 3
    base = bars_from_trades(trades, HOUR_MS)
    gap, facts = bar_gaps(base, _ids(trades), base_ms=HOUR_MS, max_gap=1)
    assert facts["gaps"] == len({a for a, _ in market.outages}) == 3
    times = base["timestamp"]
    for start, end in market.outages:  # every hour wholly inside an outage is a gap bar
        inside = (times >= start) & (times + timedelta(hours=1) <= end)
        assert gap[inside.to_numpy()].all()
    assert facts["gap_bars"] == int(gap.sum()) and facts["longest_gap"]["bars"] >= 1
    # the same empty hours with the ids running on across them: a quiet market, no gap
    renumbered = trades.with_columns(trade_id=pl.int_range(0, trades.height, dtype=pl.Int64))
    quiet, facts = bar_gaps(base, _ids(renumbered), base_ms=HOUR_MS, max_gap=1)
    assert not quiet.any() and facts["gaps"] == 0 and facts["quiet_stretches"] == 3
    assert missing_trade_ids(trades)["holes"] == 3


def test_max_gap_sets_the_shortest_gap():
    market = generate(seed=5, days=30, trades_per_day=3000, outages=3)
    base = bars_from_trades(market.trades, HOUR_MS)
    lengths = [(b - a) // timedelta(hours=1) for a, b in market.outages]
    _, facts = bar_gaps(base, _ids(market.trades), base_ms=HOUR_MS,
                        max_gap=max(lengths) + 2)
    assert facts["gaps"] == 0 and facts["longest_gap"] is None


def test_spans_and_windows_count_the_gap_bars_they_hold():
    gap = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0], dtype=bool)
    assert gaps_between(gap, np.array([0, 0, 4, 5, 7]), np.array([1, 2, 6, 8, 7])).tolist() == [
        False, True, False, True, True]
    assert gaps_in(gap, 0, 9) == {"gaps": 2, "gap_bars": 3}
    assert gaps_in(gap, 3, 7) == {"gaps": 1, "gap_bars": 1}


def test_the_real_hourly_btc_history_holds_its_28_outages():
    path = shared_file("real/long/binance_BTC_USDT_1h_20170817-20240421.feather")
    frame = pl.read_ipc(path).select(
        timestamp=pl.col("date").dt.cast_time_unit("us"), open="open", high="high", low="low",
        close="close", volume="volume", quote_volume=pl.lit(None, pl.Float64),
        trades=pl.lit(None, pl.Int64), taker_buy_volume=pl.lit(None, pl.Float64),
        vwap=pl.lit(None, pl.Float64), filled=pl.lit(False))
    base, _, _, _ = market_bars(None, frame, HOUR_MS, 60_000)
    _, facts = bar_gaps(base, None, base_ms=HOUR_MS, max_gap=1)
    assert facts["gaps"] == 28 and facts["gap_bars"] == 128 == int(base["filled"].sum())
    assert facts["longest_gap"]["bars"] == 33
    assert facts["longest_gap"]["start"].startswith("2018-02-08T01:00")
