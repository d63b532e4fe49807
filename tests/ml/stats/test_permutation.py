"""Trade-order shuffle and random-entry permutation test (`ares_cli.ml.stats.permutation`,
step 14): properties the reference README (shared/data/reference/stats) does not cover."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ares_cli.ml.stats.permutation import random_entry_pvalue, trade_shuffle_drawdowns
from ares_cli.ml.stats.resampling import max_drawdown
from ares_cli.ml.stats.sharpe_ratios import sharpe

# --- trade shuffle --------------------------------------------------------------------------

def test_trade_shuffle_covers_the_possible_orders():
    trades = np.array([0.1, -0.2, -0.1])
    res = trade_shuffle_drawdowns(trades, 3000, seed=2)
    possible = {round(float(max_drawdown(np.array(p))), 12)
                for p in itertools.permutations(trades)}
    seen = {round(float(d), 12) for d in res.drawdowns}
    assert seen == possible
    assert res.observed == pytest.approx(max_drawdown(trades))
    assert res.prob_worse == np.mean(res.drawdowns >= res.observed)
    # order (-0.2, -0.1, 0.1) and (-0.1, -0.2, 0.1), etc.: the share of each order is ~1/6
    counts = np.unique(np.round(res.drawdowns, 12), return_counts=True)[1] / 3000
    assert counts.min() > 0.1
    assert (trade_shuffle_drawdowns(np.full(20, 0.01), 50, 0).drawdowns == 0).all()
    np.testing.assert_array_equal(trade_shuffle_drawdowns(trades, 40, 9).drawdowns,
                                  trade_shuffle_drawdowns(trades, 40, 9).drawdowns)


# --- random entries -------------------------------------------------------------------------

def test_random_entries_preserve_trades_and_randomise_their_times():
    t_bars = 40
    market = np.full(t_bars, 0.01)
    entries, durations = np.array([3, 10, 30]), np.array([4, 2, 5])
    sizes = np.array([1.0, 2.0, 3.0])
    starts = []

    def inspect(x):  # rows of per-bar strategy returns: check each placement
        for row in x:
            held = np.flatnonzero(row)
            assert held.size == durations.sum()
            for size, d in zip(sizes, durations, strict=True):
                bars = np.flatnonzero(np.isclose(row, 0.01 * size))
                assert bars.size == d and np.all(np.diff(bars) == 1)
            starts.append(held[0])
        return x.sum(axis=1)

    res = random_entry_pvalue(market, entries, durations, sizes=sizes, statistic=inspect,
                              n_perm=300, seed=1)
    assert res.null.shape == (300,)
    assert res.observed == pytest.approx(0.01 * (sizes * durations).sum())
    assert len(set(starts[1:])) > 10  # entries move

    def gaps(x):
        for row in x:
            spans = sorted((bars[0], bars[-1]) for bars in
                           (np.flatnonzero(np.isclose(row, 0.01 * size)) for size in sizes))
            assert all(nxt[0] - prev[1] - 1 >= 3 for prev, nxt in itertools.pairwise(spans))
        return x.sum(axis=1)

    random_entry_pvalue(market, entries, durations, sizes=sizes, statistic=gaps,
                        n_perm=200, seed=2, min_gap=3)


def test_random_entries_are_uniform_over_placements():
    # two trades (2 bars, 1 bar) in 6 bars: 2 orders x C(3 + 2, 2) gaps = 20 placements
    market = np.zeros(6)
    market[:] = [1, 2, 4, 8, 16, 32]
    seen = []

    def code(x):
        seen.extend((*np.flatnonzero(row), int(row[np.flatnonzero(row)[0]] > 0))
                    for row in x)
        return np.zeros(x.shape[0])

    random_entry_pvalue(market * 1e-3, [0, 3], [2, 1], sides=[1, -1], statistic=code,
                        n_perm=4000, seed=3)
    placements, counts = np.unique(np.array(seen[1:]), axis=0, return_counts=True)
    assert len(placements) == 20
    assert counts.min() > 0.6 * 200 and counts.max() < 1.4 * 200


def test_random_entry_pvalue_detects_timing_skill_and_not_luck():
    rng = np.random.default_rng(5)
    market = rng.normal(0.0, 0.01, 3000)
    jumps = np.sort(rng.choice(np.arange(0, 3000, 10), 30, replace=False))
    market[jumps] += 0.03
    skilled = random_entry_pvalue(market, jumps, np.full(30, 3), n_perm=500, seed=1)
    assert skilled.p_value == pytest.approx(1 / 501)
    p_values = []
    for seed in range(40):  # entries drawn from the null: uniform non-overlapping placements
        slots = np.sort(np.random.default_rng(seed).choice(3000 - 90 + 30, 30, replace=False))
        entries = slots + 2 * np.arange(30)
        p_values.append(random_entry_pvalue(market, entries, np.full(30, 3),
                                            statistic="sharpe", n_perm=200,
                                            seed=seed).p_value)
    assert 0.3 < np.mean(p_values) < 0.7
    assert np.mean(np.array(p_values) <= 0.05) <= 0.25


def test_random_entry_observed_from_strategy_returns_and_costs():
    rng = np.random.default_rng(8)
    market = rng.normal(0.0, 0.01, 200)
    entries, durations, sides = [5, 50, 120], [10, 20, 5], [1, -1, 1]
    per_bar = np.zeros(200)
    for e, d, s in zip(entries, durations, sides, strict=True):
        per_bar[e:e + d] = s * 0.5 * market[e:e + d]
        per_bar[e] -= 0.001
    rebuilt = random_entry_pvalue(market, entries, durations, sides, sizes=0.5,
                                  cost_per_trade=0.001, n_perm=50, seed=4)
    given = random_entry_pvalue(market, entries, durations, sides, sizes=[0.5] * 3,
                                cost_per_trade=0.001, strategy_returns=per_bar,
                                n_perm=50, seed=4)
    assert rebuilt.observed == pytest.approx(np.log1p(per_bar).sum())
    assert given.observed == pytest.approx(rebuilt.observed)
    np.testing.assert_array_equal(rebuilt.null, given.null)
    fast = random_entry_pvalue(market, entries, durations, sides, statistic="sharpe",
                               n_perm=50, seed=4)
    slow = random_entry_pvalue(market, entries, durations, sides, n_perm=50, seed=4,
                               statistic=lambda x: np.asarray(sharpe(x, axis=1)))
    np.testing.assert_allclose(fast.null, slow.null, rtol=1e-10)
    with pytest.raises(ValueError, match="overlap"):
        random_entry_pvalue(market, [5, 10], [10, 3])
