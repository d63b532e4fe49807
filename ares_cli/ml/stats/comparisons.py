"""Sharpe-ratio difference tests and the shadow (paper-trading) length, for step 15
(`ab-test`). Pure NumPy/SciPy (scipy imported inside the functions that need it), no I/O.

Paired tests of SR(a) - SR(b) on two return series of the same bars (per-period SRs, ddof=1, see
`ares_cli.ml.stats.sharpe_ratios`): Jobson-Korkie-Memmel, Ledoit & Wolf (2008) with a HAC
covariance,
and the studentised paired block bootstrap (blocks from `ares_cli.ml.stats.resampling`, seeded,
in chunks); and `shadow_days`, the paper-trading length needed to detect a Sharpe difference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ares_cli.ml.stats.arrays import BlockMethod, Seed, as_vector, make_rng
from ares_cli.ml.stats.bootstrap import optimal_block_length
from ares_cli.ml.stats.resampling import resample_blocks
from ares_cli.ml.stats.sharpe_ratios import sharpe

__all__ = ["SharpeDifference", "jkm_avar", "shadow_days", "sharpe_difference_test"]


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
    from scipy.special import ndtr

    x = as_vector(a, "a", 8)
    z = as_vector(b, "b", 8)
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
    rng = make_rng(seed)
    d_star = np.empty(n_boot)
    centred = (x - x.mean(), z - z.mean())
    shift = (float(x.mean()), float(z.mean()))
    for lo, hi, idx, new in resample_blocks(t, n_boot, block, rng, method):
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
    from scipy.special import ndtri

    z_alpha = float(ndtri(1 - alpha / 2)) if two_sided else float(ndtri(1 - alpha))
    periods = avar * (z_alpha + float(ndtri(power))) ** 2 / sr_diff**2
    return periods / periods_per_day
