"""Permutation tests of a strategy's trades, for step 14 (`monte-carlo`): the max-drawdown
distribution of the same trades taken in random order, and the random-entry permutation test of
entry timing (the same trades placed at random times on the real market path). Pure NumPy,
no I/O.

Every random draw goes through an explicit `seed`; permutations are computed in chunks of about
`CHUNK_ELEMENTS` cells. Drawdowns compound as in `ares_cli.ml.stats.resampling`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ares_cli.ml.stats.arrays import ReturnKind, Seed, as_vector, make_rng, row_chunks
from ares_cli.ml.stats.resampling import log_growth, max_drawdown_log

__all__ = [
    "RandomEntryResult",
    "TradeShuffleResult",
    "random_entry_pvalue",
    "trade_shuffle_drawdowns",
]


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
    r = as_vector(trade_returns, "trade_returns", 1)
    growth = log_growth(r, kind)
    rng = make_rng(seed)
    out = np.empty(n)
    for lo, hi in row_chunks(n, r.size):
        shuffled = rng.permuted(np.broadcast_to(growth, (hi - lo, r.size)), axis=1)
        out[lo:hi] = max_drawdown_log(shuffled)
    observed = float(max_drawdown_log(growth))
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
    r = as_vector(market_returns, "market_returns", 2)
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
        x = as_vector(strategy_returns, "strategy_returns", 2)
        if x.size != t_bars:
            raise ValueError("strategy_returns must cover the same bars as market_returns")
        observed = float((statistic(x[None, :]) if callable(statistic)
                          else _entry_stat(x[None, :], t_bars, statistic))[0])
    else:
        observed = float(stat(start[None, :])[0])

    rng = make_rng(seed)
    null = np.empty(n_perm)
    row_length = t_bars if callable(statistic) else max(int(dur.sum()), k)
    for lo, hi in row_chunks(n_perm, row_length):
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
