"""The sweep entry point equals `backtest` run once per combination, bit for bit.

`ares_cli.ml.trading.sweep` exists for speed (signals built in a kernel, the engine's loop called
per combination on a few threads); these tests pin that it changes nothing: same final equity, same
trade count, same equity curve as the plain public path, under several rule sets.
"""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.trading.engine import Market, Orders, Rules, backtest
from ares_cli.ml.trading.sweep import sma_crossover_side, sweep_sma_crossover

MIN_US = 60_000_000
T0 = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC


def random_market(n_base: int, per_base: int, seed: int, *, empty: tuple[int, ...] = ()) -> Market:
    """A seeded random walk: `per_base` fine bars in each base bar (none in those listed in
    `empty`), with small gaps at the opens so open and previous close differ."""
    rng = np.random.default_rng(seed)
    counts = np.full(n_base, per_base)
    counts[list(empty)] = 0
    n_fine = int(counts.sum())
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n_fine)))
    open_ = np.concatenate(([100.0], close[:-1])) * np.exp(rng.normal(0.0, 0.0005, n_fine))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.001, n_fine)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.001, n_fine)))
    first = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    fine_time = T0 + np.arange(n_fine, dtype=np.int64) * MIN_US
    base_time = T0 + np.arange(n_base, dtype=np.int64) * per_base * MIN_US
    return Market(fine_time, open_, high, low, close, first, base_time)


FAST = [2, 3, 5, 8, 5, 13, 20, 7, 400]
SLOW = [10, 21, 5, 30, 3, 60, 13, 7, 500]  # includes fast > slow, fast == slow, > n bars

RULE_SETS = [
    (Rules(fee=0.001, slippage=0.0005, exit_on_flat=True), {}),
    (Rules(fee=0.0, slippage=0.0, exit_on_flat=True), {}),
    (Rules(fee=0.0007, slippage=0.0002, max_hold=12, cooldown=3, entry_delay=1),
     {"stop": 0.01, "target": 0.02, "trail": 0.015, "size": 0.6}),
    (Rules(fee=0.001, slippage=0.001, exit_on_flat=True, cooldown=1),
     {"stop": 0.004, "trail": 0.003}),
]


@pytest.mark.parametrize(("rules", "orders"), RULE_SETS)
def test_every_combination_equals_backtest(rules: Rules, orders: dict) -> None:
    market = random_market(300, 4, seed=3)
    swept = sweep_sma_crossover(market, FAST, SLOW, rules, keep_curves=range(len(FAST)),
                                workers=2, **orders)
    closes = market.base_close()
    assert sorted(swept.curves) == list(range(len(FAST)))
    for k, (fast, slow) in enumerate(zip(FAST, SLOW, strict=True)):
        side = sma_crossover_side(closes, fast, slow)
        one = backtest(market, Orders.constant(side, **orders), rules, bars_per_year=8760.0)
        assert swept.final_equity[k] == one.equity[-1], (fast, slow)
        assert swept.n_trades[k] == one.n_trades, (fast, slow)
        np.testing.assert_array_equal(swept.curves[k], one.equity)
    assert swept.n_trades.max() > 5  # the combinations do trade
    np.testing.assert_array_equal(swept.total_return, swept.final_equity - 1.0)


def test_workers_do_not_change_results() -> None:
    market = random_market(400, 2, seed=5)
    rules = Rules(fee=0.001, slippage=0.0005, exit_on_flat=True)
    fast = np.repeat(np.arange(2, 12), 6)
    slow = np.tile(np.arange(15, 75, 10), 10)
    runs = [sweep_sma_crossover(market, fast, slow, rules, workers=w, keep_curves=[0, 59])
            for w in (1, 2, 3)]
    for other in runs[1:]:
        np.testing.assert_array_equal(other.final_equity, runs[0].final_equity)
        np.testing.assert_array_equal(other.n_trades, runs[0].n_trades)
        for k in (0, 59):
            np.testing.assert_array_equal(other.curves[k], runs[0].curves[k])


def test_explicit_close_for_base_bars_without_fine_bars() -> None:
    market = random_market(120, 3, seed=8, empty=(10, 11, 50))
    rules = Rules(fee=0.001, slippage=0.0005, exit_on_flat=True)
    with pytest.raises(ValueError, match="finite"):
        sweep_sma_crossover(market, [3], [9], rules)
    base = market.base_close()
    filled = base.copy()
    for t in np.flatnonzero(np.isnan(filled)):
        filled[t] = filled[t - 1]
    swept = sweep_sma_crossover(market, [3, 4], [9, 20], rules, close=filled, keep_curves=[1])
    for k, (fast, slow) in enumerate(((3, 9), (4, 20))):
        side = sma_crossover_side(filled, fast, slow)
        one = backtest(market, Orders.constant(side), rules, bars_per_year=8760.0)
        assert swept.final_equity[k] == one.equity[-1]
        assert swept.n_trades[k] == one.n_trades
    np.testing.assert_array_equal(swept.curves[1], one.equity)


def test_side_is_the_sma_crossover() -> None:
    rng = np.random.default_rng(11)
    close = 50.0 + np.cumsum(rng.normal(0.0, 1.0, 500))
    for fast, slow in ((3, 10), (10, 3), (7, 7), (1, 2), (30, 600)):
        side = sma_crossover_side(close, fast, slow)
        assert side.dtype == np.int64
        warm = min(max(fast, slow) - 1, close.size)
        assert (side[:warm] == 0).all()
        for t in range(warm, close.size):
            fast_ma = close[t + 1 - fast:t + 1].mean()
            slow_ma = close[t + 1 - slow:t + 1].mean()
            if abs(fast_ma - slow_ma) > 1e-9:  # away from ties, rounding cannot matter
                assert side[t] == int(fast_ma > slow_ma), (fast, slow, t)
    assert (sma_crossover_side(close, 7, 7) == 0).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"fast": [2, 3], "slow": [5]}, "same length"),
    ({"fast": [0], "slow": [5]}, ">= 1"),
    ({"fast": [2.5], "slow": [5]}, "integers"),
    ({"keep_curves": [3]}, "keep_curves"),
    ({"size": 1.5}, "size"),
    ({"size": float("nan")}, "size"),
    ({"stop": -0.1}, "stop"),
    ({"workers": 0}, "workers"),
    ({"close": np.ones(7)}, "one value per base bar"),
])
def test_rejects_bad_arguments(kwargs: dict, message: str) -> None:
    market = random_market(40, 2, seed=1)
    args = {"fast": [2], "slow": [5], **kwargs}
    with pytest.raises(ValueError, match=message):
        sweep_sma_crossover(market, args.pop("fast"), args.pop("slow"), Rules(), **args)


def test_nan_stop_means_none() -> None:
    market = random_market(200, 2, seed=4)
    rules = Rules(exit_on_flat=True)
    with_nan = sweep_sma_crossover(market, [3], [12], rules, stop=float("nan"))
    without = sweep_sma_crossover(market, [3], [12], rules)
    np.testing.assert_array_equal(with_nan.final_equity, without.final_equity)
