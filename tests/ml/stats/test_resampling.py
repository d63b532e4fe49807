"""Drawdown, final return and the stationary block bootstrap (`ares_cli.ml.stats.resampling`,
step 14): properties the reference README (shared/data/reference/stats) does not cover, and its
Politis-White block-length example."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ares_cli.ml.stats.bootstrap import optimal_block_length
from ares_cli.ml.stats.resampling import (
    default_block_length,
    final_return,
    max_drawdown,
    stationary_block_indices,
    stationary_bootstrap_ci,
)
from ares_cli.ml.stats.sharpe_ratios import sharpe
from tests.ml.stats.reference import reference

# --- stationary bootstrap, drawdown, final return -------------------------------------------

def test_drawdown_and_final_return_by_hand():
    assert max_drawdown([0.1, -0.5, 0.2]) == pytest.approx(0.5)
    assert final_return([0.1, -0.5, 0.2]) == pytest.approx(1.1 * 0.5 * 1.2 - 1)
    assert max_drawdown([-0.2, 0.1]) == pytest.approx(0.2)  # from the starting equity
    assert max_drawdown([0.1, -1.0, 0.3]) == 1.0  # ruin
    assert max_drawdown(np.log([1.1, 0.5, 1.2]), kind="log") == pytest.approx(0.5)
    rows = max_drawdown(np.array([[0.1, -0.5], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [0.5, 0.0])


def test_stationary_indices_are_circular_runs_of_geometric_length():
    rng = np.random.default_rng(0)
    idx, new = stationary_block_indices(500, 400, 8.0, rng)
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
    res = stationary_bootstrap_ci(x, n_boot=600, seed=5, periods_per_year=8760,
                                  ruin_levels=(0.05, 0.2, 0.9))
    again = stationary_bootstrap_ci(x, n_boot=600, seed=5, periods_per_year=8760,
                                    ruin_levels=(0.05, 0.2, 0.9))
    assert res.interval == again.interval
    assert res.observed["sharpe"] == pytest.approx(sharpe(x) * math.sqrt(8760))
    assert res.observed["max_drawdown"] == pytest.approx(max_drawdown(x))
    assert res.observed["final_return"] == pytest.approx(final_return(x))
    for key, (lo, hi) in res.interval.items():
        assert lo <= res.observed[key] <= hi, key
    assert res.replicates["sharpe"].shape == (600,)
    assert res.prob_loss == np.mean(res.replicates["final_return"] < 0)
    assert res.prob_loss < 0.1  # drift 0.1 per period over 1500 periods
    ruin = [res.risk_of_ruin[level] for level in (0.05, 0.2, 0.9)]
    assert ruin == sorted(ruin, reverse=True) and ruin[-1] == 0.0
    assert res.block == pytest.approx(default_block_length(x))
    extra = stationary_bootstrap_ci(x, n_boot=50, seed=1, block=3.0,
                                    stats={"mean": lambda r: r.mean(axis=1)})
    assert extra.observed["mean"] == pytest.approx(x.mean())
    losing = stationary_bootstrap_ci(-x, n_boot=200, seed=1, block=3.0)
    assert losing.prob_loss > 0.9


def test_bootstrap_sharpe_interval_covers_the_true_sharpe():
    hits = 0
    for seed in range(60):
        x = np.random.default_rng(1000 + seed).normal(0.0005, 0.01, 300)  # true SR 0.05
        lo, hi = stationary_bootstrap_ci(x, n_boot=300, seed=seed,
                                         block=1.0).interval["sharpe"]
        hits += lo <= 0.05 <= hi
    assert hits >= 51  # 95 % nominal; 60 data sets


def test_default_block_length_follows_politis_white():
    ar = reference("blocklen_ar1_n1000.csv")[:, 1]
    stationary = default_block_length(ar)
    assert stationary >= optimal_block_length(ar)[0] == pytest.approx(8.964077, abs=1e-6)
    circular = stationary_bootstrap_ci(ar * 0.001, n_boot=20, method="circular")
    assert circular.block >= optimal_block_length(ar * 0.001)[1]
