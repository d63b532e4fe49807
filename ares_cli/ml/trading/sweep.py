"""Parameter sweeps on the backtest engine: many signal variants, one market, the same rules.

A search over strategy parameters (say 1,000 moving-average window pairs) runs the same market
through the same `Rules` once per combination. Calling `backtest` in a Python loop works, but it
re-validates the same arrays every time, and the vectorised alternative (one signal matrix of
n_bars x n_combos) costs 8 bytes per cell: 800 MB for 100,000 bars x 1,000 combinations.

So a sweep here:

- runs the engine's own compiled loop (`backtest.run_loop`, the very code `backtest` runs), so
  every rule of `ares_cli.ml.trading.engine` holds unchanged and each combination gives bit
  for bit what `backtest` gives for the same orders;
- builds each combination's signal inside a small numba kernel, into one buffer per worker,
  so memory stays O(n_bars) per worker whatever the number of combinations;
- validates the market and the rules once, then spreads the combinations over a few threads
  (both compiled functions release the GIL).

The signal swept is the long/flat simple-moving-average crossover: long (+1) at the close of a
base bar where the SMA of the last `fast` closes is strictly above the SMA of the last `slow`
closes, flat (0) otherwise, including while either window is still filling. The SMAs come from
one running prefix sum of the closes, `(P[t + 1] - P[t + 1 - w]) / w`: O(1) per bar and window,
the same arithmetic as vectorbt's rolling mean (so both give identical signals). The prefix sum
loses about `eps * sum(close)` of absolute precision, around 1e-10 of the price for a million
bars: harmless for a crossover.

numba is imported on first use (`import ares_cli` stays light), and the kernel is cached on
disk like the engine's loop.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ares_cli.ml.trading.engine import Market, Rules, run_loop

__all__ = ["SweepResult", "sma_crossover_side", "sweep_sma_crossover"]


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced, one entry per combination (in the order given)."""

    fast: np.ndarray  # int64 fast window of each combination
    slow: np.ndarray  # int64 slow window of each combination
    final_equity: np.ndarray  # last equity mark (the account starts at 1.0)
    n_trades: np.ndarray  # int64 trades, the one closed at the end of the data included
    curves: dict[int, np.ndarray]  # combination index -> equity per base bar, as requested

    @property
    def total_return(self) -> np.ndarray:
        return self.final_equity - 1.0


def _sma_side(prefix, fast, slow, out):  # pragma: no cover - compiled by numba
    """Fill `out` with the crossover side from the prefix sums `prefix` (length n + 1)."""
    n = out.size
    start = max(fast, slow) - 1
    for t in range(min(start, n)):
        out[t] = 0
    for t in range(start, n):
        fast_ma = (prefix[t + 1] - prefix[t + 1 - fast]) / fast
        slow_ma = (prefix[t + 1] - prefix[t + 1 - slow]) / slow
        out[t] = 1 if fast_ma > slow_ma else 0


def _prefix_sum(values):  # pragma: no cover - compiled by numba
    """`P[0] = 0`, `P[i + 1] = P[i] + values[i]`, added strictly in order."""
    out = np.empty(values.size + 1)
    total = 0.0
    out[0] = 0.0
    for i in range(values.size):
        total = total + values[i]
        out[i + 1] = total
    return out


@functools.cache
def _kernels() -> tuple[Any, Any]:
    """The compiled kernels (numba imported here, on first use)."""
    from numba import njit

    compile_ = njit(cache=True, nogil=True)
    return compile_(_prefix_sum), compile_(_sma_side)


def _closes(close: np.ndarray) -> np.ndarray:
    close = np.ascontiguousarray(np.asarray(close, dtype=np.float64))
    if close.ndim != 1 or close.size == 0:
        raise ValueError("close must be a non-empty 1-D array")
    if not np.isfinite(close).all():
        raise ValueError("close must be finite (a base bar without fine bars has no close: "
                         "pass `close=` explicitly)")
    return close


def _windows(name: str, values: Sequence[int] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of windows")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} windows must be integers")
    arr = arr.astype(np.int64)
    if (arr < 1).any():
        raise ValueError(f"{name} windows must be >= 1")
    return arr


