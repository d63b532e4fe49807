"""The backtest engine: base-bar decisions, fine-bar execution, one path-dependent loop in numba.

Every step that trades (12 optimise, 13 walk-forward, 14 Monte Carlo, 15 A/B, the live signal)
goes through `backtest`, so its rules are written down here once and checked trade by trade
against a deliberately plain implementation in the tests (`tests/ml/backtest_reference.py`).

**Time grid.** Base bar `i` covers the fine bars `first_fine[i] <= j < first_fine[i + 1]` (the
last one runs to the end of the fine bars; a base bar may hold none when data are missing).
Decisions are taken at the close of a base bar, from what is known then.

**Orders** (per base bar `t`, decided at its close): `side[t]` in {-1, 0, +1}, `size[t]` in
[0, 1] (fraction of equity, cash spent including the entry fee), `stop[t]`, `target[t]` and
`trail[t]` as fractions of the entry price (0 or NaN: none).

**Rules**, applied in this order while walking the fine bars `j = 0, 1, ...`:

1. A pending exit whose fill bar is `j` fills at `open[j]`, moved against the trade by the
   slippage fraction (a long sells at `open * (1 - slip)`, a short buys at `open * (1 + slip)`).
2. A pending entry whose fill bar is `j` fills at `open[j] * (1 + side * slip)`. Units are
   `size * cash / (fill * (1 + fee))`, so cash spent with the fee is `size * cash`; a short
   receives the same notional. Stop level `fill * (1 - side * stop)`, target level
   `fill * (1 + side * target)`, trailing extreme = fill.
3. A position checks the bar's open first: an open at or beyond the effective stop (the tighter
   of stop and trailing level; equal levels count as the stop) fills the stop at that open (a
   gap); an open at or beyond the target fills the target at that open. This holds on the entry
   bar too, where only a stop closer than the entry slippage can sit at or beyond the open: it
   fills at the open rather than at a price that never traded. Then a low (long) / high (short)
   reaching the effective stop exits there; otherwise a high / low reaching the target exits at
   the target. Both inside one fine bar: the stop (conservative). The reason is "trail" when the
   trailing level was the tighter one, else "stop" / "target". Every exit fill gets the
   slippage too.
4. After the checks, the trailing extreme moves to the bar's high (long) / low (short); the
   trailing level is `extreme * (1 - side * trail)`. So a trailing stop never triggers on the
   bar whose extreme moved it.
5. At the last fine bar of base bar `t` (its close) the equity is marked at `close` and the
   decision of bar `t` is taken:
   - time: a position held `max_hold` base bars (counting its entry bar) exits at the next fine
     bar's open (`first_fine[t + 1]`), reason "time" (`max_hold = 0`: no limit);
   - signal: an opposite `side[t]`, or `side[t] == 0` with `exit_on_flat`, exits at that same
     open, reason "signal";
   - entry: with no position left after those exits, no entry pending, `side[t] != 0`,
     `size[t] > 0` and `t >= cooldown_until`, an entry is placed at fine bar
     `first_fine[t + 1] + entry_delay` (an opposite signal thus reverses at one open when
     `cooldown = 0`). After any exit in (or decided at) base bar `b`, `cooldown_until = b +
     cooldown`.
   A base bar without fine bars takes no decision; orders never fill past the last fine bar.
6. A position still open after the last fine bar exits at its close (with slippage), reason
   "end"; so does a time or signal exit decided at the last base bar (no next open exists). The
   last equity mark includes that exit and its position is flat. A gap in the data (`Market.gap`)
   cuts the window the same way: each stretch between gaps is traded as a window of its own
   (reason "gap" for the exit before one), equity carried over, gap bars flat. An open
   position is otherwise marked at the plain close, before exit costs. A base bar without fine
   bars repeats the previous mark and position.

A trade's `net_return` is its pnl over the cash committed at entry (size times equity, fee
included). Fees are charged per side on the traded value (entry: on the notional bought or
sold short; exit: on the value at the exit fill). Per-bar returns are the changes of the
equity marked at each base close, starting from 1.0.

Metrics are annualised with `bars_per_year` (crypto trades all year round: 365 days of the base
timeframe), stated beside them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

# A year of base bars is this many ms over the bar's length (365 days: crypto never closes).
YEAR_MS = 365 * 24 * 3600 * 1000

__all__ = [
    "REASONS",
    "YEAR_MS",
    "Backtest",
    "Market",
    "Orders",
    "Rules",
    "backtest",
    "compiled_loop",
    "metrics",
    "run_loop",
]

REASONS = ("target", "stop", "trail", "time", "signal", "end", "gap")
_TARGET, _STOP, _TRAIL, _TIME, _SIGNAL, _END, _GAP = range(7)
_NONE = np.int64(-1)


@dataclass(frozen=True)
class Market:
    """Prices the engine trades on: fine bars and where each base bar starts among them."""

    fine_time_us: np.ndarray  # int64 open time of each fine bar (UTC epoch µs)
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    first_fine: np.ndarray  # int64 per base bar: index of its first fine bar
    base_time_us: np.ndarray  # int64 open time of each base bar
    # per base bar: inside a gap in the data (an outage); None: no gaps. The traded window is
    # then cut there like at its end: a position open before a gap exits at the close of the
    # last bar before it (reason "gap"), and nothing trades until the data resume
    gap: np.ndarray | None = None

    @classmethod
    def from_bars(cls, base_time_us: np.ndarray, base_ms: int, fine_time_us: np.ndarray,
                  open_: np.ndarray, high: np.ndarray, low: np.ndarray,
                  close: np.ndarray) -> Market:
        """Map fine bars to base bars by time: base bar `i` holds the fine bars opening in
        `[base_time_us[i], base_time_us[i] + base_ms)`. Fine bars outside every base bar are
        dropped."""
        base_time_us = np.asarray(base_time_us, dtype=np.int64)
        fine_time_us = np.asarray(fine_time_us, dtype=np.int64)
        if base_time_us.size == 0:
            raise ValueError("no base bars to trade on")
        lo = base_time_us[0]
        hi = base_time_us[-1] + base_ms * 1000
        keep = (fine_time_us >= lo) & (fine_time_us < hi)
        ft = fine_time_us[keep]
        first = np.searchsorted(ft, base_time_us, side="left").astype(np.int64)
        return cls(ft, *(np.ascontiguousarray(np.asarray(a, dtype=np.float64)[keep])
                         for a in (open_, high, low, close)), first, base_time_us)

    @property
    def n_base(self) -> int:
        return int(self.first_fine.size)

    def base_close(self) -> np.ndarray:
        """Close of each base bar (its last fine bar's close; NaN without fine bars)."""
        last = np.append(self.first_fine[1:], self.close.size) - 1
        out = np.full(self.n_base, np.nan)
        has = last >= self.first_fine
        out[has] = self.close[last[has]]
        return out


@dataclass(frozen=True)
class Rules:
    """Scalar rules of one backtest (see the module docstring)."""

    fee: float = 0.001  # per side, fraction of traded value
    slippage: float = 0.0005  # per side, fraction of price
    max_hold: int = 0  # base bars, 0 = no limit
    cooldown: int = 0  # base bars after an exit before the next entry decision
    entry_delay: int = 0  # fine bars after the decision bar's close
    exit_on_flat: bool = False

    def __post_init__(self) -> None:
        for name in ("fee", "slippage"):
            value = getattr(self, name)
            if not 0 <= value < 0.1:
                raise ValueError(f"{name} must be in [0, 0.1), got {value}")
        for name in ("max_hold", "cooldown", "entry_delay"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class Backtest:
    """What one backtest produced."""

    returns: np.ndarray  # per base bar
    equity: np.ndarray  # per base bar, marked at its close, starting from 1.0 before bar 0
    position: np.ndarray  # side held at each base close (int8)
    trades: dict[str, np.ndarray]  # one entry per trade, columns below
    bars_per_year: float
    n_fine: int = 0  # fine bars traded on (for the exposure)

    TRADE_COLUMNS = ("entry_index", "exit_index", "side", "size", "entry_price",
                     "exit_price", "reason", "pnl", "net_return")

    @property
    def n_trades(self) -> int:
        return int(self.trades["side"].size)

    def metrics(self) -> dict[str, Any]:
        return metrics(self.returns, self.equity, self.trades, self.bars_per_year,
                       n_fine=self.n_fine)

    def trade_table(self, market: Market) -> Any:
        """The trade list as a polars table with UTC times and reason names."""
        import polars as pl

        t = self.trades
        return pl.DataFrame({
            "entry_time": market.fine_time_us[t["entry_index"]],
            "exit_time": market.fine_time_us[t["exit_index"]],
            "side": t["side"].astype(np.int8),
            "size": t["size"],
            "entry_price": t["entry_price"],
            "exit_price": t["exit_price"],
            "reason": [REASONS[r] for r in t["reason"]],
            "pnl": t["pnl"],
            "net_return": t["net_return"],
        }).with_columns(pl.col("entry_time", "exit_time").cast(pl.Datetime("us", "UTC")))


@functools.cache
def compiled_loop() -> Any:
    """The loop compiled by numba (on first use, cached on disk), so importing this module
    stays cheap (`ares --help` imports the config sections)."""
    from numba import njit

    global _CLOSE_TRADE
    # the loop calls the trade-closing helper through this global, which numba reads when it
    # compiles the loop: the jitted helper must be in place first
    _CLOSE_TRADE = njit(cache=True, nogil=True)(_close_trade)
    return njit(cache=True, nogil=True)(_loop)


def run_loop(*args: Any) -> Any:
    """Run the compiled loop (arguments as `_loop`)."""
    return compiled_loop()(*args)


# Trade record columns of the loop's `trades` array.
_T_ENTRY, _T_EXIT, _T_SIDE, _T_SIZE, _T_ENTRY_PX, _T_EXIT_PX, _T_REASON, _T_PNL, _T_RET = range(9)


def _close_trade(trades, n, entry_j, j, side, size, entry_px, exit_px, reason, units,
                 entry_cash, fee):  # pragma: no cover - compiled by numba
    """Record trade `n` leaving at the fill `exit_px` (slippage included) in fine bar `j`;
    the cash the exit brings back, its fee paid."""
    value = units * exit_px
    fee_paid = abs(value) * fee
    # entry_cash - |units| * entry_px is the entry fee
    pnl = value - fee_paid - units * entry_px - (entry_cash - abs(units) * entry_px)
    trades[n, _T_ENTRY] = entry_j
    trades[n, _T_EXIT] = j
    trades[n, _T_SIDE] = side
    trades[n, _T_SIZE] = size
    trades[n, _T_ENTRY_PX] = entry_px
    trades[n, _T_EXIT_PX] = exit_px
    trades[n, _T_REASON] = reason
    trades[n, _T_PNL] = pnl
    trades[n, _T_RET] = pnl / entry_cash
    return value - fee_paid


_CLOSE_TRADE = _close_trade  # replaced by its jitted self in `compiled_loop`


def _loop(open_, high, low, close, first_fine, side, size, stop, target, trail,
             fee, slip, max_hold, cooldown, entry_delay, exit_on_flat):  # pragma: no cover
    n_fine = open_.size
    n_base = first_fine.size
    equity = np.empty(n_base)
    position = np.zeros(n_base, dtype=np.int8)
    trades = np.empty((n_base + 1, 9))  # one entry decision per base bar at most
    n_trades = 0

    cash = 1.0
    pos = 0  # side held
    units = 0.0  # signed
    entry_px = 0.0
    entry_cash = 0.0  # cash committed at entry (incl. fee)
    entry_j = -1
    entry_bar = -1
    stop_lvl = np.nan
    target_lvl = np.nan
    trail_frac = 0.0
    extreme = 0.0
    cur_size = 0.0
    pend_exit_j = -1
    pend_exit_reason = 0
    pend_entry_j = -1
    pend_side = 0
    pend_size = 0.0
    pend_stop = 0.0
    pend_target = 0.0
    pend_trail = 0.0
    cooldown_until = 0

    b = 0  # base bar of fine bar j
    for j in range(n_fine):
        while b + 1 < n_base and first_fine[b + 1] <= j:
            b += 1
        exit_px = np.nan
        reason = -1
        # 1. pending exit at this open
        if pend_exit_j == j and pos != 0:
            exit_px = open_[j] * (1.0 - pos * slip)
            reason = pend_exit_reason
        if reason >= 0:
            cash += _CLOSE_TRADE(trades, n_trades, entry_j, j, pos, cur_size, entry_px,
                                 exit_px, reason, units, entry_cash, fee)
            n_trades += 1
            pos = 0
            units = 0.0
            pend_exit_j = -1
            reason = -1
        # 2. pending entry at this open
        if pend_entry_j == j and pos == 0:
            fill = open_[j] * (1.0 + pend_side * slip)
            entry_cash = pend_size * cash
            units = pend_side * entry_cash / (fill * (1.0 + fee))
            cash -= units * fill + abs(units) * fill * fee
            pos = pend_side
            entry_px = fill
            entry_j = j
            entry_bar = b
            cur_size = pend_size
            stop_lvl = fill * (1.0 - pos * pend_stop) if pend_stop > 0 else np.nan
            target_lvl = fill * (1.0 + pos * pend_target) if pend_target > 0 else np.nan
            trail_frac = pend_trail if pend_trail > 0 else 0.0
            extreme = fill
            pend_entry_j = -1
        elif pend_entry_j == j:
            pend_entry_j = -1
        # 3. barriers
        if pos != 0:
            trail_lvl = extreme * (1.0 - pos * trail_frac) if trail_frac > 0 else np.nan
            eff = stop_lvl
            eff_reason = _STOP
            if not np.isnan(trail_lvl) and (np.isnan(eff) or pos * (trail_lvl - eff) > 0):
                eff = trail_lvl
                eff_reason = _TRAIL
            if not np.isnan(eff) and pos * (open_[j] - eff) <= 0:
                exit_px = open_[j]
                reason = eff_reason
            elif not np.isnan(target_lvl) and pos * (open_[j] - target_lvl) >= 0:
                exit_px = open_[j]
                reason = _TARGET
            if reason < 0:
                worst = low[j] if pos > 0 else high[j]
                best = high[j] if pos > 0 else low[j]
                if not np.isnan(eff) and pos * (worst - eff) <= 0:
                    exit_px = eff
                    reason = eff_reason
                elif not np.isnan(target_lvl) and pos * (best - target_lvl) >= 0:
                    exit_px = target_lvl
                    reason = _TARGET
            if reason >= 0:
                cash += _CLOSE_TRADE(trades, n_trades, entry_j, j, pos, cur_size, entry_px,
                                     exit_px * (1.0 - pos * slip), reason, units, entry_cash,
                                     fee)
                n_trades += 1
                pos = 0
                units = 0.0
                pend_exit_j = -1
                cooldown_until = b + cooldown
            else:
                # 4. trailing extreme
                if pos > 0 and high[j] > extreme:
                    extreme = high[j]
                elif pos < 0 and low[j] < extreme:
                    extreme = low[j]
        # 5. base close: mark and decide
        last_of_bar = (j + 1 == n_fine) or (b + 1 < n_base and first_fine[b + 1] == j + 1)
        if not last_of_bar:
            continue
        if j + 1 == n_fine:
            # fill the rest of the base bars (none have fine bars) after the end exit below
            break
        t = b
        nxt = first_fine[t + 1]
        if pos != 0:
            if max_hold > 0 and t - entry_bar + 1 >= max_hold:
                pend_exit_j = nxt
                pend_exit_reason = _TIME
            elif int(side[t]) == -pos or (exit_on_flat and side[t] == 0):
                pend_exit_j = nxt
                pend_exit_reason = _SIGNAL
            if pend_exit_j == nxt:
                cooldown_until = t + cooldown
        flat_after = pos == 0 or pend_exit_j == nxt
        if (flat_after and pend_entry_j < 0 and side[t] != 0 and size[t] > 0
                and t >= cooldown_until):
            target_j = nxt + entry_delay
            if target_j < n_fine:
                pend_entry_j = target_j
                pend_side = int(side[t])
                pend_size = size[t]
                pend_stop = stop[t] if not np.isnan(stop[t]) else 0.0
                pend_target = target[t] if not np.isnan(target[t]) else 0.0
                pend_trail = trail[t] if not np.isnan(trail[t]) else 0.0
        equity[t] = cash + units * close[j]
        position[t] = pos
    # 6. end of data
    if n_fine > 0 and pos != 0:
        j = n_fine - 1
        cash += _CLOSE_TRADE(trades, n_trades, entry_j, j, pos, cur_size, entry_px,
                             close[j] * (1.0 - pos * slip), _END, units, entry_cash, fee)
        n_trades += 1
        pos = 0
        units = 0.0
    # marks of the base bars from the one holding the last fine bar to the end
    start = b if n_fine > 0 else 0
    for t in range(start, n_base):
        equity[t] = cash
        position[t] = 0
    # base bars with no fine bar before the end carry the previous mark
    prev = 1.0
    prev_pos = 0
    for t in range(start):
        nxt_first = first_fine[t + 1]
        if nxt_first == first_fine[t]:
            equity[t] = prev
            position[t] = prev_pos
        prev = equity[t]
        prev_pos = position[t]
    done = trades[:n_trades]
    return (equity, position, done[:, _T_ENTRY].astype(np.int64),
            done[:, _T_EXIT].astype(np.int64), done[:, _T_SIDE].astype(np.int8),
            done[:, _T_SIZE].copy(), done[:, _T_ENTRY_PX].copy(), done[:, _T_EXIT_PX].copy(),
            done[:, _T_REASON].astype(np.int8), done[:, _T_PNL].copy(),
            done[:, _T_RET].copy())


@dataclass(frozen=True)
class Orders:
    """What the strategy wants at each base close (arrays of the base bars' length)."""

    side: np.ndarray  # -1, 0, +1
    size: np.ndarray  # fraction of equity in [0, 1]
    stop: np.ndarray  # fraction of the entry price, 0 / NaN = none
    target: np.ndarray
    trail: np.ndarray

    @classmethod
    def constant(cls, side: np.ndarray, size: float = 1.0, stop: float = 0.0,
                 target: float = 0.0, trail: float = 0.0) -> Orders:
        n = np.asarray(side).size
        return cls(np.asarray(side), np.full(n, size), np.full(n, stop), np.full(n, target),
                   np.full(n, trail))


def backtest(market: Market, orders: Orders, rules: Rules, *,
             bars_per_year: float) -> Backtest:
    """Trade `orders` on `market` under `rules` (see the module docstring)."""
    n = market.n_base
    side = np.asarray(orders.side)
    for name in ("side", "size", "stop", "target", "trail"):
        if np.asarray(getattr(orders, name)).shape != (n,):
            raise ValueError(f"orders.{name} must have one value per base bar ({n})")
    side_i = np.ascontiguousarray(side, dtype=np.int64)
    if not (((side_i >= -1) & (side_i <= 1)).all() and (side_i == side).all()):
        raise ValueError("orders.side must be -1, 0 or +1")
    size = np.asarray(orders.size, dtype=np.float64)
    if ((size < 0) | (size > 1) | ~np.isfinite(size))[side != 0].any():
        raise ValueError("orders.size must be in [0, 1] where a side is given")
    arrays = [np.ascontiguousarray(np.asarray(getattr(orders, k), dtype=np.float64))
              for k in ("stop", "target", "trail")]
    for name, a in zip(("stop", "target", "trail"), arrays, strict=True):
        if (a < 0).any():  # NaN compares False: "none", allowed
            raise ValueError(f"orders.{name} must be >= 0")
    size = np.nan_to_num(size)
    scalars = (float(rules.fee), float(rules.slippage), int(rules.max_hold),
               int(rules.cooldown), int(rules.entry_delay), bool(rules.exit_on_flat))
    if market.gap is None or not np.asarray(market.gap).any():
        out = run_loop(market.open, market.high, market.low, market.close, market.first_fine,
                       side_i, size, *arrays, *scalars)
        equity, position = out[0], out[1]
        trades = dict(zip(Backtest.TRADE_COLUMNS, out[2:], strict=True))
    else:
        equity, position, trades = _across_gaps(market, side_i, size, arrays, scalars)
    returns = np.diff(equity, prepend=1.0) / np.concatenate(([1.0], equity[:-1]))
    return Backtest(returns, equity, position, trades, float(bars_per_year),
                    int(market.open.size))


def _across_gaps(market: Market, side: np.ndarray, size: np.ndarray, arrays: list[np.ndarray],
                 scalars: tuple[Any, ...]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The loop on each stretch of base bars between gaps, as if each were a window of its
    own, chained: equity carries over (every quantity scales with it), gap bars hold flat."""
    n = market.n_base
    gap = np.asarray(market.gap, dtype=bool)
    edges = np.diff(np.concatenate(([1], gap.astype(np.int8), [1])))
    starts, ends = np.flatnonzero(edges == -1), np.flatnonzero(edges == 1)
    equity = np.ones(n)
    position = np.zeros(n, dtype=np.int8)
    parts: list[dict[str, np.ndarray]] = []
    level, done = 1.0, 0
    n_fine = market.open.size
    for a, b in zip(starts, ends, strict=True):
        equity[done:a] = level  # the gap bars before this stretch: flat
        lo = int(market.first_fine[a])
        hi = int(market.first_fine[b]) if b < n else n_fine
        out = run_loop(market.open[lo:hi], market.high[lo:hi], market.low[lo:hi],
                       market.close[lo:hi], market.first_fine[a:b] - lo, side[a:b], size[a:b],
                       *(x[a:b] for x in arrays), *scalars)
        equity[a:b] = out[0] * level
        position[a:b] = out[1]
        trades = dict(zip(Backtest.TRADE_COLUMNS, out[2:], strict=True))
        trades["entry_index"] = trades["entry_index"] + lo
        trades["exit_index"] = trades["exit_index"] + lo
        trades["pnl"] = trades["pnl"] * level
        if b < n:  # cut by the gap, not by the window's end
            trades["reason"] = np.where(trades["reason"] == _END, _GAP, trades["reason"])
        parts.append(trades)
        level, done = float(equity[b - 1]), b
    equity[done:] = level
    if not parts:  # every bar a gap: no trade, with the loop's own column types
        parts = [dict(zip(Backtest.TRADE_COLUMNS, run_loop(
            market.open[:0], market.high[:0], market.low[:0], market.close[:0],
            market.first_fine[:0], side[:0], size[:0], *(x[:0] for x in arrays),
            *scalars)[2:], strict=True))]
    merged = {k: np.concatenate([p[k] for p in parts]) for k in Backtest.TRADE_COLUMNS}
    return equity, position, merged


def metrics(returns: np.ndarray, equity: np.ndarray, trades: dict[str, np.ndarray],
            bars_per_year: float, *, n_fine: int = 0) -> dict[str, Any]:
    """Total return, CAGR, Sharpe, Sortino, maximum drawdown, Calmar, win rate, profit factor,
    exposure and trade count. Ratios that divide by zero are None, never infinite.

    Exposure is the share of fine bars from a trade's entry bar to its exit bar (inclusive),
    so trades that open and close between two base closes count."""
    n = returns.size
    total = float(equity[-1] - 1.0) if n else 0.0
    years = n / bars_per_year if bars_per_year > 0 else 0.0
    cagr = float((1.0 + total) ** (1.0 / years) - 1.0) if years > 0 and total > -1 else None
    sd = float(returns.std(ddof=1)) if n > 1 else 0.0
    ann = float(np.sqrt(bars_per_year))
    sharpe = float(returns.mean() / sd * ann) if sd > 0 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))) if n else 0.0
    sortino = float(returns.mean() / downside * ann) if downside > 0 else None
    peak = np.maximum.accumulate(np.concatenate(([1.0], equity)))
    max_dd = float(np.max(1.0 - np.concatenate(([1.0], equity)) / peak)) if n else 0.0
    pnl = trades["pnl"]
    wins, losses = pnl[pnl > 0].sum(), -pnl[pnl < 0].sum()
    return {
        "total_return": total,
        "cagr": cagr,
        "sharpe": sharpe,
        "sortino": sortino,
        "max_drawdown": max_dd,
        "calmar": (cagr / max_dd) if cagr is not None and max_dd > 0 else None,
        "win_rate": float((pnl > 0).mean()) if pnl.size else None,
        "profit_factor": float(wins / losses) if losses > 0 else None,
        "exposure": (float(np.sum(trades["exit_index"] - trades["entry_index"] + 1)) / n_fine
                     if n_fine else 0.0),
        "trades": int(pnl.size),
        "bars": int(n),
        "bars_per_year": float(bars_per_year),
    }
