"""Drawdown and the stationary block bootstrap, for step 14 (`monte-carlo`). Pure NumPy, no I/O.

The stationary block bootstrap (Politis & Romano 1994; expected block length from
`ares_cli.ml.stats.bootstrap.optimal_block_length`, Politis-White) of a strategy's Sharpe ratio,
max drawdown and final return, with the probability of loss and the risk of ruin. Returns are
"simple" (equity x (1 + r)) or "log" (equity x e^r), compounded through their log growth
(`log_growth`, `max_drawdown_log`, also used by `ares_cli.ml.stats.permutation`). Every draw
goes through an explicit `seed`, and replicates are computed in chunks of about `CHUNK_ELEMENTS`
index cells (`resample_blocks`, also used by `ares_cli.ml.stats.comparisons`), so memory stays
bounded for n ~ 10^5 and 1000-2000 replicates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ares_cli.ml.stats.arrays import (
    BlockMethod,
    ReturnKind,
    Seed,
    as_vector,
    make_rng,
    row_chunks,
    scalar_or_array,
)
from ares_cli.ml.stats.bootstrap import block_indices, optimal_block_length

__all__ = [
    "BootstrapResult",
    "default_block_length",
    "final_return",
    "log_growth",
    "max_drawdown",
    "max_drawdown_log",
    "resample_blocks",
    "stationary_block_indices",
    "stationary_bootstrap_ci",
]


# --------------------------------------------------------------------------------------------
# Drawdown and the stationary block bootstrap


def log_growth(returns: np.ndarray, kind: ReturnKind) -> np.ndarray:
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


def max_drawdown_log(log_growth: np.ndarray) -> np.ndarray:
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
    return scalar_or_array(max_drawdown_log(log_growth(x, kind)))


def final_return(returns: np.ndarray | Sequence[float],
                 kind: ReturnKind = "simple") -> float | np.ndarray:
    """Compounded return over the whole series, along the last axis (prod(1 + r) - 1)."""
    x = np.asarray(returns, dtype=np.float64)
    return scalar_or_array(np.expm1(np.sum(log_growth(x, kind), axis=-1)))


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


def resample_blocks(n: int, n_boot: int, block: float, rng: np.random.Generator,
              method: BlockMethod) -> Iterator[tuple[int, int, np.ndarray, np.ndarray]]:
    """Chunks (lo, hi, indices, new_block) of block-bootstrap samples, rows lo..hi."""
    for lo, hi in row_chunks(n_boot, n):
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
    x = as_vector(returns, "returns", 3)
    n = x.size
    growth = log_growth(x, kind)
    if block is None:
        block = default_block_length(x, method)
    rng = make_rng(seed)
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
    for lo, hi, idx, _ in resample_blocks(n, n_boot, block, rng, method):
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
