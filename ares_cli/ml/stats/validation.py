"""Validation statistics for steps 14 (`monte-carlo`) and 15 (`ab-test`). Pure NumPy/SciPy, no I/O.

Conventions (as in shared/data/reference/stats/README.md, whose worked examples the tests match):

- `SR` is the **per-period**, non-annualised Sharpe ratio: mean / standard deviation (ddof=1) of
  the returns as given (pass excess returns if a risk-free rate matters; for crypto it is 0).
  `annualise` multiplies by sqrt(periods per year); hourly bars use 24·365 = 8760.
- `n` (or T) is the number of return observations; formulas use `n - 1` where the papers do.
- `skew` is skew and `kurt` is the **raw** kurtosis kurt (3 for a normal distribution), both the
  population (biased, 1/n) moment estimators.
- Every random draw goes through an explicit `seed` argument (an int or a `np.random.Generator`);
  the same inputs and seed give the same numbers. Resampling runs in chunks of about
  `CHUNK_ELEMENTS` index cells, so memory stays bounded for n ~ 10^5 and 1000-2000 replicates.

Contents: `sharpe`, `annualise`, PSR / DSR / expected maximum Sharpe / MinTRL / MinBTL (Bailey &
López de Prado 2012, 2014; Bailey, Borwein, López de Prado & Zhu 2014), PBO by CSCV (Bailey,
Borwein, López de Prado & Zhu 2017), the stationary block bootstrap (Politis & Romano 1994, block
length from `ares_cli.ml.stats.bootstrap.optimal_block_length`) with drawdown, final return,
probability of loss and risk of ruin, a trade-order shuffle, a random-entry permutation test, the
Sharpe-difference tests (Jobson-Korkie-Memmel and Ledoit & Wolf 2008, HAC and studentised block
bootstrap), and the paper-trading ("shadow") length needed to detect a Sharpe difference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from ares_cli.ml.stats.bootstrap import block_indices, optimal_block_length

__all__ = [
    "CHUNK_ELEMENTS",
    "BootstrapResult",
    "PBOResult",
    "RandomEntryResult",
    "SharpeDifference",
    "SharpeMoments",
    "TradeShuffleResult",
    "annualise",
    "default_block_length",
    "deflated_sharpe",
    "deflated_sharpe_from_returns",
    "expected_max_sharpe",
    "expected_max_z",
    "final_return",
    "jkm_avar",
    "max_drawdown",
    "min_backtest_length",
    "min_track_record_length",
    "pbo_cscv",
    "probabilistic_sharpe",
    "psr_from_returns",
    "random_entry_pvalue",
    "shadow_days",
    "sharpe",
    "sharpe_difference_test",
    "sharpe_moments",
    "stationary_block_indices",
    "stationary_bootstrap_ci",
    "trade_shuffle_drawdowns",
]

CHUNK_ELEMENTS = 1 << 20  # index cells resampled at once (a few 8 MB arrays per chunk)

Seed = int | np.random.Generator | None
ReturnKind = Literal["simple", "log"]
BlockMethod = Literal["stationary", "circular"]


def _rng(seed: Seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def _out(value: np.ndarray) -> float | np.ndarray:
    """A Python float for a 0-d result, else the array."""
    arr = np.asarray(value)
    return float(arr) if arr.ndim == 0 else arr


def _chunks(n_rows: int, row_length: int) -> Iterator[tuple[int, int]]:
    step = max(1, CHUNK_ELEMENTS // max(row_length, 1))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def _vector(values: np.ndarray | Sequence[float], name: str, min_size: int = 2) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < min_size:
        raise ValueError(f"{name} must be a 1-d array of at least {min_size} values")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


# --------------------------------------------------------------------------------------------
# Sharpe ratio and its moments


def sharpe(returns: np.ndarray | Sequence[float], ddof: int = 1,
           axis: int = 0) -> float | np.ndarray:
    """Per-period Sharpe ratio mean/std(ddof) along `axis` (not annualised; see `annualise`).

    NaN where the standard deviation is 0 (the ratio is undefined for a constant series).
    """
    x = np.asarray(returns, dtype=np.float64)
    mean = x.mean(axis=axis)
    sd = x.std(axis=axis, ddof=ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan))


def annualise(sr: float | np.ndarray, periods_per_year: float) -> float | np.ndarray:
    """Annualised Sharpe ratio sr·sqrt(q): q = 8760 for hourly crypto bars, 252 for trading days.

    The statistics in this module all take the per-period SR; annualise only for display.
    """
    return _out(np.asarray(sr, dtype=np.float64) * math.sqrt(periods_per_year))


class SharpeMoments(NamedTuple):
    """Per-period SR (ddof=1), number of observations, skewness skew and raw kurtosis kurt."""

    sr: float
    n: int
    skew: float
    kurt: float


def sharpe_moments(returns: np.ndarray | Sequence[float]) -> SharpeMoments:
    """The inputs of PSR, DSR and MinTRL from a return series.

    Skewness and raw kurtosis are the population (1/n) moment ratios m3/m2^1.5 and m4/m2², as
    `scipy.stats.skew` / `kurtosis(fisher=False)` compute them by default.
    """
    x = _vector(returns, "returns", 3)
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0:
        raise ValueError("returns are constant: the Sharpe ratio is undefined")
    m3, m4 = float(np.mean(d**3)), float(np.mean(d**4))
    return SharpeMoments(float(sharpe(x)), int(x.size), m3 / m2**1.5, m4 / m2**2)


# --------------------------------------------------------------------------------------------
# PSR, expected maximum SR, DSR, MinTRL, MinBTL


def _sr_variance_factor(sr: np.ndarray, skew: np.ndarray, kurt: np.ndarray) -> np.ndarray:
    """Mertens' n·Var(SR̂) = 1 - skew·SR + (kurt - 1)/4·SR², at the observed SR (kurt raw)."""
    return 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2


