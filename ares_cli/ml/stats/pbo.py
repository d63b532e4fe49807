"""Probability of backtest overfitting (PBO) by combinatorially symmetric cross-validation
(CSCV; Bailey, Borwein, López de Prado & Zhu 2017), for step 14 (`monte-carlo`): how often the
in-sample best of N trials ranks at or below the median out of sample. Pure NumPy, no I/O.

Performance is the per-period Sharpe ratio (ddof=1, see `ares_cli.ml.stats.sharpe_ratios`) or the
mean,
computed exactly from per-block sums in chunks of about `CHUNK_ELEMENTS` cells, or any metric
function.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ares_cli.ml.stats.arrays import row_chunks

__all__ = ["PBOResult", "pbo_cscv"]


# --------------------------------------------------------------------------------------------
# Probability of backtest overfitting (CSCV)


@dataclass(frozen=True)
class PBOResult:
    """CSCV outcome over every split of S blocks into halves (in-sample J, out-of-sample J̄).

    `pbo`: share of splits whose in-sample best lands at or below the OOS median (logit ≤ 0).
    `logits`, `best` (index n* of the IS-best trial), `is_perf` (R_n*), `oos_perf` (R̄_n*): one
    per split, in `itertools.combinations` order. `prob_oos_loss`: share of splits with
    R̄_n* < threshold. `degradation_slope` / `_intercept`: OLS of R̄_n* on R_n*.
    """

    pbo: float
    logits: np.ndarray
    best: np.ndarray
    is_perf: np.ndarray
    oos_perf: np.ndarray
    prob_oos_loss: float
    degradation_slope: float
    degradation_intercept: float
    n_splits: int
    n_trials: int
    rows_dropped: int

    @property
    def best_share(self) -> np.ndarray:
        """Share of splits in which each trial is the in-sample best (one value per trial)."""
        return np.bincount(self.best, minlength=self.n_trials) / self.best.size


def _block_perf(bmean: np.ndarray, bss: np.ndarray, rows: int, mask: np.ndarray,
                metric: str) -> np.ndarray:
    """Metric of the union of the blocks in each row of `mask` (C, S), from per-block means
    and sums of squared deviations (S, N): the pooled variance adds the spread of the block
    means, taken about the grand mean so the subtraction loses no precision."""
    k = int(mask[0].sum())
    m = mask.astype(np.float64)
    mean = m @ bmean / k
    if metric == "mean":
        return mean
    dev = bmean - bmean.mean(axis=0)
    dev_mean = m @ dev / k
    between = np.maximum(m @ dev**2 - k * dev_mean**2, 0.0)
    sd = np.sqrt((m @ bss + rows * between) / (k * rows - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan)


def pbo_cscv(matrix: np.ndarray, n_splits: int = 16,
             metric: Literal["sharpe", "mean"] | Callable[[np.ndarray], np.ndarray] = "sharpe",
             *, threshold: float = 0.0,
             rank_denominator: Literal["N+1", "N"] = "N+1") -> PBOResult:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    `matrix` is T x N: per-period returns (rows in time order) of N trials. The rows are cut
    into `n_splits` (S, even) contiguous equal blocks; the first T mod S rows are dropped, as
    pypbo does. For each of the C(S, S/2) ways to pick half the blocks as in-sample, the trial
    with the best in-sample metric (first one on ties) is ranked among all trials out of sample
    (average ranks on ties, 1 = worst), ω = rank/(N + 1) (the paper's convention; "N" gives
    R `pbo`'s rank/N, whose top rank has logit +inf), logit λ = ln(ω/(1 - ω)), and
    PBO = share of splits with λ ≤ 0.

    `metric`: "sharpe" (per-period SR, ddof=1, the paper's) or "mean", computed exactly from
    per-block sums (vectorised over splits); or a function from a (rows, N) matrix to N values,
    evaluated split by split (slower). Ranking by SR does not depend on ddof or annualisation.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("matrix must be T x N with at least two trials")
    if n_splits < 2 or n_splits % 2:
        raise ValueError("n_splits must be an even number >= 2")
    if not np.isfinite(m).all():
        raise ValueError("matrix holds NaN or infinite values")
    if rank_denominator not in ("N+1", "N"):
        raise ValueError("rank_denominator must be 'N+1' or 'N'")
    t, n = m.shape
    rows = t // n_splits
    if rows < 2:
        raise ValueError(f"{t} rows cannot fill {n_splits} blocks of at least 2 rows")
    dropped = t - rows * n_splits
    blocks = m[dropped:].reshape(n_splits, rows, n)
    combos = np.array(list(itertools.combinations(range(n_splits), n_splits // 2)))
    in_sample = np.zeros((combos.shape[0], n_splits), dtype=bool)
    in_sample[np.arange(combos.shape[0])[:, None], combos] = True

    if callable(metric):
        perf_is = np.empty((combos.shape[0], n))
        perf_oos = np.empty_like(perf_is)
        for c, chosen in enumerate(in_sample):
            perf_is[c] = np.asarray(metric(blocks[chosen].reshape(-1, n)), dtype=np.float64)
            perf_oos[c] = np.asarray(metric(blocks[~chosen].reshape(-1, n)), dtype=np.float64)
    elif metric in ("sharpe", "mean"):
        bmean = blocks.mean(axis=1)
        bss = ((blocks - bmean[:, None, :]) ** 2).sum(axis=1)
        perf_is = np.empty((combos.shape[0], n))
        perf_oos = np.empty_like(perf_is)
        for lo, hi in row_chunks(combos.shape[0], n_splits + n):
            perf_is[lo:hi] = _block_perf(bmean, bss, rows, in_sample[lo:hi], metric)
            perf_oos[lo:hi] = _block_perf(bmean, bss, rows, ~in_sample[lo:hi], metric)
    else:
        raise ValueError(f"unknown metric {metric!r}")

    best = np.argmax(np.where(np.isnan(perf_is), -np.inf, perf_is), axis=1)
    split = np.arange(combos.shape[0])
    r_best, oos_best = perf_is[split, best], perf_oos[split, best]
    below = (perf_oos < oos_best[:, None]).sum(axis=1)
    tied = (perf_oos == oos_best[:, None]).sum(axis=1)
    rank = below + (tied + 1) / 2.0
    denom = n + 1 if rank_denominator == "N+1" else n
    omega = rank / denom
    with np.errstate(divide="ignore"):
        logits = np.where(omega < 1, np.log(omega / np.where(omega < 1, 1 - omega, 1.0)), np.inf)
    x, y = r_best, oos_best
    sxx = float(np.sum((x - x.mean()) ** 2))
    slope = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx) if sxx > 0 else math.nan
    return PBOResult(
        pbo=float(np.mean(logits <= 0)), logits=logits, best=best, is_perf=r_best,
        oos_perf=oos_best, prob_oos_loss=float(np.mean(oos_best < threshold)),
        degradation_slope=slope, degradation_intercept=float(y.mean() - slope * x.mean()),
        n_splits=n_splits, n_trials=n, rows_dropped=dropped)
