"""Validation statistics (steps 14 and 15) against the worked examples of
shared/data/reference/stats/README.md (section numbers below are that README's), plus the
properties the README does not cover: bootstrap, trade shuffle, random entries, shadow days."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ares_cli.ml.models import calibration
from ares_cli.ml.models.calibration import ece
from ares_cli.ml.stats import validation as stats
from ares_cli.ml.stats.bootstrap import optimal_block_length
from tests.conftest import SHARED_DATA

REFERENCE = SHARED_DATA / "reference" / "stats"


def reference(name: str) -> np.ndarray:
    """A CSV of the reference folder (header row skipped); skip the test when it is absent."""
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference data not found: {path}")
    return np.loadtxt(path, delimiter=",", skiprows=1)


# --- §1 PSR ---------------------------------------------------------------------------------

SR_DAILY = 2.5 / math.sqrt(250)


@pytest.mark.parametrize(("sr", "sr_star", "n", "skew", "kurt", "psr"), [
    (1.14, 1.0, 250, 0, 3, 0.9572779),                       # 1a mlfinlab
    (1.59 / math.sqrt(12), 0.0, 24, 0, 3, 0.9818585),        # 1b paper
    (SR_DAILY, 0.11317200, 1250, -3, 10, 0.9003968),         # 1c = the DSR of §2.2
    (SR_DAILY, 0.0, 1250, -3, 10, 0.99999686),               # 1d
    (SR_DAILY, 0.0, 1250, 0, 3, 0.99999999),                 # 1e
])
def test_psr_examples(sr, sr_star, n, skew, kurt, psr):
    assert stats.probabilistic_sharpe(sr, sr_star, n, skew, kurt) == pytest.approx(psr, abs=1e-7)


def test_psr_uses_the_observed_sr_in_the_denominator_and_broadcasts():
    # the pitfall "1 - skew·SR* + ..." would give a different value for 1c
    out = stats.probabilistic_sharpe(np.array([SR_DAILY, SR_DAILY]), 0.11317200, 1250,
                                     np.array([-3.0, 0.0]), np.array([10.0, 3.0]))
    assert out.shape == (2,)
    assert out[0] == pytest.approx(0.9003968, abs=1e-7)
    assert out[1] > out[0]  # normal moments: a narrower SR distribution


def test_sharpe_moments_and_psr_from_returns():
    # a Bernoulli(1/4) sample: skew 2/sqrt(3), raw kurtosis 7/3 (population moments)
    bern = stats.sharpe_moments([0.0, 0.0, 0.0, 1.0])
    assert (bern.n, bern.skew, bern.kurt) == (4, pytest.approx(2 / math.sqrt(3)),
                                              pytest.approx(7 / 3))
    assert bern.sr == pytest.approx(0.25 / math.sqrt(0.25))
    x = np.random.default_rng(7).standard_t(5, 500) * 0.01 + 0.001
    m = stats.sharpe_moments(x)
    assert m.sr == pytest.approx(x.mean() / x.std(ddof=1))
    assert stats.psr_from_returns(x, 0.02) == pytest.approx(
        stats.probabilistic_sharpe(m.sr, 0.02, 500, m.skew, m.kurt))
    assert stats.annualise(m.sr, 8760) == pytest.approx(m.sr * math.sqrt(8760))
    assert math.isnan(stats.sharpe(np.ones(5)))


# --- §2 expected maximum, DSR, MinBTL -------------------------------------------------------

@pytest.mark.parametrize(("n", "approx", "exact"), [
    (2, 0.5197553, 0.5641896), (3, 0.8528045, 0.8462844), (10, 1.5745983, 1.5387527),
    (46, 2.2441708, 2.2163952), (88, 2.4852948, 2.4615569), (100, 2.5306029, 2.5075936),
    (1000, 3.2551215, 3.2414358),
])
def test_expected_max_z(n, approx, exact):
    assert stats.expected_max_z(n) == pytest.approx(approx, abs=1e-7)
    assert stats.expected_max_z(n, exact=True) == pytest.approx(exact, abs=1e-7)


def test_dsr_paper_example():
    var = 0.5 / 250
    sr0 = stats.expected_max_sharpe(100, var)
    assert sr0 == pytest.approx(0.11317200, abs=1e-8)
    assert stats.annualise(sr0, 250) == pytest.approx(1.78940647, abs=1e-8)
    assert stats.deflated_sharpe(SR_DAILY, 1250, -3, 10, n_trials=100, var_trial_srs=var) == (
        pytest.approx(0.90039683, abs=1e-8))
    # variations: N = 46 (paper moments), N = 88 and N = 100 with normal moments
    assert stats.expected_max_sharpe(46, var) == pytest.approx(0.10036237, abs=1e-8)
    assert stats.deflated_sharpe(SR_DAILY, 1250, -3, 10, n_trials=46, var_trial_srs=var) == (
        pytest.approx(0.95050171, abs=1e-8))
    assert stats.expected_max_sharpe(88, var) == pytest.approx(0.11114576, abs=1e-8)
    assert stats.deflated_sharpe(SR_DAILY, 1250, n_trials=88, var_trial_srs=var) == (
        pytest.approx(0.95049082, abs=1e-8))
    assert stats.deflated_sharpe(SR_DAILY, 1250, n_trials=100, var_trial_srs=var) == (
        pytest.approx(0.94277059, abs=1e-8))


@pytest.mark.parametrize(("skew", "kurt", "largest"), [(-3, 10, 46), (0, 3, 88)])
def test_dsr_largest_number_of_trials_still_significant(skew, kurt, largest):
    dsr = [stats.deflated_sharpe(SR_DAILY, 1250, skew, kurt, n_trials=n, var_trial_srs=0.5 / 250)
           for n in range(2, 200)]
    assert max(n for n, d in zip(range(2, 200), dsr, strict=True) if d >= 0.95) == largest


def test_dsr_mlfinlab_vector_uses_ddof0():
    trials = [3.5, 1.01, 1.02]
    assert np.std(trials) == pytest.approx(1.17144735, abs=1e-8)
    assert stats.expected_max_sharpe(3, np.var(trials)) == pytest.approx(0.99901557, abs=1e-8)
    assert stats.deflated_sharpe(1.14, 250, trial_srs=trials, ddof=0) == (
        pytest.approx(0.9583658, abs=1e-7))
    # the default ddof=1 spreads the trials more, so SR0 is higher and the DSR lower
    assert stats.deflated_sharpe(1.14, 250, trial_srs=trials) < 0.9583658
    with pytest.raises(ValueError):
        stats.deflated_sharpe(1.14, 250, trial_srs=trials, n_trials=3, var_trial_srs=1.0)


def test_dsr_from_returns_is_dsr_of_the_moments():
    x = np.random.default_rng(3).normal(0.002, 0.01, 800)
    trials = np.random.default_rng(4).normal(0.0, 0.03, 50)
    m = stats.sharpe_moments(x)
    assert stats.deflated_sharpe_from_returns(x, trial_srs=trials) == pytest.approx(
        stats.deflated_sharpe(m.sr, m.n, m.skew, m.kurt, trial_srs=trials))
    assert stats.expected_max_sharpe(1, 0.5) == 0.0


def test_min_backtest_length():
    assert stats.expected_max_z(45) == pytest.approx(2.23564018, abs=1e-8)
    assert stats.min_backtest_length(45) == pytest.approx(4.998, abs=5e-4)
    assert stats.min_backtest_length(45, bound=True) == pytest.approx(7.613, abs=5e-4)
    assert stats.expected_max_z(7) == pytest.approx(1.38677446, abs=1e-8)
    assert stats.min_backtest_length(7, 1.0) == pytest.approx(1.923, abs=5e-4)


# --- §3 MinTRL ------------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "skew", "kurt", "obs", "years"), [
    (252, 0, 3, 688.208037, 2.731), (52, 0, 3, 147.099347, 2.829),
    (12, 0, 3, 38.877608, 3.240), (12, -0.72, 5.78, 59.895099, 4.991),
])
def test_min_track_record_length_paper(q, skew, kurt, obs, years):
    sr, sr_star = 2 / math.sqrt(q), 1 / math.sqrt(q)
    trl = stats.min_track_record_length(sr, sr_star, skew, kurt)
    assert trl == pytest.approx(obs, abs=1e-6)
    assert trl / q == pytest.approx(years, abs=5e-4)
    # identity: PSR(SR*) at T = MinTRL is exactly 1 - alpha
    assert stats.probabilistic_sharpe(sr, sr_star, trl, skew, kurt) == pytest.approx(0.95, 1e-12)


def test_min_track_record_length_mlfinlab():
    trl = stats.min_track_record_length(1.14, 1.0, 0, 3, alpha=0.05)
    assert trl == pytest.approx(228.734979, abs=1e-6)
    assert stats.probabilistic_sharpe(1.14, 1.0, trl) == pytest.approx(0.95, abs=1e-12)
    assert stats.min_track_record_length(1.0, 1.0) == math.inf


# --- §4 PBO / CSCV --------------------------------------------------------------------------

def test_pbo_tiny_hand_example():
    m = reference("pbo_tiny_T8_N4.csv")
    ln4, ln1_5 = math.log(4), math.log(1.5)
    paper = stats.pbo_cscv(m, 4, "mean")
    assert paper.pbo == 0.5
    np.testing.assert_allclose(paper.logits, [ln4, -ln4, -ln1_5, -ln4, ln1_5, ln4], atol=1e-12)
    assert paper.best.tolist() == [2, 1, 2, 3, 2, 2]  # C B C D C C
    np.testing.assert_allclose(paper.is_perf, [3, 5, 5, 4, 3, 4])
    np.testing.assert_allclose(paper.oos_perf, [4, 0.5, 2, 0.5, 4, 3])
    r_pbo = stats.pbo_cscv(m, 4, "mean", rank_denominator="N")
    assert r_pbo.pbo == 0.5
    ln3 = math.log(3)
    np.testing.assert_allclose(r_pbo.logits, [np.inf, -ln3, 0, -ln3, ln3, np.inf], atol=1e-12)
    # a metric function evaluated split by split gives the same answer
    assert stats.pbo_cscv(m, 4, lambda x: x.mean(axis=0)).logits.tolist() == (
        paper.logits.tolist())


@pytest.fixture(scope="module")
def noise():
    return reference("pbo_noise_T960_N10.csv")


# matrix, S, PBO (N+1), PBO (rank/N), share n* = s0, prob_oos_loss, degradation slope
PBO_TABLE = [
    ("noise", 8, 0.514285714, 0.514285714, 0.157, 0.628571, -0.2542),
    ("noise", 16, 0.381973582, 0.381973582, 0.113, 0.481507, -0.2603),
    ("edge", 8, 0.028571429, 0.028571429, 0.971, 0.028571, -0.8201),
    ("edge", 16, 0.008158508, 0.008158508, 0.990, 0.008858, -0.8943),
    ("odd", 8, 0.5, 0.314285714, None, 0.571429, None),
    ("odd", 16, 0.376767677, 0.291142191, None, 0.444367, None),
]


@pytest.mark.parametrize(("which", "s", "pbo", "pbo_n", "share", "loss", "slope"), PBO_TABLE)
def test_pbo_seeded_noise_table(noise, which, s, pbo, pbo_n, share, loss, slope):
    m = noise.copy()
    if which == "edge":
        m[:, 0] += 0.0015
        assert stats.sharpe(m[:, 0]) == pytest.approx(0.16317217, abs=1e-8)
    elif which == "odd":
        m = m[:, :9]
    res = stats.pbo_cscv(m, s)
    assert res.logits.size == math.comb(s, s // 2)
    assert res.pbo == pytest.approx(pbo, abs=1e-9)
    assert stats.pbo_cscv(m, s, rank_denominator="N").pbo == pytest.approx(pbo_n, abs=1e-9)
    assert res.prob_oos_loss == pytest.approx(loss, abs=1e-6)
    if share is not None:
        assert res.best_share[0] == pytest.approx(share, abs=5e-4)
        assert res.degradation_slope == pytest.approx(slope, abs=5e-5)


def test_pbo_metric_function_matches_the_block_formula(noise):
    fast = stats.pbo_cscv(noise, 8)
    slow = stats.pbo_cscv(noise, 8, lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1))
    assert slow.logits.tolist() == fast.logits.tolist()
    np.testing.assert_allclose(slow.oos_perf, fast.oos_perf, rtol=1e-12)


def test_pbo_drops_the_first_rows_when_t_is_not_divisible(noise):
    padded = np.vstack([np.full((3, 10), 5.0), noise])
    res = stats.pbo_cscv(padded, 8)
    assert res.rows_dropped == 3
    assert res.logits.tolist() == stats.pbo_cscv(noise, 8).logits.tolist()


def test_pbo_over_seeds_is_about_one_half_for_noise_and_low_with_an_edge():
    noise_pbo, edge_pbo = [], []
    for seed in range(200):
        m = np.random.default_rng(seed).normal(0.0, 0.01, (960, 10))
        noise_pbo.append(stats.pbo_cscv(m, 8).pbo)
        m[:, 0] += 0.0015
        edge_pbo.append(stats.pbo_cscv(m, 8).pbo)
    assert np.mean(noise_pbo) == pytest.approx(0.5039, abs=5e-5)  # §4.4: 0.5039 (sd 0.2405)
    assert np.std(noise_pbo, ddof=1) == pytest.approx(0.2405, abs=5e-5)
    assert np.mean(edge_pbo) == pytest.approx(0.0386, abs=5e-5)
    assert max(edge_pbo) == pytest.approx(0.457, abs=5e-4)


# --- stationary bootstrap, drawdown, final return -------------------------------------------

def test_drawdown_and_final_return_by_hand():
    assert stats.max_drawdown([0.1, -0.5, 0.2]) == pytest.approx(0.5)
    assert stats.final_return([0.1, -0.5, 0.2]) == pytest.approx(1.1 * 0.5 * 1.2 - 1)
    assert stats.max_drawdown([-0.2, 0.1]) == pytest.approx(0.2)  # from the starting equity
    assert stats.max_drawdown([0.1, -1.0, 0.3]) == 1.0  # ruin
    assert stats.max_drawdown(np.log([1.1, 0.5, 1.2]), kind="log") == pytest.approx(0.5)
    rows = stats.max_drawdown(np.array([[0.1, -0.5], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [0.5, 0.0])


def test_stationary_indices_are_circular_runs_of_geometric_length():
    rng = np.random.default_rng(0)
    idx, new = stats.stationary_block_indices(500, 400, 8.0, rng)
    assert idx.shape == new.shape == (400, 500)
    assert new[:, 0].all()
    assert idx.min() >= 0 and idx.max() < 500
    cont = (np.diff(idx, axis=1) % 500) == 1
    assert cont[~new[:, 1:]].all()  # within a block, consecutive rows (wrapping)
    assert 500 / new.sum(axis=1).mean() == pytest.approx(8.0, rel=0.05)
    assert np.bincount(idx.ravel(), minlength=500).min() > 0.8 * 400


def test_bootstrap_ci_is_seeded_and_sensible():
    rng = np.random.default_rng(11)
    x = rng.normal(0.001, 0.01, 1500)
    res = stats.stationary_bootstrap_ci(x, n_boot=600, seed=5, periods_per_year=8760,
                                        ruin_levels=(0.05, 0.2, 0.9))
    again = stats.stationary_bootstrap_ci(x, n_boot=600, seed=5, periods_per_year=8760,
                                          ruin_levels=(0.05, 0.2, 0.9))
    assert res.interval == again.interval
    assert res.observed["sharpe"] == pytest.approx(stats.sharpe(x) * math.sqrt(8760))
    assert res.observed["max_drawdown"] == pytest.approx(stats.max_drawdown(x))
    assert res.observed["final_return"] == pytest.approx(stats.final_return(x))
    for key, (lo, hi) in res.interval.items():
        assert lo <= res.observed[key] <= hi, key
    assert res.replicates["sharpe"].shape == (600,)
    assert res.prob_loss == np.mean(res.replicates["final_return"] < 0)
    assert res.prob_loss < 0.1  # drift 0.1 per period over 1500 periods
    ruin = [res.risk_of_ruin[level] for level in (0.05, 0.2, 0.9)]
    assert ruin == sorted(ruin, reverse=True) and ruin[-1] == 0.0
    assert res.block == pytest.approx(stats.default_block_length(x))
    extra = stats.stationary_bootstrap_ci(x, n_boot=50, seed=1, block=3.0,
                                          stats={"mean": lambda r: r.mean(axis=1)})
    assert extra.observed["mean"] == pytest.approx(x.mean())
    losing = stats.stationary_bootstrap_ci(-x, n_boot=200, seed=1, block=3.0)
    assert losing.prob_loss > 0.9


def test_bootstrap_sharpe_interval_covers_the_true_sharpe():
    hits = 0
    for seed in range(60):
        x = np.random.default_rng(1000 + seed).normal(0.0005, 0.01, 300)  # true SR 0.05
        lo, hi = stats.stationary_bootstrap_ci(x, n_boot=300, seed=seed,
                                               block=1.0).interval["sharpe"]
        hits += lo <= 0.05 <= hi
    assert hits >= 51  # 95 % nominal; 60 data sets


def test_default_block_length_follows_politis_white():
    ar = reference("blocklen_ar1_n1000.csv")[:, 1]
    stationary = stats.default_block_length(ar)
    assert stationary >= optimal_block_length(ar)[0] == pytest.approx(8.964077, abs=1e-6)
    circular = stats.stationary_bootstrap_ci(ar * 0.001, n_boot=20, method="circular")
    assert circular.block >= optimal_block_length(ar * 0.001)[1]


# --- trade shuffle --------------------------------------------------------------------------

def test_trade_shuffle_covers_the_possible_orders():
    trades = np.array([0.1, -0.2, -0.1])
    res = stats.trade_shuffle_drawdowns(trades, 3000, seed=2)
    possible = {round(float(stats.max_drawdown(np.array(p))), 12)
                for p in itertools.permutations(trades)}
    seen = {round(float(d), 12) for d in res.drawdowns}
    assert seen == possible
    assert res.observed == pytest.approx(stats.max_drawdown(trades))
    assert res.prob_worse == np.mean(res.drawdowns >= res.observed)
    # order (-0.2, -0.1, 0.1) and (-0.1, -0.2, 0.1), etc.: the share of each order is ~1/6
    counts = np.unique(np.round(res.drawdowns, 12), return_counts=True)[1] / 3000
    assert counts.min() > 0.1
    assert (stats.trade_shuffle_drawdowns(np.full(20, 0.01), 50, 0).drawdowns == 0).all()
    np.testing.assert_array_equal(stats.trade_shuffle_drawdowns(trades, 40, 9).drawdowns,
                                  stats.trade_shuffle_drawdowns(trades, 40, 9).drawdowns)


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

    res = stats.random_entry_pvalue(market, entries, durations, sizes=sizes, statistic=inspect,
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

    stats.random_entry_pvalue(market, entries, durations, sizes=sizes, statistic=gaps,
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

    stats.random_entry_pvalue(market * 1e-3, [0, 3], [2, 1], sides=[1, -1], statistic=code,
                              n_perm=4000, seed=3)
    placements, counts = np.unique(np.array(seen[1:]), axis=0, return_counts=True)
    assert len(placements) == 20
    assert counts.min() > 0.6 * 200 and counts.max() < 1.4 * 200


def test_random_entry_pvalue_detects_timing_skill_and_not_luck():
    rng = np.random.default_rng(5)
    market = rng.normal(0.0, 0.01, 3000)
    jumps = np.sort(rng.choice(np.arange(0, 3000, 10), 30, replace=False))
    market[jumps] += 0.03
    skilled = stats.random_entry_pvalue(market, jumps, np.full(30, 3), n_perm=500, seed=1)
    assert skilled.p_value == pytest.approx(1 / 501)
    p_values = []
    for seed in range(40):  # entries drawn from the null: uniform non-overlapping placements
        slots = np.sort(np.random.default_rng(seed).choice(3000 - 90 + 30, 30, replace=False))
        entries = slots + 2 * np.arange(30)
        p_values.append(stats.random_entry_pvalue(market, entries, np.full(30, 3),
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
    rebuilt = stats.random_entry_pvalue(market, entries, durations, sides, sizes=0.5,
                                        cost_per_trade=0.001, n_perm=50, seed=4)
    given = stats.random_entry_pvalue(market, entries, durations, sides, sizes=[0.5] * 3,
                                      cost_per_trade=0.001, strategy_returns=per_bar,
                                      n_perm=50, seed=4)
    assert rebuilt.observed == pytest.approx(np.log1p(per_bar).sum())
    assert given.observed == pytest.approx(rebuilt.observed)
    np.testing.assert_array_equal(rebuilt.null, given.null)
    fast = stats.random_entry_pvalue(market, entries, durations, sides, statistic="sharpe",
                                     n_perm=50, seed=4)
    slow = stats.random_entry_pvalue(market, entries, durations, sides, n_perm=50, seed=4,
                                     statistic=lambda x: np.asarray(stats.sharpe(x, axis=1)))
    np.testing.assert_allclose(fast.null, slow.null, rtol=1e-10)
    with pytest.raises(ValueError, match="overlap"):
        stats.random_entry_pvalue(market, [5, 10], [10, 3])


# --- §6 Sharpe-ratio difference -------------------------------------------------------------

@pytest.fixture(scope="module")
def funds():
    return {"mutual": reference("lw2008_mutual_funds.csv"),
            "hedge": reference("lw2008_hedge_funds.csv")}


def test_lw2008_table2(funds):
    table = {"mutual": [(0.511454, 4.759707, 0.107455), (0.098465, 9.160599, 0.010749)],
             "hedge": [(1.227967, 1.210740, 1.014228), (0.244819, 0.167621, 1.460547)]}
    corr = {"mutual": 0.870103, "hedge": -0.000360}
    for name, rows in table.items():
        data = funds[name]
        for col, (mean, sd, sr) in enumerate(rows):
            assert data[:, col].mean() == pytest.approx(mean, abs=1e-6)
            assert data[:, col].std(ddof=1) == pytest.approx(sd, abs=1e-6)
            assert stats.sharpe(data[:, col]) == pytest.approx(sr, abs=1e-6)
        assert np.corrcoef(data.T)[0, 1] == pytest.approx(corr[name], abs=1e-6)


@pytest.mark.parametrize(("name", "z", "se", "p"), [
    ("mutual", 2.058857, 0.046971, 0.039508), ("hedge", -2.583414, 0.172763, 0.009783),
])
def test_jkm(funds, name, z, se, p):
    a, b = funds[name].T
    res = stats.sharpe_difference_test(a, b, n_boot=10)
    assert res.jkm_z == pytest.approx(z, abs=1e-6)
    assert res.diff / res.jkm_z == pytest.approx(se, abs=1e-6)
    assert res.jkm_p == pytest.approx(p, abs=1e-6)
    corr = np.corrcoef(a, b)[0, 1]
    assert stats.jkm_avar(res.sr_a, res.sr_b, corr) == pytest.approx(se**2 * 120, rel=1e-5)


# (hac kernel, ddof of the Δ in the z) -> p-values in % (mutual, hedge), to the printed digits
HAC_TABLE = [
    ("iid", 0, 4.642, 4.440, 3),         # delta method, 1/T covariance x T/(T-4)   [C]
    ("bartlett", 0, 6.06, 14.47, 2),     # Bartlett L = 4 (the default at T = 120)  [C]
    ("parzen", 1, 6.57, 16.00, 2),       # the authors' hac.inference, Parzen
    ("parzen_pw", 1, 7.00, 24.91, 2),    # the authors' prewhitened Parzen (HACPW)
]


@pytest.mark.parametrize(("hac", "ddof", "mutual", "hedge", "digits"), HAC_TABLE)
def test_ledoit_wolf_hac(funds, hac, ddof, mutual, hedge, digits):
    for name, expected in (("mutual", mutual), ("hedge", hedge)):
        a, b = funds[name].T
        res = stats.sharpe_difference_test(a, b, hac=hac, ddof=ddof, n_boot=10)
        assert round(100 * res.hac_p, digits) == pytest.approx(expected, abs=1e-9), name
    a, b = funds["mutual"].T
    moment = stats.sharpe_difference_test(a, b, hac="iid", ddof=0, n_boot=10)
    assert moment.hac_z * moment.hac_se == pytest.approx(0.097112, abs=1e-6)
    assert moment.diff == pytest.approx(0.096706, abs=1e-6)


@pytest.mark.parametrize(("name", "block", "paper"), [("mutual", 4, 9.2), ("hedge", 6, 29.4)])
def test_boot_ts_circular_matches_the_paper(funds, name, block, paper):
    a, b = funds[name].T
    res = stats.sharpe_difference_test(a, b, n_boot=4999, seed=1, block=block,
                                       method="circular")
    assert 100 * res.boot_p == pytest.approx(paper, abs=1.5)  # README: ±1.5 points at M = 4999
    assert res.low < 0 < res.high  # not significant at 5 %, and the interval agrees


def test_bootstrap_difference_default_is_stationary_and_consistent(funds):
    a, b = funds["hedge"].T
    res = stats.sharpe_difference_test(a, b, n_boot=999, seed=2)
    assert res.method == "stationary" and res.block >= 1
    assert res.boot_p > 0.1  # JMG's autocorrelation: robust methods do not reject
    assert res.low < res.diff < res.high
    rng = np.random.default_rng(3)
    common = rng.normal(0, 0.01, 2000)
    x = common + rng.normal(0.002, 0.005, 2000)
    y = common + rng.normal(0.0, 0.005, 2000)
    clear = stats.sharpe_difference_test(x, y, n_boot=499, seed=0)
    assert clear.boot_p < 0.01 and clear.hac_p < 0.01
    assert clear.low > 0
    again = stats.sharpe_difference_test(x, y, n_boot=499, seed=0)
    assert (again.low, again.high, again.boot_p) == (clear.low, clear.high, clear.boot_p)


# --- shadow days ----------------------------------------------------------------------------

def test_shadow_days_formula_and_edge_cases(funds):
    a, b = funds["mutual"].T
    res = stats.sharpe_difference_test(a, b, n_boot=10)
    days = stats.shadow_days(res.diff, res.avar, periods_per_day=1)
    assert days == pytest.approx(res.avar * (1.959964 + 0.841621) ** 2 / res.diff**2, rel=1e-6)
    assert stats.shadow_days(res.diff, res.avar, periods_per_day=24) == pytest.approx(days / 24)
    assert stats.shadow_days(res.diff, res.avar, periods_per_day=1, two_sided=False) < days
    assert stats.shadow_days(2 * res.diff, res.avar, periods_per_day=1) == pytest.approx(days / 4)
    assert stats.shadow_days(0.0, 1.0, periods_per_day=24) == math.inf
    assert stats.shadow_days(-0.1, 1.0, periods_per_day=24) == math.inf


def test_shadow_days_gives_the_promised_power():
    sr_a, sr_b, rho, alpha, power = 0.12, 0.02, 0.5, 0.05, 0.8
    avar = stats.jkm_avar(sr_a, sr_b, rho)
    periods = math.ceil(stats.shadow_days(sr_a - sr_b, avar, periods_per_day=1, alpha=alpha,
                                          power=power))
    rng = np.random.default_rng(0)
    e1 = rng.standard_normal((2000, periods))
    e2 = rho * e1 + math.sqrt(1 - rho**2) * rng.standard_normal((2000, periods))
    x, y = sr_a + e1, sr_b + e2
    s1, s2 = stats.sharpe(x, axis=1), stats.sharpe(y, axis=1)
    r = np.array([np.corrcoef(u, v)[0, 1] for u, v in zip(x, y, strict=True)])
    z = (s1 - s2) / np.sqrt(stats.jkm_avar(s1, s2, r) / periods)
    rejected = np.mean(np.abs(z) > 1.959964)
    assert rejected == pytest.approx(power, abs=0.04)


# --- §7 Brier / ECE (the existing ares_cli.ml.models.calibration) -----------------------------

P71 = np.array([0.05, 0.15, 0.30, 0.35, 0.45, 0.55, 0.62, 0.78, 0.85, 0.95])
Y71 = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1], dtype=float)


def test_calibration_ece_and_brier_main_example():
    assert ece(P71, Y71, 5) == pytest.approx(0.115, abs=1e-12)
    top = np.maximum(P71, 1 - P71)
    correct = ((P71 >= 0.5) == Y71).astype(float)
    assert ece(top, correct, 5) == pytest.approx(0.205, abs=1e-12)
    scores = calibration._scores(P71, Y71, 5)  # what report() prints, without sklearn's import
    assert scores["brier"] == pytest.approx(0.18203, abs=1e-12)
    assert scores["ece"] == pytest.approx(0.115, abs=1e-12)


def test_calibration_ece_bin_edges_are_right_closed_like_sklearn():
    # §7.2: Guo et al. and sklearn use right-closed bins (a value on an edge goes to the lower
    # bin): ECE 7/30. Left-closed bins would give 8/30.
    p = np.array([0.1, 0.2, 0.4, 0.4, 0.7, 0.8])
    y = np.array([0, 1, 0, 1, 1, 1], dtype=float)
    assert ece(p, y, 5) == pytest.approx(7 / 30, abs=1e-12)
    assert calibration._scores(p, y, 5)["brier"] == pytest.approx(0.216667, abs=1e-6)