def sma_crossover_side(close: np.ndarray, fast: int, slow: int) -> np.ndarray:
    """Long/flat side per bar (int64, +1 or 0) of one (fast, slow) pair: the signal a sweep
    feeds the engine, for use with `Orders.constant` and `backtest`."""
    close = _closes(close)
    (fast_w,), (slow_w,) = _windows("fast", [fast]), _windows("slow", [slow])
    prefix_sum, sma_side = _kernels()
    out = np.empty(close.size, dtype=np.int64)
    sma_side(prefix_sum(close), int(fast_w), int(slow_w), out)
    return out


def _constant(name: str, value: float, n: int, *, upper: float = np.inf,
              nan_is_none: bool = True) -> np.ndarray:
    """One order field for every base bar (NaN means none, as in `Orders`, except for size)."""
    value = float(value)
    if np.isnan(value) and nan_is_none:
        value = 0.0
    if not 0 <= value <= upper:
        raise ValueError(f"{name} must be in [0, {upper}], got {value}")
    return np.full(n, value)


def sweep_sma_crossover(market: Market, fast: Sequence[int] | np.ndarray,
                        slow: Sequence[int] | np.ndarray, rules: Rules, *,
                        close: np.ndarray | None = None, size: float = 1.0,
                        stop: float = 0.0, target: float = 0.0, trail: float = 0.0,
                        keep_curves: Sequence[int] = (),
                        workers: int | None = None) -> SweepResult:
    """Backtest the SMA crossover for every pair `(fast[k], slow[k])` on `market`.

    Each combination trades exactly as `backtest(market, Orders.constant(side_k, size, stop,
    target, trail), rules)` with `side_k = sma_crossover_side(close, fast[k], slow[k])`
    (tested), but only the final equity and the trade count are kept, plus the full equity
    curves of the combinations listed in `keep_curves`.

    `close` is the signal's price per base bar (default: `market.base_close()`, which needs a
    fine bar in every base bar). `workers` threads share the combinations (default: the CPUs
    this process may use).
    """
    if not isinstance(rules, Rules):
        raise TypeError("rules must be a Rules")
    if market.gap is not None and np.asarray(market.gap).any():
        raise ValueError("the sweep trades one window; a market with gaps goes through "
                         "backtest, which cuts it at each gap")
    n = market.n_base
    if n == 0:
        raise ValueError("no base bars to trade on")
    closes = _closes(market.base_close() if close is None else close)
    if closes.size != n:
        raise ValueError(f"close must have one value per base bar ({n})")
    fast_w, slow_w = _windows("fast", fast), _windows("slow", slow)
    if fast_w.size != slow_w.size:
        raise ValueError("fast and slow must pair up (same length)")
    m = int(fast_w.size)
    keep = {int(k) for k in keep_curves}
    if any(not 0 <= k < m for k in keep):
        raise ValueError(f"keep_curves must index the {m} combinations")
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
    if workers < 1:
        raise ValueError("workers must be >= 1")
    workers = max(1, min(workers, m))

    sizes = _constant("size", size, n, upper=1.0, nan_is_none=False)
    stops, targets, trails = (_constant(name, value, n) for name, value in
                              (("stop", stop), ("target", target), ("trail", trail)))
    prefix_sum, sma_side = _kernels()
    prefix = prefix_sum(closes)
    prices = (market.open, market.high, market.low, market.close, market.first_fine)
    scalars = (float(rules.fee), float(rules.slippage), int(rules.max_hold), int(rules.cooldown),
               int(rules.entry_delay), bool(rules.exit_on_flat))

    final = np.empty(m)
    trades = np.empty(m, dtype=np.int64)
    curves: dict[int, np.ndarray] = {}

    def run(combos: range) -> None:
        side = np.empty(n, dtype=np.int64)  # this worker's signal buffer
        for k in combos:
            sma_side(prefix, int(fast_w[k]), int(slow_w[k]), side)
            out = run_loop(*prices, side, sizes, stops, targets, trails, *scalars)
            final[k] = out[0][-1]
            trades[k] = out[2].size
            if k in keep:
                curves[k] = out[0]

    if workers == 1 or m <= 1:
        run(range(m))
    else:
        run(range(min(m, 1)))  # compile / load both kernels once, outside the threads
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # interleaved, so each worker gets a similar mix of windows
            futures = [pool.submit(run, range(1 + w, m, workers)) for w in range(workers)]
            for future in futures:
                future.result()
    return SweepResult(fast_w, slow_w, final, trades, dict(sorted(curves.items())))
