"""The synthetic market: deterministic, well-formed, regime-switching or a plain random walk."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

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


def _plain_trades(rng, counts, drift_m, vol_m, start_us, start_price):
    """The trade formulas written as plain expressions (the generator computes them in place
    to save memory): the two must agree bit for bit, or every stored market changes."""
    from ares_cli.data.synthetic import FLOW_LEAN, HALF_SPREAD, MINUTE_US, TICK

    n_trades = int(counts.sum())
    minute_of_trade = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    offsets = rng.integers(0, MINUTE_US, n_trades, dtype=np.int64)
    stamps = np.sort(minute_of_trade * MINUTE_US + offsets) + start_us
    minute_of_trade = (stamps - start_us) // MINUTE_US
    elapsed = np.diff(stamps, prepend=start_us).astype(np.float64) / MINUTE_US
    sigma = vol_m[minute_of_trade]
    increments = drift_m[minute_of_trade] * elapsed + sigma * np.sqrt(elapsed) * rng.normal(
        size=n_trades)
    log_mid = np.log(start_price) + np.cumsum(increments)
    z = increments / np.maximum(sigma * np.sqrt(np.maximum(elapsed, 1e-9)), 1e-12)
    taker_buys = rng.random(n_trades) < 0.5 + FLOW_LEAN * np.tanh(z)
    side = np.where(taker_buys, 1.0, -1.0)
    price = np.round(np.exp(log_mid) * (1.0 + HALF_SPREAD * side) / TICK) * TICK
    qty = np.round(np.maximum(rng.lognormal(-1.0, 1.2, n_trades), 1e-4), 4)
    return stamps, np.maximum(price, TICK), qty, ~taker_buys


def test_in_place_trade_formulas_equal_the_plain_ones_bit_for_bit():
    from ares_cli.data.synthetic import _draw, _trades

    rng = np.random.default_rng(3)
    n_minutes = 3 * 24 * 60
    counts = rng.poisson(np.linspace(0.5, 4.0, n_minutes))
    drift_m = rng.normal(0, 1e-5, n_minutes)
    vol_m = np.abs(rng.normal(1e-3, 3e-4, n_minutes))
    start_us = 1_704_067_200_000_000
    lean, last_stamp, last_log_mid = _trades(_draw(np.random.default_rng(11), counts), drift_m,
                                             vol_m, start_us, start_us, np.log(2000.0), 1)
    stamps, price, qty, maker = _plain_trades(np.random.default_rng(11), counts, drift_m, vol_m,
                                              start_us, 2000.0)
    assert np.array_equal(lean["timestamp"].dt.epoch("us").to_numpy(), stamps)
    assert np.array_equal(lean["price"].to_numpy(), price)  # exact, not approximately
    assert np.array_equal(lean["qty"].to_numpy(), qty)
    assert np.array_equal(lean["is_buyer_maker"].to_numpy(), maker)
    assert last_stamp == stamps[-1] and lean["trade_id"].to_list() == list(range(1, len(qty) + 1))
    # the carried log mid continues the path: the last print is that mid across the spread
    side = np.where(maker[-1], -1.0, 1.0)
    assert price[-1] == np.maximum(np.round(np.exp(last_log_mid) * (1 + 1e-4 * side) / 0.01)
                                   * 0.01, 0.01)


@pytest.mark.parametrize("n", [1, 511, 512, 513, 100_000])
def test_the_blocked_ar1_filter_is_scipys_lfilter(n):
    from scipy.signal import lfilter

    from ares_cli.data.synthetic import ar1

    shocks = np.random.default_rng(n).normal(0.0, 0.05, n)
    shocks[0] = 0.5
    expected = lfilter([1.0], [1.0, -0.995], shocks)
    assert np.allclose(ar1(shocks, 0.995), expected, rtol=0, atol=1e-12)
