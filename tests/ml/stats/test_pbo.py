"""Probability of backtest overfitting by CSCV (`ares_cli.ml.stats.pbo`, step 14) against the
worked examples of shared/data/reference/stats/README.md (section numbers below are that
README's)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ares_cli.ml.stats.pbo import pbo_cscv
from ares_cli.ml.stats.sharpe_ratios import sharpe
from tests.ml.stats.reference import reference

# --- §4 PBO / CSCV --------------------------------------------------------------------------

def test_pbo_tiny_hand_example():
    m = reference("pbo_tiny_T8_N4.csv")
    ln4, ln1_5 = math.log(4), math.log(1.5)
    paper = pbo_cscv(m, 4, "mean")
    assert paper.pbo == 0.5
    np.testing.assert_allclose(paper.logits, [ln4, -ln4, -ln1_5, -ln4, ln1_5, ln4], atol=1e-12)
    assert paper.best.tolist() == [2, 1, 2, 3, 2, 2]  # C B C D C C
    np.testing.assert_allclose(paper.is_perf, [3, 5, 5, 4, 3, 4])
    np.testing.assert_allclose(paper.oos_perf, [4, 0.5, 2, 0.5, 4, 3])
    r_pbo = pbo_cscv(m, 4, "mean", rank_denominator="N")
    assert r_pbo.pbo == 0.5
    ln3 = math.log(3)
    np.testing.assert_allclose(r_pbo.logits, [np.inf, -ln3, 0, -ln3, ln3, np.inf], atol=1e-12)
    # a metric function evaluated split by split gives the same answer
    assert pbo_cscv(m, 4, lambda x: x.mean(axis=0)).logits.tolist() == (
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
        assert sharpe(m[:, 0]) == pytest.approx(0.16317217, abs=1e-8)
    elif which == "odd":
        m = m[:, :9]
    res = pbo_cscv(m, s)
    assert res.logits.size == math.comb(s, s // 2)
    assert res.pbo == pytest.approx(pbo, abs=1e-9)
    assert pbo_cscv(m, s, rank_denominator="N").pbo == pytest.approx(pbo_n, abs=1e-9)
    assert res.prob_oos_loss == pytest.approx(loss, abs=1e-6)
    if share is not None:
        assert res.best_share[0] == pytest.approx(share, abs=5e-4)
        assert res.degradation_slope == pytest.approx(slope, abs=5e-5)


def test_pbo_metric_function_matches_the_block_formula(noise):
    fast = pbo_cscv(noise, 8)
    slow = pbo_cscv(noise, 8, lambda x: x.mean(axis=0) / x.std(axis=0, ddof=1))
    assert slow.logits.tolist() == fast.logits.tolist()
    np.testing.assert_allclose(slow.oos_perf, fast.oos_perf, rtol=1e-12)


def test_pbo_drops_the_first_rows_when_t_is_not_divisible(noise):
    padded = np.vstack([np.full((3, 10), 5.0), noise])
    res = pbo_cscv(padded, 8)
    assert res.rows_dropped == 3
    assert res.logits.tolist() == pbo_cscv(noise, 8).logits.tolist()


def test_pbo_over_seeds_is_about_one_half_for_noise_and_low_with_an_edge():
    noise_pbo, edge_pbo = [], []
    for seed in range(200):
        m = np.random.default_rng(seed).normal(0.0, 0.01, (960, 10))
        noise_pbo.append(pbo_cscv(m, 8).pbo)
        m[:, 0] += 0.0015
        edge_pbo.append(pbo_cscv(m, 8).pbo)
    assert np.mean(noise_pbo) == pytest.approx(0.5039, abs=5e-5)  # §4.4: 0.5039 (sd 0.2405)
    assert np.std(noise_pbo, ddof=1) == pytest.approx(0.2405, abs=5e-5)
    assert np.mean(edge_pbo) == pytest.approx(0.0386, abs=5e-5)
    assert max(edge_pbo) == pytest.approx(0.457, abs=5e-4)
