"""Block bootstrap for serially dependent series: the Politis-White block length and indices.

`optimal_block_length` follows Politis & White (2004) as corrected by Patton, Politis & White
(2009), choosing the bandwidth lag m̂ as `arch.bootstrap.optimal_block_length` (arch 8) does: the
first lag of the first run of K = max(5, floor(log10 n)) consecutive lags whose autocorrelation
is below 2·sqrt(log10 n / n) in absolute value, and M = min(2·max(m̂, 1), ceil(sqrt n) + K). It
matches arch's values on the worked AR(1) examples in shared/data/reference/stats (tests).
Pure NumPy.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["block_indices", "optimal_block_length"]


def _autocovariance(x: np.ndarray, max_lag: int) -> np.ndarray:
    centred = x - x.mean()
    n = centred.size
    return np.array([np.dot(centred[k:], centred[: n - k]) / n for k in range(max_lag + 1)])


def optimal_block_length(series: np.ndarray) -> tuple[float, float]:
    """(stationary, circular) expected block lengths for the series `series`.

    b = (2·G² / D)^(1/3) · n^(1/3) with D = 2·g(0)² (stationary) or (4/3)·g(0)² (circular),
    G and g(0) from the autocovariances under a flat-top lag window; capped at
    ceil(min(3·sqrt n, n/3)). A constant series gets 1.
    """
    x = np.asarray(series, dtype=np.float64)
    n = x.size
    if n < 4 or not np.isfinite(x).all() or np.ptp(x) == 0:
        return 1.0, 1.0
    k_run = max(5, int(math.log10(n)))
    max_lag = min(n - 1, math.ceil(math.sqrt(n)) + k_run)
    acov = _autocovariance(x, max_lag)
    rho = acov / acov[0]
    threshold = 2.0 * math.sqrt(math.log10(n) / n)
    small = np.abs(rho[1:]) < threshold  # small[k-1] is lag k
    m_hat = max_lag
    for lag in range(1, max_lag - k_run + 2):
        if small[lag - 1: lag - 1 + k_run].all():
            m_hat = lag
            break
    big_m = min(2 * max(m_hat, 1), math.ceil(math.sqrt(n)) + k_run, max_lag)
    lags = np.arange(-big_m, big_m + 1)
    t = np.abs(lags) / big_m
    window = np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
    r = acov[np.abs(lags)]
    g_hat = float(np.sum(window * np.abs(lags) * r))
    g0 = float(np.sum(window * r))
    cap = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    if g0 <= 0 or g_hat == 0:
        return 1.0, 1.0
    stationary = (2.0 * g_hat**2 / (2.0 * g0**2)) ** (1 / 3) * n ** (1 / 3)
    circular = (2.0 * g_hat**2 / ((4 / 3) * g0**2)) ** (1 / 3) * n ** (1 / 3)
    return min(stationary, cap), min(circular, cap)


def block_indices(n: int, block: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) row indices of circular block-bootstrap samples with blocks of `block` rows."""
    blocks = math.ceil(n / block)
    starts = rng.integers(0, n, size=(n_boot, blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    return idx.reshape(n_boot, blocks * block)[:, :n]
