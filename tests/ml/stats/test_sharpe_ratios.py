"""Sharpe ratio, PSR, expected maximum Sharpe, DSR, MinBTL and MinTRL
(`ares_cli.ml.stats.sharpe_ratios`,
steps 14 and 15) against the worked examples of shared/data/reference/stats/README.md (section
numbers below are that README's)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ares_cli.ml.stats.sharpe_ratios import (
    annualise,
    deflated_sharpe,
    deflated_sharpe_from_returns,
    expected_max_sharpe,
    expected_max_z,
    min_backtest_length,
    min_track_record_length,
    probabilistic_sharpe,
    psr_from_returns,
    sharpe,
    sharpe_moments,
)

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
    assert probabilistic_sharpe(sr, sr_star, n, skew, kurt) == pytest.approx(psr, abs=1e-7)


def test_psr_uses_the_observed_sr_in_the_denominator_and_broadcasts():
    # the pitfall "1 - skew·SR* + ..." would give a different value for 1c
    out = probabilistic_sharpe(np.array([SR_DAILY, SR_DAILY]), 0.11317200, 1250,
                               np.array([-3.0, 0.0]), np.array([10.0, 3.0]))
    assert out.shape == (2,)
    assert out[0] == pytest.approx(0.9003968, abs=1e-7)
    assert out[1] > out[0]  # normal moments: a narrower SR distribution


def test_sharpe_moments_and_psr_from_returns():
    # a Bernoulli(1/4) sample: skew 2/sqrt(3), raw kurtosis 7/3 (population moments)
    bern = sharpe_moments([0.0, 0.0, 0.0, 1.0])
    assert (bern.n, bern.skew, bern.kurt) == (4, pytest.approx(2 / math.sqrt(3)),
                                              pytest.approx(7 / 3))
    assert bern.sr == pytest.approx(0.25 / math.sqrt(0.25))
    x = np.random.default_rng(7).standard_t(5, 500) * 0.01 + 0.001
    m = sharpe_moments(x)
    assert m.sr == pytest.approx(x.mean() / x.std(ddof=1))
    assert psr_from_returns(x, 0.02) == pytest.approx(
        probabilistic_sharpe(m.sr, 0.02, 500, m.skew, m.kurt))
    assert annualise(m.sr, 8760) == pytest.approx(m.sr * math.sqrt(8760))
    assert math.isnan(sharpe(np.ones(5)))


# --- §2 expected maximum, DSR, MinBTL -------------------------------------------------------

@pytest.mark.parametrize(("n", "approx", "exact"), [
    (2, 0.5197553, 0.5641896), (3, 0.8528045, 0.8462844), (10, 1.5745983, 1.5387527),
    (46, 2.2441708, 2.2163952), (88, 2.4852948, 2.4615569), (100, 2.5306029, 2.5075936),
    (1000, 3.2551215, 3.2414358),
])
def test_expected_max_z(n, approx, exact):
    assert expected_max_z(n) == pytest.approx(approx, abs=1e-7)
    assert expected_max_z(n, exact=True) == pytest.approx(exact, abs=1e-7)


def test_dsr_paper_example():
    var = 0.5 / 250
    sr0 = expected_max_sharpe(100, var)
    assert sr0 == pytest.approx(0.11317200, abs=1e-8)
    assert annualise(sr0, 250) == pytest.approx(1.78940647, abs=1e-8)
    assert deflated_sharpe(SR_DAILY, 1250, -3, 10, n_trials=100, var_trial_srs=var) == (
        pytest.approx(0.90039683, abs=1e-8))
    # variations: N = 46 (paper moments), N = 88 and N = 100 with normal moments
    assert expected_max_sharpe(46, var) == pytest.approx(0.10036237, abs=1e-8)
    assert deflated_sharpe(SR_DAILY, 1250, -3, 10, n_trials=46, var_trial_srs=var) == (
        pytest.approx(0.95050171, abs=1e-8))
    assert expected_max_sharpe(88, var) == pytest.approx(0.11114576, abs=1e-8)
    assert deflated_sharpe(SR_DAILY, 1250, n_trials=88, var_trial_srs=var) == (
        pytest.approx(0.95049082, abs=1e-8))
    assert deflated_sharpe(SR_DAILY, 1250, n_trials=100, var_trial_srs=var) == (
        pytest.approx(0.94277059, abs=1e-8))


@pytest.mark.parametrize(("skew", "kurt", "largest"), [(-3, 10, 46), (0, 3, 88)])
def test_dsr_largest_number_of_trials_still_significant(skew, kurt, largest):
    dsr = [deflated_sharpe(SR_DAILY, 1250, skew, kurt, n_trials=n, var_trial_srs=0.5 / 250)
           for n in range(2, 200)]
    assert max(n for n, d in zip(range(2, 200), dsr, strict=True) if d >= 0.95) == largest


def test_dsr_mlfinlab_vector_uses_ddof0():
    trials = [3.5, 1.01, 1.02]
    assert np.std(trials) == pytest.approx(1.17144735, abs=1e-8)
    assert expected_max_sharpe(3, np.var(trials)) == pytest.approx(0.99901557, abs=1e-8)
    assert deflated_sharpe(1.14, 250, trial_srs=trials, ddof=0) == (
        pytest.approx(0.9583658, abs=1e-7))
    # the default ddof=1 spreads the trials more, so SR0 is higher and the DSR lower
    assert deflated_sharpe(1.14, 250, trial_srs=trials) < 0.9583658
    with pytest.raises(ValueError):
        deflated_sharpe(1.14, 250, trial_srs=trials, n_trials=3, var_trial_srs=1.0)


def test_dsr_from_returns_is_dsr_of_the_moments():
    x = np.random.default_rng(3).normal(0.002, 0.01, 800)
    trials = np.random.default_rng(4).normal(0.0, 0.03, 50)
    m = sharpe_moments(x)
    assert deflated_sharpe_from_returns(x, trial_srs=trials) == pytest.approx(
        deflated_sharpe(m.sr, m.n, m.skew, m.kurt, trial_srs=trials))
    assert expected_max_sharpe(1, 0.5) == 0.0


def test_min_backtest_length():
    assert expected_max_z(45) == pytest.approx(2.23564018, abs=1e-8)
    assert min_backtest_length(45) == pytest.approx(4.998, abs=5e-4)
    assert min_backtest_length(45, bound=True) == pytest.approx(7.613, abs=5e-4)
    assert expected_max_z(7) == pytest.approx(1.38677446, abs=1e-8)
    assert min_backtest_length(7, 1.0) == pytest.approx(1.923, abs=5e-4)


# --- §3 MinTRL ------------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "skew", "kurt", "obs", "years"), [
    (252, 0, 3, 688.208037, 2.731), (52, 0, 3, 147.099347, 2.829),
    (12, 0, 3, 38.877608, 3.240), (12, -0.72, 5.78, 59.895099, 4.991),
])
def test_min_track_record_length_paper(q, skew, kurt, obs, years):
    sr, sr_star = 2 / math.sqrt(q), 1 / math.sqrt(q)
    trl = min_track_record_length(sr, sr_star, skew, kurt)
    assert trl == pytest.approx(obs, abs=1e-6)
    assert trl / q == pytest.approx(years, abs=5e-4)
    # identity: PSR(SR*) at T = MinTRL is exactly 1 - alpha
    assert probabilistic_sharpe(sr, sr_star, trl, skew, kurt) == pytest.approx(0.95, 1e-12)


def test_min_track_record_length_mlfinlab():
    trl = min_track_record_length(1.14, 1.0, 0, 3, alpha=0.05)
    assert trl == pytest.approx(228.734979, abs=1e-6)
    assert probabilistic_sharpe(1.14, 1.0, trl) == pytest.approx(0.95, abs=1e-12)
    assert min_track_record_length(1.0, 1.0) == math.inf
