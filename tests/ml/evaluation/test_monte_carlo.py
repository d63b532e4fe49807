"""Step 14's assessment and step 15's comparison on returns with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.evaluation.ab_test import ABTestConfig, compare, describe, momentum_returns
from ares_cli.ml.evaluation.monte_carlo import MonteCarloConfig, assess, judge, min_trades_for
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
    m = assess(returns, trades, market, trial_returns=trials, looks=1, look_sharpes=[],
               bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    assert m["verdict"] == "no edge"
    lo, hi = m["sharpe_ci"]
    assert lo < m["sharpe"] < hi and m["sharpe_ci_level"] == 0.95
    for key in ("sharpe_ci", "max_drawdown_ci", "p_loss", "permutation_p", "psr", "dsr",
                "pbo", "looks", "min_trades", "verdict_reason"):
        assert key in m
    assert m["dsr"] == m["psr"]  # one look: the DSR over the looks is the PSR against 0
    assert describe_mc(m).startswith("no edge out of sample (1 look at these test bars): ")


def _timed_edge(seed: int = 4, lift: float | None = None) -> tuple[np.ndarray, dict, np.ndarray]:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, 2000)
    entries = np.arange(0, 2000, 20)
    if lift is None:
        market[entries] = np.abs(market[entries]) + 0.01  # every entry bar goes up
    else:
        market[entries] += lift  # a mild timing edge
    returns, trades = _record(market, entries, 1)
    return returns, trades, market


def test_trades_timed_on_the_up_moves_show_an_edge() -> None:
    returns, trades, market = _timed_edge()
    m = assess(returns, trades, market, trial_returns=np.zeros((2000, 5)), looks=1,
               look_sharpes=[], bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    assert m["permutation_p"] < 0.01 and m["sharpe_ci"][0] > 0
    assert m["verdict"] == "edge", m["verdict_reason"]


def test_looks_multiply_the_permutation_p_and_draw_enough_placements() -> None:
    """K looks at the same bars: the p is Bonferroni-adjusted (K·p) against alpha, with at
    least 20·K/alpha placements so a small adjusted p is reachable. (Mutation: ignoring the
    looks leaves p_adjusted equal to p and the verdict "edge".)"""
    returns, trades, market = _timed_edge(seed=6, lift=0.003)
    one = assess(returns, trades, market, trial_returns=np.zeros((2000, 5)), looks=1,
                 look_sharpes=[], bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    many = assess(returns, trades, market, trial_returns=np.zeros((2000, 5)), looks=10,
                  look_sharpes=[4.0, -1.0, 2.0, 6.0, 0.5, 1.0, 3.0, -2.0, 5.0],
                  bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=1)
    assert many["permutation_placements"] >= 20 * 10 / CFG.alpha
    assert many["permutation_p_adjusted"] == pytest.approx(min(1.0, 10 * many["permutation_p"]))
    assert 0.01 < one["permutation_p"] < CFG.alpha < many["permutation_p_adjusted"]
    assert one["verdict"] == "edge" and many["verdict"] == "no edge"
    assert "10 look(s)" in many["verdict_reason"]
    assert many["dsr"] < one["dsr"]  # the DSR over the looks is deflated by them


def test_judge_needs_both_the_adjusted_test_and_an_interval_above_zero() -> None:
    ok = dict(trades=30, needed=10, looks=1, alpha=0.05)
    assert judge(permutation_p=0.01, sharpe_low=0.3, **ok)[0] == "edge"
    assert judge(permutation_p=0.01, sharpe_low=-0.1, **ok)[0] == "no edge"
    assert judge(permutation_p=0.2, sharpe_low=0.3, **ok)[0] == "no edge"
    assert judge(permutation_p=0.01, sharpe_low=0.3, **{**ok, "looks": 5})[0] == "no edge"
    verdict, why = judge(permutation_p=0.01, sharpe_low=0.3, **{**ok, "trades": 4})
    assert verdict == "not tested" and "4 out-of-sample trade(s)" in why


def test_a_flat_record_is_not_tested_without_crashing() -> None:
    market = np.random.default_rng(0).normal(0, 0.01, 300)
    empty = {k: np.zeros(0) for k in ("entry", "duration", "side", "size", "equity_return")}
    m = assess(np.zeros(300), empty, market, trial_returns=np.zeros((300, 3)), looks=1,
               look_sharpes=[], bars_per_year=8760, cost_per_trade=0.0, cfg=CFG, seed=0)
    assert m["verdict"] == "not tested" and m["permutation_p"] is None and m["pbo"] is None
    assert m["psr"] is None and m["dsr"] is None and "no PSR or DSR" in m["note"]
    assert m["min_trades"] == min_trades_for(CFG, 300)
    assert describe_mc(m).startswith("not tested out of sample")


def test_a_much_better_challenger_is_promoted_and_noise_is_kept() -> None:
    rng = np.random.default_rng(5)
    champ = rng.normal(0, 0.01, 3000)
    cfg = ABTestConfig(n_boot=300)
    base = {"buy_and_hold": "baseline", "momentum": "baseline"}
    better = compare(champ + 0.002, {"buy_and_hold": champ}, kinds=base, bars_per_year=8760,
                     periods_per_day=24, cfg=cfg, seed=0, edge_verdict="edge")
    assert better["decision"] == "promote" and better["ci95"][0] > 0
    held = compare(champ + 0.002, {"buy_and_hold": champ}, kinds=base, bars_per_year=8760,
                   periods_per_day=24, cfg=cfg, seed=0, edge_verdict="no edge")
    assert held["decision"] == "keep" and "require_edge" in held["held_back"]
    assert better["shadow_days"] is not None and better["shadow_days"] > 0
    noise = compare(rng.normal(0, 0.01, 3000), {"buy_and_hold": champ, "momentum": champ * 0.5},
                    kinds=base, bars_per_year=8760, periods_per_day=24, cfg=cfg, seed=0)
    assert noise["decision"] == "keep"
    assert set(noise) >= {"decision", "strongest", "strongest_kind", "sharpe_diff", "ci95",
                          "p_value", "shadow_days"}
    assert describe(noise).startswith("keep the baselines: against the strongest baseline")
    with_champion = compare(rng.normal(0, 0.01, 3000), {"buy_and_hold": champ, "champion": champ},
                            kinds={"buy_and_hold": "baseline", "champion": "champion"},
                            bars_per_year=8760, periods_per_day=24, cfg=cfg, seed=0)
    assert with_champion["per_opponent"]["champion"]["kind"] == "champion"
    assert describe(with_champion).startswith("keep the champion")


def test_a_challenger_that_never_traded_is_kept_and_says_why() -> None:
    champ = np.random.default_rng(1).normal(0.001, 0.01, 500)
    m = compare(np.zeros(500), {"buy_and_hold": champ}, kinds={"buy_and_hold": "baseline"},
                bars_per_year=8760, periods_per_day=24, cfg=ABTestConfig(n_boot=200), seed=0)
    assert m["decision"] == "keep" and m["p_value"] is None
    assert "never traded" in m["per_opponent"]["buy_and_hold"]["note"]
    assert "no interval: no interval and no p: the challenger never traded" in describe(m)


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


def test_the_shadow_plan_is_the_longest_over_the_opponents_and_flat_ones_work() -> None:
    rng = np.random.default_rng(8)
    challenger = rng.normal(0.0008, 0.01, 4000)
    tight = challenger - 0.0004 + rng.normal(0, 0.002, 4000)  # tracks it: small variance
    loose = rng.normal(0.0, 0.01, 4000)
    m = compare(challenger, {"tight": tight, "loose": loose, "flat": np.zeros(4000)},
                kinds=dict.fromkeys(("tight", "loose", "flat"), "baseline"),
                bars_per_year=8760, periods_per_day=24, cfg=ABTestConfig(n_boot=200), seed=0)
    per = m["per_opponent"]
    assert "never traded" in per["flat"]["note"]
    days = {k: v["avar"] * 1 / v["diff_per_bar"] ** 2 for k, v in per.items()}
    assert m["shadow_days_against"] == max(days, key=days.get)
    assert m["shadow_days"] is not None and m["shadow_days"] > 0


def test_alpha_sets_the_interval_and_an_odd_pbo_split_count_is_made_even() -> None:
    rng = np.random.default_rng(2)
    champ = rng.normal(0, 0.01, 1000)
    m = compare(champ + 0.0005, {"buy_and_hold": champ}, kinds={"buy_and_hold": "baseline"},
                bars_per_year=8760, periods_per_day=24, cfg=ABTestConfig(n_boot=200, alpha=0.10),
                seed=0)
    assert m["confidence"] == pytest.approx(0.90)
    market = rng.normal(0, 0.01, 400)
    returns, trades = _record(market, np.arange(0, 390, 20), 3)
    out = assess(returns, trades, market, trial_returns=rng.normal(0, 0.01, (400, 6)),
                 looks=1, look_sharpes=[], bars_per_year=8760, cost_per_trade=0.0,
                 cfg=MonteCarloConfig(n_boot=100, n_perm=100, n_shuffle=100, pbo_splits=15),
                 seed=0)
    assert out["pbo_detail"]["splits"] == 14