def probabilistic_sharpe(sr: float | np.ndarray, sr_star: float | np.ndarray, n: int | np.ndarray,
                         skew: float | np.ndarray = 0.0,
                         kurt: float | np.ndarray = 3.0) -> float | np.ndarray:
    """Probabilistic Sharpe ratio: P(true SR > sr_star) given the observed per-period `sr`.

    PSR = Φ((SR - SR*)·sqrt(n - 1) / sqrt(1 - skew·SR + (kurt - 1)/4·SR²)) (Bailey & López de Prado
    2012), with raw kurtosis kurt. Non-normal returns (negative skew, fat tails) widen the SR's
    sampling error and lower the PSR. Broadcasts over array inputs. NaN when the variance
    factor is not positive (moments inconsistent with the SR).
    """
    sr_a, star = np.asarray(sr, dtype=np.float64), np.asarray(sr_star, dtype=np.float64)
    factor = _sr_variance_factor(sr_a, np.asarray(skew, float), np.asarray(kurt, float))
    n_a = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr_a - star) * np.sqrt(n_a - 1.0) / np.sqrt(np.where(factor > 0, factor, np.nan))
    return _out(ndtr(z))


def psr_from_returns(returns: np.ndarray | Sequence[float],
                     sr_star: float = 0.0) -> float:
    """PSR of a return series against the per-period benchmark `sr_star` (its own moments)."""
    m = sharpe_moments(returns)
    return float(probabilistic_sharpe(m.sr, sr_star, m.n, m.skew, m.kurt))


def expected_max_z(n_trials: int, exact: bool = False) -> float:
    """E[max of n_trials iid N(0, 1)].

    By default the Bailey & López de Prado approximation
    (1 - g)·Φ⁻¹(1 - 1/N) + g·Φ⁻¹(1 - 1/(N·e)) (g the Euler-Mascheroni), which the DSR and MinBTL
    papers use; `exact=True` integrates x·N·φ(x)·Φ(x)^(N-1) numerically instead. N = 1 gives 0.
    """
    if n_trials < 1:
        raise ValueError("n_trials must be at least 1")
    if n_trials == 1:
        return 0.0
    if exact:
        from scipy.integrate import quad

        log_n = math.log(n_trials)

        def integrand(x: float) -> float:
            return x * math.exp(log_n - 0.5 * x * x - 0.5 * math.log(2 * math.pi)
                                + (n_trials - 1) * float(log_ndtr(x)))

        return float(quad(integrand, -np.inf, np.inf, limit=200)[0])
    g = np.euler_gamma
    return float((1 - g) * ndtri(1 - 1 / n_trials) + g * ndtri(1 - 1 / (n_trials * math.e)))


def expected_max_sharpe(n_trials: int, var_trial_srs: float, mean: float = 0.0,
                        exact: bool = False) -> float:
    """SR0: the expected maximum per-period SR of `n_trials` independent trials with no skill.

    SR0 = mean + sqrt(V[{SR_n}])·E[max Z_N]; `var_trial_srs` is the variance across trials of
    their per-period SR estimates (de-annualise an annual variance by dividing by q). The paper
    assumes `mean` = 0. This is the bar the best of N backtests clears by luck alone.
    """
    if var_trial_srs < 0:
        raise ValueError("var_trial_srs must be non-negative")
    return mean + math.sqrt(var_trial_srs) * expected_max_z(n_trials, exact)


def _trial_dispersion(trial_srs: np.ndarray | Sequence[float] | None, n_trials: int | None,
                      var_trial_srs: float | None, ddof: int) -> tuple[int, float]:
    if trial_srs is not None:
        if n_trials is not None or var_trial_srs is not None:
            raise ValueError("pass either trial_srs or (n_trials, var_trial_srs), not both")
        t = _vector(trial_srs, "trial_srs", 1 + ddof)
        return int(t.size), float(np.var(t, ddof=ddof))
    if n_trials is None or var_trial_srs is None:
        raise ValueError("pass trial_srs, or both n_trials and var_trial_srs")
    return int(n_trials), float(var_trial_srs)


