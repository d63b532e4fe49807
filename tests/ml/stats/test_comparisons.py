"""Sharpe-ratio difference tests and shadow days (`ares_cli.ml.stats.comparisons`, step 15)
against the worked examples of shared/data/reference/stats/README.md (section numbers below are
that README's), plus the shadow-day properties the README does not cover."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ares_cli.ml.stats.comparisons import jkm_avar, shadow_days, sharpe_difference_test
from ares_cli.ml.stats.sharpe_ratios import sharpe
from tests.ml.stats.reference import reference

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
            assert sharpe(data[:, col]) == pytest.approx(sr, abs=1e-6)
        assert np.corrcoef(data.T)[0, 1] == pytest.approx(corr[name], abs=1e-6)


@pytest.mark.parametrize(("name", "z", "se", "p"), [
    ("mutual", 2.058857, 0.046971, 0.039508), ("hedge", -2.583414, 0.172763, 0.009783),
])
def test_jkm(funds, name, z, se, p):
    a, b = funds[name].T
    res = sharpe_difference_test(a, b, n_boot=10)
    assert res.jkm_z == pytest.approx(z, abs=1e-6)
    assert res.diff / res.jkm_z == pytest.approx(se, abs=1e-6)
    assert res.jkm_p == pytest.approx(p, abs=1e-6)
    corr = np.corrcoef(a, b)[0, 1]
    assert jkm_avar(res.sr_a, res.sr_b, corr) == pytest.approx(se**2 * 120, rel=1e-5)


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
        res = sharpe_difference_test(a, b, hac=hac, ddof=ddof, n_boot=10)
        assert round(100 * res.hac_p, digits) == pytest.approx(expected, abs=1e-9), name
    a, b = funds["mutual"].T
    moment = sharpe_difference_test(a, b, hac="iid", ddof=0, n_boot=10)
    assert moment.hac_z * moment.hac_se == pytest.approx(0.097112, abs=1e-6)
    assert moment.diff == pytest.approx(0.096706, abs=1e-6)


@pytest.mark.parametrize(("name", "block", "paper"), [("mutual", 4, 9.2), ("hedge", 6, 29.4)])
def test_boot_ts_circular_matches_the_paper(funds, name, block, paper):
    a, b = funds[name].T
    res = sharpe_difference_test(a, b, n_boot=4999, seed=1, block=block,
                                 method="circular")
    assert 100 * res.boot_p == pytest.approx(paper, abs=1.5)  # README: ±1.5 points at M = 4999
    assert res.low < 0 < res.high  # not significant at 5 %, and the interval agrees


def test_bootstrap_difference_default_is_stationary_and_consistent(funds):
    a, b = funds["hedge"].T
    res = sharpe_difference_test(a, b, n_boot=999, seed=2)
    assert res.method == "stationary" and res.block >= 1
    assert res.boot_p > 0.1  # JMG's autocorrelation: robust methods do not reject
    assert res.low < res.diff < res.high
    rng = np.random.default_rng(3)
    common = rng.normal(0, 0.01, 2000)
    x = common + rng.normal(0.002, 0.005, 2000)
    y = common + rng.normal(0.0, 0.005, 2000)
    clear = sharpe_difference_test(x, y, n_boot=499, seed=0)
    assert clear.boot_p < 0.01 and clear.hac_p < 0.01
    assert clear.low > 0
    again = sharpe_difference_test(x, y, n_boot=499, seed=0)
    assert (again.low, again.high, again.boot_p) == (clear.low, clear.high, clear.boot_p)


# --- shadow days ----------------------------------------------------------------------------

def test_shadow_days_formula_and_edge_cases(funds):
    a, b = funds["mutual"].T
    res = sharpe_difference_test(a, b, n_boot=10)
    days = shadow_days(res.diff, res.avar, periods_per_day=1)
    assert days == pytest.approx(res.avar * (1.959964 + 0.841621) ** 2 / res.diff**2, rel=1e-6)
    assert shadow_days(res.diff, res.avar, periods_per_day=24) == pytest.approx(days / 24)
    assert shadow_days(res.diff, res.avar, periods_per_day=1, two_sided=False) < days
    assert shadow_days(2 * res.diff, res.avar, periods_per_day=1) == pytest.approx(days / 4)
    assert shadow_days(0.0, 1.0, periods_per_day=24) == math.inf
    assert shadow_days(-0.1, 1.0, periods_per_day=24) == math.inf


def test_shadow_days_gives_the_promised_power():
    sr_a, sr_b, rho, alpha, power = 0.12, 0.02, 0.5, 0.05, 0.8
    avar = jkm_avar(sr_a, sr_b, rho)
    periods = math.ceil(shadow_days(sr_a - sr_b, avar, periods_per_day=1, alpha=alpha,
                                    power=power))
    rng = np.random.default_rng(0)
    e1 = rng.standard_normal((2000, periods))
    e2 = rho * e1 + math.sqrt(1 - rho**2) * rng.standard_normal((2000, periods))
    x, y = sr_a + e1, sr_b + e2
    s1, s2 = sharpe(x, axis=1), sharpe(y, axis=1)
    r = np.array([np.corrcoef(u, v)[0, 1] for u, v in zip(x, y, strict=True)])
    z = (s1 - s2) / np.sqrt(jkm_avar(s1, s2, r) / periods)
    rejected = np.mean(np.abs(z) > 1.959964)
    assert rejected == pytest.approx(power, abs=0.04)
