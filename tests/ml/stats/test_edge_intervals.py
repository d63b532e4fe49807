"""The edge object: gains, intervals, block lengths and the verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from ares_cli.ml.stats.edge_intervals import (
    _block_means,
    auc_replicates,
    edge,
    overlap_block_length,
)


def market(n: int, signal: float, seed: int, span: int = 5):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    y = (signal * z + rng.normal(size=n) > 0).astype(float)
    p = 1 / (1 + np.exp(-signal * z))
    t0 = np.arange(n)
    return p, np.full(n, y.mean()), y, t0, t0 + span


def test_a_real_signal_is_an_edge_and_noise_is_not():
    p, b, y, t0, t1 = market(2000, 1.0, 0)
    strong = edge(p, b, y, t0, t1)
    assert strong["verdict"] == "edge" and strong["ci95"][0] > 0 and strong["gain"] > 0
    assert strong["label_uniqueness"] == pytest.approx(1 / 6, rel=0.05)
    # effective_n is the number of blocks the interval used, not n times the uniqueness
    assert strong["effective_n"] == pytest.approx(2000 / strong["block_length"], abs=0.1)
    assert strong["block_length"] >= 6
    wide = edge(p, b, y, t0, t1, metric="auc", min_block=192, n_boot=200)
    assert wide["block_length"] == 192 and wide["ci95"] is None  # 10.4 blocks < 20
    assert "too little data" in wide["reason"]
    rng = np.random.default_rng(1)
    noise = edge(rng.uniform(0.3, 0.7, 2000), b, y, t0, t1)
    assert noise["verdict"] == "no edge" and noise["gain"] < 0


def test_auc_edge_and_its_interval_of_the_model():
    p, b, y, t0, t1 = market(1500, 0.8, 2)
    result = edge(p, b, y, t0, t1, metric="auc", n_boot=500)
    assert result["model"] == pytest.approx(roc_auc_score(y, p))
    assert result["baseline"] == 0.5 and result["verdict"] == "edge"
    lo, hi = result["model_ci95"]
    assert lo < result["model"] < hi


def test_auc_replicates_match_sklearn_on_resamples_with_ties():
    rng = np.random.default_rng(3)
    p = rng.integers(0, 20, 300) / 20  # many ties
    y = (rng.random(300) < p).astype(float)
    counts = np.stack([np.bincount(rng.integers(0, 300, 300), minlength=300) for _ in range(5)])
    got = auc_replicates(p, y, counts)
    for row, value in zip(counts, got, strict=True):
        idx = np.repeat(np.arange(300), row)
        assert value == pytest.approx(roc_auc_score(y[idx], p[idx]), abs=1e-12)


def test_block_means_equal_a_plain_loop():
    rng = np.random.default_rng(4)
    values = rng.normal(size=40)
    starts = rng.integers(0, 40, size=(6, 5))
    expected = [np.mean([values[(s + j) % 40] for s in row for j in range(8)]) for row in starts]
    np.testing.assert_allclose(_block_means(values, starts, 8), expected)


def test_block_length_follows_label_overlap_and_persistence():
    t0 = np.arange(1000)
    assert overlap_block_length(t0, t0)[0] == 1
    assert overlap_block_length(t0, t0 + 9)[0] == 10
    rng = np.random.default_rng(5)
    latent = np.zeros(1000)
    for i in range(1, 1000):  # outcomes in long streaks (regimes), labels do not overlap
        latent[i] = 0.97 * latent[i - 1] + rng.normal()
    y = (latent + rng.normal(size=1000) > 0).astype(float)
    persistent = 0.5 + 0.3 * np.sin(np.arange(1000) / 40)  # a model with slow swings
    result = edge(persistent, np.full(1000, 0.5), y, t0, t0)
    assert result["block_length"] > 10  # the gain series is autocorrelated: longer blocks


def test_too_few_blocks_is_no_edge_with_a_reason():
    p, b, y, t0, t1 = market(30, 3.0, 6, span=4)
    result = edge(p, b, y, t0, t1)
    assert result["verdict"] == "no edge" and "too little data" in result["reason"]
    assert edge(p[:2], b[:2], np.array([0.0, 1.0]), t0[:2], t1[:2])["verdict"] == "no edge"