def deflated_sharpe(sr: float, n: int, skew: float = 0.0, kurt: float = 3.0, *,
                    trial_srs: np.ndarray | Sequence[float] | None = None,
                    n_trials: int | None = None, var_trial_srs: float | None = None,
                    mean_trial_srs: float = 0.0, ddof: int = 1) -> float:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014): PSR against SR0, the expected
    maximum SR of the trials under no skill, so a best-of-N backtest is judged net of the
    selection.

    Give the trials either as their per-period SRs `trial_srs` (N = their count, variance with
    `ddof`: 1 by default, the unbiased and more conservative choice; mlfinlab uses 0), or as
    `n_trials` and `var_trial_srs`. `mean_trial_srs` is added to SR0 (the paper assumes 0).
    `sr`, `n`, `skew`, `kurt` describe the selected strategy (see `sharpe_moments`).
    """
    count, var = _trial_dispersion(trial_srs, n_trials, var_trial_srs, ddof)
    sr0 = expected_max_sharpe(count, var, mean_trial_srs)
    return float(probabilistic_sharpe(sr, sr0, n, skew, kurt))


def deflated_sharpe_from_returns(returns: np.ndarray | Sequence[float], *,
                                 trial_srs: np.ndarray | Sequence[float] | None = None,
                                 n_trials: int | None = None, var_trial_srs: float | None = None,
                                 mean_trial_srs: float = 0.0, ddof: int = 1) -> float:
    """`deflated_sharpe` with SR, n, skew and kurtosis taken from the selected return series."""
    m = sharpe_moments(returns)
    return deflated_sharpe(m.sr, m.n, m.skew, m.kurt, trial_srs=trial_srs, n_trials=n_trials,
                           var_trial_srs=var_trial_srs, mean_trial_srs=mean_trial_srs, ddof=ddof)


def min_track_record_length(sr: float, sr_star: float = 0.0, skew: float = 0.0,
                            kurt: float = 3.0, alpha: float = 0.05) -> float:
    """Minimum track record length, in observations (Bailey & López de Prado 2012, eq. 13).

    MinTRL = 1 + (1 - skew·SR + (kurt - 1)/4·SR²)·(Φ⁻¹(1 - alpha)/(SR - SR*))²: how many
    periods with these moments it takes for PSR(SR*) to reach 1 - alpha. Divide by periods per
    year for years.
    Infinite when SR ≤ SR* (no track record suffices).
    """
    if sr <= sr_star:
        return math.inf
    factor = float(_sr_variance_factor(np.float64(sr), np.float64(skew), np.float64(kurt)))
    if factor <= 0:
        raise ValueError("the moments give a non-positive SR variance")
    return 1.0 + factor * (float(ndtri(1.0 - alpha)) / (sr - sr_star)) ** 2


def min_backtest_length(n_trials: int, sr_annual: float = 1.0, *, bound: bool = False) -> float:
    """Minimum backtest length in years (Bailey, Borwein, López de Prado & Zhu 2014).

    MinBTL = (E[max Z_N] / SR)²: with fewer years than this, N independent configurations of a
    skill-less strategy are expected to produce an in-sample best with annualised SR
    `sr_annual`. `bound=True` gives the paper's upper bound 2·ln N / SR² instead.
    """
    if sr_annual <= 0:
        raise ValueError("sr_annual must be positive")
    if bound:
        return 2.0 * math.log(n_trials) / sr_annual**2
    return (expected_max_z(n_trials) / sr_annual) ** 2


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
        for lo, hi in _chunks(combos.shape[0], n_splits + n):
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


# --------------------------------------------------------------------------------------------
# Drawdown and the stationary block bootstrap


def _log_growth(returns: np.ndarray, kind: ReturnKind) -> np.ndarray:
    """Per-period log growth of equity: log1p(r) for simple returns (r = -1 gives -inf)."""
    if kind == "log":
        return returns
    if kind != "simple":
        raise ValueError("kind must be 'simple' or 'log'")
    if (returns < -1).any():
        raise ValueError("a simple return below -1 (a loss of more than all equity)")
    with np.errstate(divide="ignore"):
        return np.log1p(returns)


def _drawdown_from_cum(cum: np.ndarray) -> np.ndarray:
    """Max drawdown (fraction of the running peak, in [0, 1]) along the last axis from the
    cumulative log growth of equity; equity starts at 1, so a loss from the first period
    counts (the running peak is at least 0)."""
    gap = np.maximum.accumulate(cum, axis=-1)
    np.subtract(cum, gap, out=gap)
    with np.errstate(invalid="ignore"):
        worst = np.minimum(gap.min(axis=-1), cum.min(axis=-1))
    return -np.expm1(np.where(np.isnan(worst), -np.inf, worst))


def _max_drawdown_log(log_growth: np.ndarray) -> np.ndarray:
    """Max drawdown along the last axis of per-period log growth."""
    return _drawdown_from_cum(np.cumsum(log_growth, axis=-1))


def _row_sharpe(dev: np.ndarray, shift: float) -> np.ndarray:
    """Per-row SR (ddof=1) of rows `dev` + `shift`, from the row sums of `dev` (values already
    centred on the full series' mean, so the sum of squares loses no precision)."""
    n = dev.shape[1]
    s1 = dev.sum(axis=1)
    s2 = np.einsum("ij,ij->i", dev, dev)
    var = np.maximum(s2 - s1 * s1 / n, 0.0) / (n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, (shift + s1 / n) / np.sqrt(np.where(var > 0, var, 1.0)),
                        np.nan)


def max_drawdown(returns: np.ndarray | Sequence[float],
                 kind: ReturnKind = "simple") -> float | np.ndarray:
    """Largest peak-to-trough loss of compounded equity (0.25 = a 25 % drawdown), along the
    last axis. `kind`: "simple" returns (equity x (1 + r)) or "log" returns (equity x e^r)."""
    x = np.asarray(returns, dtype=np.float64)
    return _out(_max_drawdown_log(_log_growth(x, kind)))


def final_return(returns: np.ndarray | Sequence[float],
                 kind: ReturnKind = "simple") -> float | np.ndarray:
    """Compounded return over the whole series, along the last axis (prod(1 + r) - 1)."""
    x = np.asarray(returns, dtype=np.float64)
    return _out(np.expm1(np.sum(_log_growth(x, kind), axis=-1)))


def stationary_block_indices(n: int, n_boot: int, block: float,
                             rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(indices, new_block) of `n_boot` stationary-bootstrap samples of a length-`n` series.

    Politis & Romano (1994): each sample is a run of blocks that start at a uniform random row
    and continue circularly; each next row starts a new block with probability 1/`block`, so
    block lengths are geometric with mean `block`. `indices` is (n_boot, n); `new_block` marks
    the rows that start a block (column 0 always does). Unchunked: it holds n_boot·n cells.
    """
    p = np.float32(1.0 / max(float(block), 1.0))
    new = rng.random((n_boot, n), dtype=np.float32) < p
    new[:, 0] = True
    flat = new.ravel()
    starts = np.flatnonzero(flat)
    offset = rng.integers(0, n, size=starts.size) - starts % n
    block_id = np.cumsum(flat) - 1
    idx = offset[block_id].reshape(n_boot, n)
    idx += np.arange(n)
    np.subtract(idx, n, out=idx, where=idx >= n)  # start + steps into the block, wrapped
    return idx, new


def _resample(n: int, n_boot: int, block: float, rng: np.random.Generator,
              method: BlockMethod) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Chunks (lo, hi, indices, new_block) of block-bootstrap samples, rows lo..hi."""
    for lo, hi in _chunks(n_boot, n):
        if method == "stationary":
            idx, new = stationary_block_indices(n, hi - lo, block, rng)
        elif method == "circular":
            b = max(1, min(n, round(block)))
            idx = block_indices(n, b, hi - lo, rng)
            new = np.broadcast_to(np.arange(n) % b == 0, idx.shape)
        else:
            raise ValueError("method must be 'stationary' or 'circular'")
        yield lo, hi, idx, new


def _sharpe_influence(x: np.ndarray) -> np.ndarray:
    """Per-period influence series of the SR: (r - m)/s - SR·((r - m)² - s²)/(2s²)."""
    d = x - x.mean()
    var = float(np.mean(d**2))
    if var == 0:
        return d
    sd = math.sqrt(var)
    return d / sd - (x.mean() / sd) * (d**2 - var) / (2 * var)


def default_block_length(returns: np.ndarray, method: BlockMethod = "stationary") -> float:
    """Politis-White expected block length for bootstrapping SR, drawdown and final return:
    the larger of the lengths for the returns (their mean, hence the compounded path) and for
    the SR's influence series (which carries volatility clustering)."""
    x = np.asarray(returns, dtype=np.float64)
    col = 0 if method == "stationary" else 1
    return max(1.0, optimal_block_length(x)[col], optimal_block_length(_sharpe_influence(x))[col])


@dataclass(frozen=True)
class BootstrapResult:
    """Block-bootstrap distribution of a strategy's statistics.

    `observed`, `interval` (percentile, two-sided at `confidence`) and `replicates` are keyed by
    statistic: "sharpe" (annualised when `periods_per_year` was given), "max_drawdown" (fraction
    in [0, 1]), "final_return" (compounded) and any extra statistics. `prob_loss` is the share
    of replicates with final return < 0; `risk_of_ruin[level]` the share whose max drawdown
    reaches `level`.
    """

    observed: dict[str, float]
    interval: dict[str, tuple[float, float]]
    replicates: dict[str, np.ndarray]
    prob_loss: float
    risk_of_ruin: dict[float, float]
    block: float
    n_boot: int
    confidence: float
    method: str


def stationary_bootstrap_ci(
    returns: np.ndarray | Sequence[float], *, n_boot: int = 1000, seed: Seed = 0,
    block: float | None = None, confidence: float = 0.95, periods_per_year: float | None = None,
    kind: ReturnKind = "simple", ruin_levels: Sequence[float] = (0.5,),
    stats: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
    method: BlockMethod = "stationary",
) -> BootstrapResult:
    """Stationary block bootstrap (Politis & Romano 1994) of Sharpe, max drawdown, final return.

    Resamples whole runs of consecutive periods, so autocorrelation and volatility clustering
    within a block survive, and recomputes every statistic per replicate. `block` is the
    expected block length; by default `default_block_length` (Politis-White). `method=
    "circular"` uses fixed blocks (`ares_cli.ml.stats.bootstrap.block_indices`) instead.

    `stats` adds statistics: name → function of a (k, n) matrix of resampled returns (one
    replicate per row) returning k values. Replicates are computed in chunks (memory is about
    `CHUNK_ELEMENTS` cells per array whatever n and n_boot are); the result depends only on the
    inputs and `seed`.
    """
    x = _vector(returns, "returns", 3)
    n = x.size
    growth = _log_growth(x, kind)
    if block is None:
        block = default_block_length(x, method)
    rng = _rng(seed)
    scale = math.sqrt(periods_per_year) if periods_per_year else 1.0
    extra = dict(stats or {})
    reserved = {"sharpe", "max_drawdown", "final_return"} & set(extra)
    if reserved:
        raise ValueError(f"stats may not redefine {sorted(reserved)}")

    mean = float(x.mean())
    centred = x - mean

    def evaluate(idx: np.ndarray) -> dict[str, np.ndarray]:
        cum = growth[idx]
        np.cumsum(cum, axis=1, out=cum)
        out = {"sharpe": _row_sharpe(centred[idx], mean) * scale,
               "max_drawdown": _drawdown_from_cum(cum),
               "final_return": np.expm1(cum[:, -1])}
        if extra:
            rows = x[idx]
            for name, fn in extra.items():
                out[name] = np.asarray(fn(rows), dtype=np.float64).reshape(idx.shape[0])
        return out

    observed = {k: float(v[0]) for k, v in evaluate(np.arange(n)[None, :]).items()}
    reps = {k: np.empty(n_boot) for k in observed}
    for lo, hi, idx, _ in _resample(n, n_boot, block, rng, method):
        for k, v in evaluate(idx).items():
            reps[k][lo:hi] = v
    tail = (1.0 - confidence) / 2.0
    interval = {}
    for k, v in reps.items():
        finite = v[np.isfinite(v)]
        lo_q, hi_q = (np.quantile(finite, [tail, 1 - tail]) if finite.size
                      else (math.nan, math.nan))
        interval[k] = (float(lo_q), float(hi_q))
    ruin = {float(level): float(np.mean(reps["max_drawdown"] >= level)) for level in ruin_levels}
    return BootstrapResult(observed=observed, interval=interval, replicates=reps,
                           prob_loss=float(np.mean(reps["final_return"] < 0)),
                           risk_of_ruin=ruin, block=float(block), n_boot=n_boot,
                           confidence=confidence, method=method)


# --------------------------------------------------------------------------------------------
# Trade-order shuffle and random-entry permutation test


@dataclass(frozen=True)
class TradeShuffleResult:
    """Max drawdown of the actual trade order (`observed`) and under `drawdowns.size` random
    orders; `prob_worse` is the share of orders with a drawdown at least the observed one."""

    observed: float
    drawdowns: np.ndarray
    prob_worse: float


def trade_shuffle_drawdowns(trade_returns: np.ndarray | Sequence[float], n: int = 1000,
                            seed: Seed = 0, *, kind: ReturnKind = "simple") -> TradeShuffleResult:
    """Max-drawdown distribution of the same trades taken in random order.

    Each trade's return compounds on equity (equity x (1 + r)); the final return does not depend
    on the order, the path and so the drawdown does. A drawdown that is mild only because of a
    lucky order shows up as a high `prob_worse` and a wide distribution.
    """
    r = _vector(trade_returns, "trade_returns", 1)
    growth = _log_growth(r, kind)
    rng = _rng(seed)
    out = np.empty(n)
    for lo, hi in _chunks(n, r.size):
        shuffled = rng.permuted(np.broadcast_to(growth, (hi - lo, r.size)), axis=1)
        out[lo:hi] = _max_drawdown_log(shuffled)
    observed = float(_max_drawdown_log(growth))
    return TradeShuffleResult(observed, out, float(np.mean(out >= observed)))


@dataclass(frozen=True)
class RandomEntryResult:
    """The statistic of the actual trades, its permutation distribution and the p-value
    (1 + #{null ≥ observed}) / (1 + n_perm)."""

    observed: float
    null: np.ndarray
    p_value: float
    n_perm: int


def _entry_stat(values: np.ndarray, n_bars: int, statistic: str) -> np.ndarray:
    """Built-in statistics from the in-trade per-bar returns (k, m) of a window of n_bars bars
    whose other bars return 0."""
    if statistic == "total_log_return":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(np.maximum(values, -1.0)).sum(axis=1)
    if statistic == "sharpe":
        s1, s2 = values.sum(axis=1), (values**2).sum(axis=1)
        mean = s1 / n_bars
        var = np.maximum(s2 - n_bars * mean**2, 0.0) / (n_bars - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(var > 0, mean / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    raise ValueError(f"unknown statistic {statistic!r}")


def random_entry_pvalue(
    market_returns: np.ndarray | Sequence[float], entries: np.ndarray | Sequence[int],
    durations: np.ndarray | Sequence[int], sides: np.ndarray | Sequence[float] | None = None,
    sizes: np.ndarray | Sequence[float] | None = None, *,
    statistic: Literal["total_log_return", "sharpe"] | Callable[[np.ndarray], np.ndarray]
    = "total_log_return",
    strategy_returns: np.ndarray | Sequence[float] | None = None,
    cost_per_trade: float | np.ndarray = 0.0, n_perm: int = 1000, seed: Seed = 0,
    min_gap: int = 0,
) -> RandomEntryResult:
    """Permutation test of entry timing: do the strategy's trades beat the same trades placed at
    random times?

    Inputs: `market_returns[t]`, the asset's simple return over bar t (close_t / close_{t-1} - 1)
    for the T bars of the window; and the trades, one entry per trade: `entries` (first bar
    held, 0-based within the window), `durations` (bars held: the trade earns bars
    entry .. entry + duration - 1), `sides` (+1 long, -1 short; default long) and `sizes`
    (exposure as a fraction of equity; default 1); a scalar side or size applies to every trade.
    Trades must not overlap and must fit in the window.

    A placement of the trades maps to per-bar strategy returns x_t = side·size·r_t on the bars
    a trade holds, minus `cost_per_trade` (scalar or one per trade, a fraction of equity) on
    its entry bar, and 0 on flat bars; `statistic` is "total_log_return" (Σ log(1 + x_t)),
    "sharpe" (per-period SR of x over all T bars) or a function of a (k, T) matrix of x rows.

    **Preserved** in every permutation: the market path (bar returns in their real order), the
    window, the number of trades, and each trade's duration, side, size and cost, carried
    together; trades stay non-overlapping (and at least `min_gap` bars apart). **Randomised**:
    the entry times and the order of the trades, uniformly over all such placements (a random
    order, then the free bars split into k + 1 gaps uniformly by stars and bars).

    The observed statistic is recomputed from the trade list with the same mapping, unless
    `strategy_returns` (the backtest's real per-bar returns over the same T bars) is given;
    then it is that series' statistic, which includes the real fills and fees, so set
    `cost_per_trade` to the average real cost per trade to keep the comparison fair.
    """
    r = _vector(market_returns, "market_returns", 2)
    t_bars = r.size
    start = np.asarray(entries, dtype=np.int64).ravel()
    dur = np.asarray(durations, dtype=np.int64).ravel()
    k = start.size
    if k == 0 or dur.size != k:
        raise ValueError("entries and durations must be non-empty and of the same length")
    try:
        side, size, cost = (np.broadcast_to(np.asarray(v, dtype=np.float64), (k,))
                            for v in (1.0 if sides is None else sides,
                                      1.0 if sizes is None else sizes, cost_per_trade))
    except ValueError as exc:
        raise ValueError("sides, sizes and cost_per_trade need one value per trade") from exc
    if (dur < 1).any() or (start < 0).any() or (start + dur > t_bars).any():
        raise ValueError("every trade must hold at least one bar inside the window")
    order = np.argsort(start, kind="stable")
    if (start[order][1:] < (start + dur)[order][:-1]).any():
        raise ValueError("trades overlap")
    free = t_bars - int(dur.sum()) - (k - 1) * min_gap
    if free < 0:
        raise ValueError("the trades do not fit in the window with min_gap between them")

    exposure = side * size
    trade_of_bar = np.repeat(np.arange(k), dur)
    first_bar = np.concatenate([[0], np.cumsum(dur)[:-1]])
    offset = np.arange(trade_of_bar.size) - first_bar[trade_of_bar]
    bar_exposure = exposure[trade_of_bar]
    bar_cost = np.where(offset == 0, cost[trade_of_bar], 0.0)

    def values_for(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = starts[:, trade_of_bar] + offset
        return idx, r[idx] * bar_exposure - bar_cost

    def stat(starts: np.ndarray) -> np.ndarray:
        idx, vals = values_for(starts)
        if callable(statistic):
            full = np.zeros((starts.shape[0], t_bars))
            np.put_along_axis(full, idx, vals, axis=1)
            return np.asarray(statistic(full), dtype=np.float64).reshape(starts.shape[0])
        return _entry_stat(vals, t_bars, statistic)

    if strategy_returns is not None:
        x = _vector(strategy_returns, "strategy_returns", 2)
        if x.size != t_bars:
            raise ValueError("strategy_returns must cover the same bars as market_returns")
        observed = float((statistic(x[None, :]) if callable(statistic)
                          else _entry_stat(x[None, :], t_bars, statistic))[0])
    else:
        observed = float(stat(start[None, :])[0])

    rng = _rng(seed)
    null = np.empty(n_perm)
    row_length = t_bars if callable(statistic) else max(int(dur.sum()), k)
    for lo, hi in _chunks(n_perm, row_length):
        m = hi - lo
        perm = rng.permuted(np.broadcast_to(np.arange(k), (m, k)), axis=1)
        gaps = np.sort(np.stack([rng.choice(free + k, size=k, replace=False, shuffle=False)
                                 for _ in range(m)]), axis=1)
        held = dur[perm]
        before = np.cumsum(held, axis=1) - held
        slot_start = gaps - np.arange(k) + before + np.arange(k) * min_gap
        starts = np.empty((m, k), dtype=np.int64)
        np.put_along_axis(starts, perm, slot_start, axis=1)
        null[lo:hi] = stat(starts)
    exceed = int(np.sum(null >= observed))
    return RandomEntryResult(observed, null, (1 + exceed) / (1 + n_perm), n_perm)


# --------------------------------------------------------------------------------------------
# Sharpe-ratio difference tests and the shadow (paper-trading) length


@dataclass(frozen=True)
class SharpeDifference:
    """Paired test of SR(a) - SR(b) on the same bars (per-period SRs, ddof=1).

    `diff` = sr_a - sr_b. JKM: Jobson-Korkie with Memmel's correction (iid normal returns).
    HAC: Ledoit & Wolf (2008) delta method with a HAC covariance (`hac` kernel); `avar` = n·se²
    is the per-observation asymptotic variance of the difference (input of `shadow_days`).
    Bootstrap: studentised paired block bootstrap (same blocks for a and b), two-sided p-value
    `boot_p` of "no difference" and the symmetric interval diff ± q·hac_se that inverts it.
    """

    sr_a: float
    sr_b: float
    diff: float
    n: int
    jkm_z: float
    jkm_p: float
    hac_se: float
    hac_z: float
    hac_p: float
    avar: float
    low: float
    high: float
    boot_p: float
    block: float
    n_boot: int
    method: str
    confidence: float


def _lw_parts(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gradient of Δ = f(mu1, mu2, E r1², E r2²), the centred moment series y_t (T, 4))."""
    mu1, mu2 = a.mean(), b.mean()
    g1, g2 = float(np.mean(a * a)), float(np.mean(b * b))
    v1, v2 = g1 - mu1**2, g2 - mu2**2
    grad = np.array([g1 / v1**1.5, -g2 / v2**1.5, -0.5 * mu1 / v1**1.5, 0.5 * mu2 / v2**1.5])
    y = np.column_stack([a - mu1, b - mu2, a * a - g1, b * b - g2])
    return grad, y


def _autocov(v: np.ndarray, lag: int) -> np.ndarray:
    """Γ_j = (1/T) Σ_t v_t v_{t-j}ᵀ."""
    return v[lag:].T @ v[: v.shape[0] - lag] / v.shape[0]


def _parzen(x: float) -> float:
    ax = abs(x)
    if ax <= 0.5:
        return 1.0 - 6.0 * ax**2 + 6.0 * ax**3
    return 2.0 * (1.0 - ax) ** 3 if ax <= 1.0 else 0.0


def _parzen_bandwidth(v: np.ndarray) -> float:
    """Andrews (1991) automatic Parzen bandwidth 2.6614·(a2·T)^(1/5), a2 from a univariate AR(1)
    (with intercept, fitted by OLS) per column, equal weights."""
    num = den = 0.0
    for col in v.T:
        x = col - col.mean()
        design = np.column_stack([np.ones(x.size - 1), x[:-1]])
        coef = np.linalg.lstsq(design, x[1:], rcond=None)[0]
        resid = x[1:] - design @ coef
        rho, s2 = float(coef[1]), float(resid @ resid / resid.size)
        num += 4 * rho**2 * s2**2 / (1 - rho) ** 8
        den += s2**2 / (1 - rho) ** 4
    return 2.6614 * (num / den * v.shape[0]) ** 0.2


def _hac(v: np.ndarray, kernel: str, lags: int | None) -> np.ndarray:
    """Long-run covariance of the rows of v, times T/(T - 4) as in Ledoit & Wolf (2008).

    "iid": Γ0. "bartlett": Newey-West weights 1 - j/(L + 1), j ≤ L (L default
    ⌊4·(T/100)^(2/9)⌋). "parzen": Parzen kernel with Andrews' automatic bandwidth.
    "parzen_pw": the same after VAR(1) prewhitening (Andrews & Monahan 1992; singular values of
    the VAR matrix capped at 0.97), recoloured — the paper's HACPW.
    """
    if kernel == "parzen_pw":
        past, now = v[:-1], v[1:]
        coef = np.linalg.lstsq(past, now, rcond=None)[0].T
        u, s, vt = np.linalg.svd(coef)
        a_hat = u @ np.diag(np.minimum(s, 0.97)) @ vt
        colour = np.linalg.inv(np.eye(v.shape[1]) - a_hat)
        return colour @ _hac(now - past @ a_hat.T, "parzen", None) @ colour.T
    t = v.shape[0]
    psi = _autocov(v, 0)
    if kernel == "bartlett":
        big_l = math.floor(4 * (t / 100) ** (2 / 9)) if lags is None else lags
        for j in range(1, min(big_l, t - 1) + 1):
            g = _autocov(v, j)
            psi = psi + (1 - j / (big_l + 1)) * (g + g.T)
    elif kernel == "parzen":
        bw = _parzen_bandwidth(v)
        j = 1
        while j < bw and j < t:
            g = _autocov(v, j)
            psi = psi + _parzen(j / bw) * (g + g.T)
            j += 1
    elif kernel != "iid":
        raise ValueError(f"unknown HAC kernel {kernel!r}")
    return psi * t / (t - 4)


def jkm_avar(sr_a: float, sr_b: float, rho: float) -> float:
    """Per-observation asymptotic variance of SR_a - SR_b for iid bivariate-normal returns
    (Jobson-Korkie with Memmel's correction): 2 - 2rho + ½·(SR_a² + SR_b² - 2·SR_a·SR_b·rho²)."""
    return 2 - 2 * rho + 0.5 * (sr_a**2 + sr_b**2 - 2 * sr_a * sr_b * rho**2)


def sharpe_difference_test(
    a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float], *,
    hac: Literal["parzen_pw", "parzen", "bartlett", "iid"] = "parzen_pw",
    hac_lags: int | None = None, ddof: int = 1, n_boot: int = 2000, seed: Seed = 0,
    block: float | None = None, method: BlockMethod = "stationary", confidence: float = 0.95,
) -> SharpeDifference:
    """Is SR(a) different from SR(b)? Paired tests on two return series of the same bars.

    1. JKM (Jobson-Korkie-Memmel): z = Δ/sqrt(θ/T) with `jkm_avar`; exact for iid normal
       returns, too liberal under autocorrelation or fat tails.
    2. HAC (Ledoit & Wolf 2008): delta method on Δ = f(μ1, μ2, E r1², E r2²) with the
       long-run covariance Ψ̂ of the moment series (`hac`: "parzen_pw" — the paper's
       prewhitened HAC, default —, "parzen", "bartlett" with `hac_lags`, or "iid"), scaled by
       T/(T - 4). The z uses Δ from SRs with `ddof` (1 as the authors' code; 0 gives the paper's
       moment estimator).
    3. Studentised paired block bootstrap (LW's Boot-TS, generalised to stationary blocks):
       both series are resampled with the same block indices; each replicate's
       d* = |Δ* - Δ| / s(Δ*), where s(Δ*)² = Σ_blocks (Σ_t∈block g*·y*_t)² / T² (block sums of
       the replicate's influence series, which is LW's Ψ̂* for equal blocks); two-sided
       p = (1 + #{d* ≥ |Δ|/s_HAC}) / (1 + n_boot), interval Δ ± q_conf(d*)·s_HAC.
       `block` defaults to the Politis-White length of the influence series g·y_t;
       `method="circular"` with an integer block reproduces Boot-TS.
    """
    x = _vector(a, "a", 8)
    z = _vector(b, "b", 8)
    if x.size != z.size:
        raise ValueError("a and b must be returns of the same bars (same length)")
    t = x.size
    sr_a, sr_b = float(sharpe(x)), float(sharpe(z))
    if not (np.isfinite(sr_a) and np.isfinite(sr_b)):
        raise ValueError("a constant series has no Sharpe ratio")
    diff = sr_a - sr_b
    rho = float(np.corrcoef(x, z)[0, 1])
    jkm_se = math.sqrt(jkm_avar(sr_a, sr_b, rho) / t)
    jkm_z = diff / jkm_se

    grad, y = _lw_parts(x, z)
    psi = _hac(y, hac, hac_lags)
    hac_se = math.sqrt(max(float(grad @ psi @ grad), 0.0) / t)
    delta = float(sharpe(x, ddof=ddof)) - float(sharpe(z, ddof=ddof))
    hac_z = delta / hac_se if hac_se > 0 else math.nan

    influence = y @ grad
    if block is None:
        col = 0 if method == "stationary" else 1
        block = max(1.0, optimal_block_length(influence)[col])
    rng = _rng(seed)
    d_star = np.empty(n_boot)
    centred = (x - x.mean(), z - z.mean())
    shift = (float(x.mean()), float(z.mean()))
    for lo, hi, idx, new in _resample(t, n_boot, block, rng, method):
        srs, w = [], np.zeros(idx.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            for series, mean, sign in zip(centred, shift, (1.0, -1.0), strict=True):
                d = series[idx]
                m = d.mean(axis=1)
                d -= m[:, None]
                var = np.einsum("ij,ij->i", d, d) / t  # 1/T variance of the replicate
                mu, sd = mean + m, np.sqrt(var)
                srs.append(mu / np.sqrt(var * t / (t - 1)))
                # the SR's influence d/sd - mu/(2 sd³)·(d² - var), i.e. gradient · y*_t
                k = (mu / (2 * sd**3))[:, None]
                inner = d * -k
                inner += (1 / sd)[:, None]
                inner *= d
                inner += k * var[:, None]
                w += sign * inner
            starts = np.flatnonzero(np.asarray(new).ravel())
            sums = np.add.reduceat(w.ravel(), starts)
            quad = np.bincount(starts // t, weights=sums**2, minlength=hi - lo)
            d_star[lo:hi] = np.abs(srs[0] - srs[1] - diff) / (np.sqrt(quad) / t)
    finite = d_star[np.isfinite(d_star)]
    d_obs = abs(diff) / hac_se if hac_se > 0 else math.inf
    boot_p = (1 + int(np.sum(finite >= d_obs))) / (1 + n_boot)
    q = float(np.quantile(finite, confidence)) if finite.size else math.nan
    return SharpeDifference(
        sr_a=sr_a, sr_b=sr_b, diff=diff, n=t, jkm_z=jkm_z, jkm_p=float(2 * ndtr(-abs(jkm_z))),
        hac_se=hac_se, hac_z=hac_z, hac_p=float(2 * ndtr(-abs(hac_z))), avar=hac_se**2 * t,
        low=diff - q * hac_se, high=diff + q * hac_se, boot_p=boot_p, block=float(block),
        n_boot=n_boot, method=method, confidence=confidence)


def shadow_days(sr_diff: float, avar: float, *, periods_per_day: float, alpha: float = 0.05,
                power: float = 0.8, two_sided: bool = True) -> float:
    """Days of paired paper trading needed to detect a per-period Sharpe difference.

    Normal approximation: the estimated difference over T periods is ~ N(Δ, avar/T), where
    `avar` is the per-observation asymptotic variance of the difference computed from both
    strategies' returns on the same bars (`SharpeDifference.avar`, the HAC one, or `jkm_avar`
    for iid normal returns). A level-alpha test (two-sided by default, as in
    `sharpe_difference_test`) rejects with probability `power` once
    T = avar·(z_{1-alpha/2} + z_power)² / Δ²; the result is T / `periods_per_day` days (fractional).
    Returns inf when Δ ≤ 0 (or not finite): a difference that is not positive cannot be
    confirmed by waiting.
    """
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must lie in (0, 1)")
    if avar <= 0 or periods_per_day <= 0:
        raise ValueError("avar and periods_per_day must be positive")
    if not math.isfinite(sr_diff) or sr_diff <= 0:
        return math.inf
    z_alpha = float(ndtri(1 - alpha / 2)) if two_sided else float(ndtri(1 - alpha))
    periods = avar * (z_alpha + float(ndtri(power))) ** 2 / sr_diff**2
    return periods / periods_per_day
