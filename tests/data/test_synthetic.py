"""The synthetic market: deterministic, well-formed, regime-switching or a plain random walk."""

from __future__ import annotations

import numpy as np
import polars as pl

from ares_cli.data.bars import bars_from_trades
from ares_cli.data.schema import TRADES_SCHEMA
from ares_cli.data.synthetic import REGIMES, generate


def test_same_seed_same_trades_and_schema():
    a = generate(seed=3, days=5, trades_per_day=2000)
    b = generate(seed=3, days=5, trades_per_day=2000)
    assert a.trades.equals(b.trades)
    assert a.trades.schema == pl.Schema(TRADES_SCHEMA)
    assert a.trades["timestamp"].is_sorted()
    assert a.trades["trade_id"].is_unique().all()
    assert (a.trades["price"] > 0).all() and (a.trades["qty"] > 0).all()
    assert not generate(seed=4, days=5, trades_per_day=2000).trades.equals(a.trades)


def test_scale_follows_config():
    m = generate(seed=1, days=10, trades_per_day=3000)
    assert abs(m.trades.height - 30_000) < 1500
    assert m.true_regimes.height == 240


def test_regimes_differ_in_volatility_and_drift():
    m = generate(seed=5, days=200, trades_per_day=2000)
    bars = bars_from_trades(m.trades, 3_600_000).join(m.true_regimes, on="timestamp")
    stats = bars.with_columns(r=pl.col("close").log().diff()).group_by("regime").agg(
        vol=pl.col("r").std(), drift=pl.col("r").mean(), trades=pl.col("trades").mean()
    )
    by = {row["regime"]: row for row in stats.iter_rows(named=True)}
    assert set(by) == set(REGIMES)
    assert by["VOLATILE"]["vol"] > 1.5 * by["SIDEWAYS"]["vol"]
    assert by["BULL"]["drift"] > 0 > by["BEAR"]["drift"]
    assert by["VOLATILE"]["trades"] > by["SIDEWAYS"]["trades"]  # arrivals rise with volatility


def test_regime_durations_persist():
    m = generate(seed=2, days=200, trades_per_day=500)
    labels = m.true_regimes["regime"].to_numpy()
    switches = int((labels[1:] != labels[:-1]).sum())
    assert len(labels) / max(switches, 1) > 24  # mean run length well above a day


def test_random_walk_has_no_regimes_and_constant_volatility():
    m = generate(seed=9, days=60, trades_per_day=3000, regimes=False)
    assert m.true_regimes is None
    bars = bars_from_trades(m.trades, 3_600_000)
    r = np.diff(np.log(bars["close"].to_numpy()))
    halves = np.array_split(r, 4)
    vols = [h.std() for h in halves]
    assert max(vols) / min(vols) < 1.35
    assert abs(r.mean()) < 3 * r.std() / np.sqrt(len(r))
