"""Step 14's assessment and step 15's comparison on returns with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.evaluation.ab_test import ABTestConfig, compare, describe, momentum_returns
from ares_cli.ml.evaluation.monte_carlo import MonteCarloConfig, assess
from ares_cli.ml.evaluation.monte_carlo import describe as describe_mc
from ares_cli.ml.trading.engine import Market

CFG = MonteCarloConfig(n_boot=200, n_perm=200, n_shuffle=200)


def _record(market: np.ndarray, entries: np.ndarray, duration: int) -> tuple[np.ndarray, dict]:
    """Per-bar returns of long trades held `duration` bars from each entry."""
    returns = np.zeros(market.size)
    for e in entries:
        returns[e:e + duration] = market[e:e + duration]
    trades = {"entry": entries, "duration": np.full(entries.size, duration),
              "side": np.ones(entries.size), "size": np.ones(entries.size),
              "equity_return": np.array([np.prod(1 + market[e:e + duration]) - 1
                                         for e in entries])}
    return returns, trades


def test_random_trades_on_a_random_walk_have_no_edge() -> None:
    rng = np.random.default_rng(3)
    market = rng.normal(0, 0.01, 2000)
    entries = np.sort(rng.choice(np.arange(0, 1990, 10), 60, replace=False))
    returns, trades = _record(market, entries, 5)
    trials = rng.normal(0, 0.01, (500, 40))
    m = assess(returns, trades, market, trial_returns=trials, n_trials=100,
               bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    assert m["verdict"] == "no edge"
    assert m["permutation_p"] >= 0.05 and m["dsr"] < 0.95
    lo, hi = m["sharpe_ci95"]
    assert lo < m["sharpe"] < hi
    for key in ("sharpe_ci95", "max_drawdown_ci95", "p_loss", "permutation_p", "psr", "dsr",
                "pbo", "trials"):
        assert key in m
    assert describe_mc(m).startswith("no edge out of sample: permutation p = ")


def test_trades_timed_on_the_up_moves_show_an_edge() -> None:
    rng = np.random.default_rng(4)
    market = rng.normal(0, 0.01, 2000)
    entries = np.arange(0, 2000, 20)
    market[entries] = np.abs(market[entries]) + 0.01  # every entry bar goes up
    returns, trades = _record(market, entries, 1)
    m = assess(returns, trades, market, trial_returns=rng.normal(0, 0.01, (500, 5)),
               n_trials=5, bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    assert m["permutation_p"] < 0.01
    assert m["dsr"] > 0.95 and m["verdict"] == "edge"


def test_a_flat_record_is_no_edge_without_crashing() -> None:
    market = np.random.default_rng(0).normal(0, 0.01, 300)
    empty = {k: np.zeros(0) for k in ("entry", "duration", "side", "size", "equity_return")}
    m = assess(np.zeros(300), empty, market, trial_returns=np.zeros((300, 3)), n_trials=10,
               bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=0)
    assert m["verdict"] == "no edge" and m["permutation_p"] == 1.0 and m["pbo"] is None
    assert m["psr"] == 0.5 and m["dsr"] <= 0.5


def test_a_much_better_challenger_is_promoted_and_noise_is_kept() -> None:
    rng = np.random.default_rng(5)
    champ = rng.normal(0, 0.01, 3000)
    cfg = ABTestConfig(n_boot=300)
    better = compare(champ + 0.002, {"buy_and_hold": champ}, bars_per_year=8760,
                     periods_per_day=24, cfg=cfg, seed=0, edge_verdict="edge")
    assert better["decision"] == "promote" and better["ci95"][0] > 0
    held = compare(champ + 0.002, {"buy_and_hold": champ}, bars_per_year=8760,
                   periods_per_day=24, cfg=cfg, seed=0, edge_verdict="no edge")
    assert held["decision"] == "keep" and "require_edge" in held["held_back"]
    assert better["shadow_days"] is not None and better["shadow_days"] > 0
    noise = compare(rng.normal(0, 0.01, 3000), {"buy_and_hold": champ, "momentum": champ * 0.5},
                    bars_per_year=8760, periods_per_day=24, cfg=cfg, seed=0)
    assert noise["decision"] == "keep"
    assert set(noise) >= {"decision", "champion", "sharpe_diff", "ci95", "p_value",
                          "shadow_days"}
    assert describe(noise).startswith("keep the champion")


def test_a_challenger_that_never_traded_keeps_the_champion() -> None:
    champ = np.random.default_rng(1).normal(0.001, 0.01, 500)
    m = compare(np.zeros(500), {"buy_and_hold": champ}, bars_per_year=8760, periods_per_day=24,
                cfg=ABTestConfig(n_boot=200), seed=0)
    assert m["decision"] == "keep" and m["p_value"] is None
    assert "never traded" in m["per_champion"]["buy_and_hold"]["note"]


def test_momentum_decides_on_closes_up_to_the_decision_bar() -> None:
    closes = np.array([100, 101, 102, 101, 100, 99, 100, 102, 104, 103], dtype=float)
    lookback = 2
    window = closes[lookback:]
    n = window.size
    t = np.arange(n, dtype=np.int64) * 3_600_000_000
    opens = closes[lookback - 1:-1]  # each bar opens at the previous close
    market = Market(t, opens.copy(), np.maximum(opens, window), np.minimum(opens, window),
                    window.copy(), np.arange(n, dtype=np.int64), t)
    r = momentum_returns(market, closes, lookback=lookback, fee=0.0, slippage=0.0,
                         bars_per_year=8760)
    # long from the bar after t when close[t] > close[t-2] (no costs, one fine bar per base
    # bar opening at the previous close): decided at bars 0, 5, 6, 7, so it earns bars 1, 6, 7
    side = (window > closes[:-lookback]).astype(int)
    assert side.tolist() == [1, 0, 0, 0, 0, 1, 1, 1]
    expected = np.zeros(n)
    for t in (1, 6, 7):  # held over bar t (entered at its open, the previous close)
        expected[t] = window[t] / window[t - 1] - 1
    np.testing.assert_allclose(r, expected, atol=1e-12)
    with pytest.raises(ValueError):
        momentum_returns(market, closes[:-1], lookback=lookback, fee=0.0, slippage=0.0,
                         bars_per_year=8760)


def test_trade_spans_leave_out_the_open_of_a_time_or_signal_exit() -> None:
    import polars as pl

    from ares_cli.steps.s14_monte_carlo import _trades

    table = pl.DataFrame({"entry_bar": [104, 110, 120], "exit_bar": [105, 112, 121],
                          "reason": ["time", "stop", "signal"], "side": [1, -1, 1],
                          "size": [1.0, 0.5, 1.0], "net_return": [0.01, -0.02, 0.0]})
    spans = _trades(table, first_bar=100, n_bars=30)
    # time exit at bar 105's open: held over bar 104 only; stop inside bar 112: bars 110-112;
    # signal exit at bar 121's open: bar 120 only (mutation: "+ 1" for every reason fails)
    assert spans["entry"].tolist() == [4, 10, 20]
    assert spans["duration"].tolist() == [1, 3, 1]
    assert spans["equity_return"].tolist() == [0.01, -0.01, 0.0]


def test_the_shadow_plan_is_the_longest_over_the_champions_and_flat_champions_work() -> None:
    rng = np.random.default_rng(8)
    challenger = rng.normal(0.0008, 0.01, 4000)
    tight = challenger - 0.0004 + rng.normal(0, 0.002, 4000)  # tracks it: small variance
    loose = rng.normal(0.0, 0.01, 4000)
    m = compare(challenger, {"tight": tight, "loose": loose, "flat": np.zeros(4000)},
                bars_per_year=8760, periods_per_day=24, cfg=ABTestConfig(n_boot=200), seed=0)
    per = m["per_champion"]
    assert "never traded" in per["flat"]["note"]
    days = {k: v["avar"] * 1 / v["diff_per_bar"] ** 2 for k, v in per.items()}
    assert m["shadow_days_against"] == max(days, key=days.get)
    assert m["shadow_days"] is not None and m["shadow_days"] > 0


def test_alpha_sets_the_interval_and_an_odd_pbo_split_count_is_made_even() -> None:
    rng = np.random.default_rng(2)
    champ = rng.normal(0, 0.01, 1000)
    m = compare(champ + 0.0005, {"buy_and_hold": champ}, bars_per_year=8760,
                periods_per_day=24, cfg=ABTestConfig(n_boot=200, alpha=0.10), seed=0)
    assert m["confidence"] == pytest.approx(0.90)
    market = rng.normal(0, 0.01, 400)
    returns, trades = _record(market, np.arange(0, 390, 20), 3)
    out = assess(returns, trades, market, trial_returns=rng.normal(0, 0.01, (400, 6)),
                 n_trials=6, bars_per_year=8760, cost_per_trade=0.0,
                 cfg=MonteCarloConfig(n_boot=100, n_perm=100, n_shuffle=100, pbo_splits=15),
                 seed=0)
    assert out["pbo_detail"]["splits"] == 14
