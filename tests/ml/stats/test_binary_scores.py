"""The binary scores equal scikit-learn's on random, tied, lopsided and one-class inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score

from ares_cli.ml.stats import binary_scores as bs


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    out = []
    for n in (2, 7, 50, 301):
        y = (rng.random(n) < 0.4).astype(np.float64)
        y[0], y[-1] = 0.0, 1.0
        out.append((y, rng.random(n)))  # continuous
        out.append((y, np.round(rng.random(n), 1)))  # heavy ties across classes
        out.append((y, np.full(n, 0.5)))  # all tied
        out.append((y, np.where(y == 1, 0.9, 0.1)))  # perfectly separated
        out.append((y, np.where(y == 1, 0.1, 0.9)))  # perfectly wrong
    return out


@pytest.mark.parametrize("case", range(20))
def test_scores_equal_sklearn(case: int) -> None:
    y, p = _cases()[case]
    q = np.clip(p, 1e-6, 1 - 1e-6)
    assert bs.log_loss(y, q) == pytest.approx(log_loss(y, q, labels=[0, 1]), rel=1e-12)
    assert bs.auc(y, p) == pytest.approx(roc_auc_score(y, p), rel=1e-12, abs=1e-15)
    assert bs.accuracy(y, p) == accuracy_score(y == 1, p >= 0.5)
    assert bs.brier(y, p) == pytest.approx(brier_score_loss(y, p, labels=[0, 1]), rel=1e-12)


def test_one_class_and_empty() -> None:
    y, p = np.ones(5), np.linspace(0.1, 0.9, 5)
    assert math.isnan(bs.auc(y, p))
    assert bs.log_loss(y, p) == pytest.approx(log_loss(y, p, labels=[0, 1]), rel=1e-12)
    empty = np.array([])
    assert all(math.isnan(f(empty, empty)) for f in (bs.log_loss, bs.accuracy, bs.brier, bs.auc))


def test_auc_is_order_free_and_sees_the_ranking() -> None:
    """A shuffled copy scores the same; swapping two cross-class scores changes the AUC."""
    rng = np.random.default_rng(5)
    y = (rng.random(200) < 0.5).astype(float)
    p = rng.random(200)
    perm = rng.permutation(200)
    assert bs.auc(y[perm], p[perm]) == pytest.approx(bs.auc(y, p), rel=1e-12)
    i, j = int(np.flatnonzero(y == 1)[0]), int(np.flatnonzero(y == 0)[0])
    q = p.copy()
    q[i], q[j] = min(p[i], p[j]) - 1e-3, max(p[i], p[j]) + 1e-3  # positive now ranked lower
    assert bs.auc(y, q) < bs.auc(y, p)
