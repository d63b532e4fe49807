"""The Sharpe ratio and its significance: `sharpe`, `annualise`, `sharpe_moments`, PSR / DSR /
expected maximum Sharpe / MinTRL / MinBTL (Bailey & López de Prado 2012, 2014; Bailey, Borwein,
López de Prado & Zhu 2014). Used by step 14 (`monte-carlo`) and step 15 (`ab-test`). Pure
NumPy/SciPy (scipy imported inside the functions that need it), no I/O.

Conventions (as in shared/data/reference/stats/README.md, whose worked examples the tests match):

- `SR` is the **per-period**, non-annualised Sharpe ratio: mean / standard deviation (ddof=1) of
  the returns as given (pass excess returns if a risk-free rate matters; for crypto it is 0).
  `annualise` multiplies by sqrt(periods per year); hourly bars use 24·365 = 8760.
- `n` (or T) is the number of return observations; formulas use `n - 1` where the papers do.
- `skew` is skew and `kurt` is the **raw** kurtosis kurt (3 for a normal distribution), both the
  population (biased, 1/n) moment estimators.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ares_cli.ml.stats.arrays import as_vector, scalar_or_array

__all__ = [
    "SharpeMoments",
    "annualise",
    "deflated_sharpe",
    "deflated_sharpe_from_returns",
    "expected_max_sharpe",
    "expected_max_z",
    "min_backtest_length",
    "min_track_record_length",
    "probabilistic_sharpe",
    "psr_from_returns",
    "sharpe",
    "sharpe_moments",
]


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
        return scalar_or_array(np.where(sd > 0, mean / np.where(sd > 0, sd, 1.0), np.nan))


def annualise(sr: float | np.ndarray, periods_per_year: float) -> float | np.ndarray:
    """Annualised Sharpe ratio sr·sqrt(q): q = 8760 for hourly crypto bars, 252 for trading days.

    The statistics in this module all take the per-period SR; annualise only for display.
    """
    return scalar_or_array(np.asarray(sr, dtype=np.float64) * math.sqrt(periods_per_year))


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
    x = as_vector(returns, "returns", 3)
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
    from scipy.special import ndtr

    sr_a, star = np.asarray(sr, dtype=np.float64), np.asarray(sr_star, dtype=np.float64)
    factor = _sr_variance_factor(sr_a, np.asarray(skew, float), np.asarray(kurt, float))
    n_a = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (sr_a - star) * np.sqrt(n_a - 1.0) / np.sqrt(np.where(factor > 0, factor, np.nan))
    return scalar_or_array(ndtr(z))


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
    from scipy.special import log_ndtr, ndtri

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
        t = as_vector(trial_srs, "trial_srs", 1 + ddof)
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
    from scipy.special import ndtri

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
