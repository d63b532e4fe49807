"""A deliberately plain implementation of the backtest rules, to check the numba engine against.

Written from the module docstring of `ares_cli.ml.trading.engine` alone (the SPECIFICATION),
without looking at the body of `run_loop`. It walks the fine bars one by one and applies the
numbered rules of the docstring in order. Clarity over speed: no numpy tricks, one small class for
the open position and one function per rule.

Where the docstring leaves a choice open, the choice made here is marked `AMBIGUITY:` below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ares_cli.ml.trading.engine import Market, Orders, Rules


def _given(fraction: float) -> bool:
    """A stop / target / trail fraction is in force unless it is 0 or NaN."""
    return not math.isnan(fraction) and fraction != 0.0


@dataclass
class Position:
    """The one open position."""

    side: int  # +1 long, -1 short
    size: float  # fraction of equity that was committed
    units: float
    entry_index: int  # fine bar of the entry fill
    entry_base: int  # base bar holding that fine bar
    entry_price: float  # the fill, slippage included
    committed: float  # size * cash at entry: cash spent (long) / notional + fee basis (short)
    stop_level: float | None
    target_level: float | None
    trail: float | None  # fraction, None = no trailing stop
    extreme: float  # trailing extreme: highest high (long) / lowest low (short) so far

    def trail_level(self) -> float | None:
        if self.trail is None:
            return None
        return self.extreme * (1 - self.side * self.trail)

    def effective_stop(self) -> tuple[float, str] | None:
        """The tighter of the stop and the trailing level, with its reason name.

        AMBIGUITY: when the two levels are exactly equal (e.g. stop == trail before the price
        has moved), "the trailing level was the tighter one" is read strictly: reason "stop"."""
        stop, trail = self.stop_level, self.trail_level()
        if stop is None and trail is None:
            return None
        if trail is None:
            return stop, "stop"
        if stop is None:
            return trail, "trail"
        # Long: the higher level is tighter; short: the lower one.
        if self.side * (trail - stop) > 0:
            return trail, "trail"
        return stop, "stop"


@dataclass
class PendingEntry:
    fill_bar: int
    side: int
    size: float
    stop: float
    target: float
    trail: float


@dataclass
class PendingExit:
    fill_bar: int
    reason: str


@dataclass
class Trade:
    entry_index: int
    exit_index: int
    side: int
    size: float
    entry_price: float
    exit_price: float
    reason: str
    pnl: float
    net_return: float


@dataclass
class ReferenceBacktest:
    market: Market
    orders: Orders
    rules: Rules
    cash: float = 1.0
    position: Position | None = None
    pending_entry: PendingEntry | None = None
    pending_exit: PendingExit | None = None
    cooldown_until: int = 0
    trades: list[Trade] = field(default_factory=list)

    # ---- time grid -------------------------------------------------------------------------

    def __post_init__(self) -> None:
        m = self.market
        self.n_fine = len(m.open)
        self.n_base = len(m.first_fine)
        self.first_fine = [int(x) for x in m.first_fine]
        # base_of[j]: the base bar holding fine bar j; closes[j]: the base bar that fine bar j
        # closes (its last fine bar), if any.
        self.base_of: list[int] = [-1] * self.n_fine
        self.closes: dict[int, int] = {}
        for b in range(self.n_base):
            start, stop = self.fine_range(b)
            for j in range(start, stop):
                self.base_of[j] = b
            if stop > start:
                self.closes[stop - 1] = b

    def fine_range(self, b: int) -> tuple[int, int]:
        start = self.first_fine[b]
        stop = self.first_fine[b + 1] if b + 1 < self.n_base else self.n_fine
        return start, stop

    def next_open(self, t: int) -> int:
        """`first_fine[t + 1]`: the fine bar after base bar t (n_fine past the last one)."""
        return self.first_fine[t + 1] if t + 1 < self.n_base else self.n_fine

    # ---- cash bookkeeping ------------------------------------------------------------------

    def open_position(self, j: int, entry: PendingEntry) -> None:
        """Rule 2: fill at open[j] * (1 + side * slip)."""
        fee, slip = self.rules.fee, self.rules.slippage
        side = entry.side
        fill = float(self.market.open[j]) * (1 + side * slip)
        committed = entry.size * self.cash
        units = entry.size * self.cash / (fill * (1 + fee))
        # Long: pays units * fill plus the fee (= size * cash). Short: receives the notional
        # units * fill and pays the fee on it.
        self.cash -= side * units * fill + fee * units * fill
        self.position = Position(
            side=side, size=entry.size, units=units, entry_index=j, entry_base=self.base_of[j],
            entry_price=fill, committed=committed,
            stop_level=fill * (1 - side * entry.stop) if _given(entry.stop) else None,
            target_level=fill * (1 + side * entry.target) if _given(entry.target) else None,
            trail=entry.trail if _given(entry.trail) else None,
            extreme=fill)

    def close_position(self, j: int, price: float, reason: str) -> None:
        """Exit at `price` moved against the trade by the slippage; fee on the exit value.

        AMBIGUITY: the trade's `net_return` is not defined by the docstring; here it is the pnl
        over the cash committed at entry (size * equity then, fee included)."""
        pos = self.position
        assert pos is not None
        fee, slip = self.rules.fee, self.rules.slippage
        fill = price * (1 - pos.side * slip)
        self.cash += pos.side * pos.units * fill - fee * pos.units * fill
        pnl = (pos.side * pos.units * (fill - pos.entry_price)
               - fee * pos.units * (pos.entry_price + fill))
        self.trades.append(Trade(pos.entry_index, j, pos.side, pos.size, pos.entry_price, fill,
                                 reason, pnl, pnl / pos.committed))
        self.position = None

    def mark(self, price: float) -> float:
        """Equity at a base close: cash plus the open position at `price`.

        AMBIGUITY: an open position is marked at the plain close, without the fee or slippage
        its exit would cost."""
        if self.position is None:
            return self.cash
        return self.cash + self.position.side * self.position.units * price

    # ---- the rules -------------------------------------------------------------------------

    def exit_in_bar(self, j: int) -> None:
        """Rule 3: gap at the open (also on the entry bar), then the range."""
        pos = self.position
        assert pos is not None
        side = pos.side
        o, h, lo = (float(a[j]) for a in (self.market.open, self.market.high, self.market.low))
        eff = pos.effective_stop()
        target = pos.target_level
        # the open is checked on every bar, the entry bar included
        if eff is not None and side * (o - eff[0]) <= 0:  # open at or beyond the stop
            self.close_position(j, o, eff[1])
        elif target is not None and side * (o - target) >= 0:  # at or beyond the target
            self.close_position(j, o, "target")
        if self.position is None:
            self.cooldown_until = self.base_of[j] + self.rules.cooldown
            return
        stop_hit = eff is not None and (lo <= eff[0] if side > 0 else h >= eff[0])
        target_hit = target is not None and (h >= target if side > 0 else lo <= target)
        if stop_hit:  # both inside one fine bar: the stop (conservative)
            self.close_position(j, eff[0], eff[1])
        elif target_hit:
            self.close_position(j, target, "target")
        if self.position is None:
            self.cooldown_until = self.base_of[j] + self.rules.cooldown

    def move_trail(self, j: int) -> None:
        """Rule 4. AMBIGUITY: "moves to the bar's high" is read as a ratchet (max for a long,
        min for a short), never backwards; the first extreme is the fill itself."""
        pos = self.position
        assert pos is not None
        if pos.side > 0:
            pos.extreme = max(pos.extreme, float(self.market.high[j]))
        else:
            pos.extreme = min(pos.extreme, float(self.market.low[j]))

    def decide(self, t: int) -> None:
        """Rule 5 (after the equity mark): time exit, signal exit, entry."""
        rules, orders = self.rules, self.orders
        want = int(orders.side[t])
        nxt = self.next_open(t)
        pos = self.position
        if pos is not None and self.pending_exit is None:
            reason = None
            # AMBIGUITY: "held max_hold base bars (counting its entry bar)" counts base-bar
            # indices (empty base bars included) and uses >=, so a decision skipped by an empty
            # bar is taken at the next one. When both time and signal apply, the reason is
            # "time" (it is listed first).
            if rules.max_hold > 0 and t - pos.entry_base + 1 >= rules.max_hold:
                reason = "time"
            elif want == -pos.side or (want == 0 and rules.exit_on_flat):
                reason = "signal"
            if reason is not None:
                # AMBIGUITY: at the last base bar the next open does not exist ("orders never
                # fill past the last fine bar"): the exit is dropped and rule 6 closes the
                # position at the last close with reason "end".
                if nxt < self.n_fine:
                    self.pending_exit = PendingExit(nxt, reason)
                # AMBIGUITY: for an exit decided at base bar t, b is the decision bar t (not the
                # base bar where the exit fills).
                self.cooldown_until = t + rules.cooldown
        flat = self.position is None or self.pending_exit is not None
        size = float(orders.size[t])
        if (flat and self.pending_entry is None and want != 0 and size > 0
                and t >= self.cooldown_until):
            fill_bar = nxt + rules.entry_delay
            if fill_bar < self.n_fine:  # orders never fill past the last fine bar
                # AMBIGUITY: stop / target / trail are those of the decision bar t, also when
                # entry_delay makes the fill happen in a later base bar. A pending entry is
                # never cancelled by later decisions.
                self.pending_entry = PendingEntry(fill_bar, want, size, float(orders.stop[t]),
                                                  float(orders.target[t]),
                                                  float(orders.trail[t]))

    def run(self) -> dict:
        n_base = self.n_base
        equity: list[float | None] = [None] * n_base
        position: list[int | None] = [None] * n_base
        for j in range(self.n_fine):
            # 1. pending exit
            if self.pending_exit is not None and self.pending_exit.fill_bar == j:
                self.close_position(j, float(self.market.open[j]), self.pending_exit.reason)
                self.pending_exit = None
            # 2. pending entry
            if self.pending_entry is not None and self.pending_entry.fill_bar == j:
                assert self.position is None, "an entry can only fill when flat"
                self.open_position(j, self.pending_entry)
                self.pending_entry = None
            # 3. stop / target / trail, 4. trailing extreme
            if self.position is not None:
                self.exit_in_bar(j)
            if self.position is not None:
                self.move_trail(j)
            # 5. the close of a base bar
            if j in self.closes:
                t = self.closes[j]
                equity[t] = self.mark(float(self.market.close[j]))
                position[t] = self.position.side if self.position is not None else 0
                self.decide(t)
        # 6. end of data
        if self.position is not None:
            last = self.n_fine - 1
            self.close_position(last, float(self.market.close[last]), "end")
            # "the last equity mark includes that exit": the mark of the last base bar that has
            # fine bars. AMBIGUITY: is the `position` of that mark the side held into the close
            # or flat? Read here as flat, consistent with an equity mark that includes the exit
            # (the engine agrees).
            equity[self.base_of[last]] = self.cash
            position[self.base_of[last]] = 0
        # A base bar without fine bars has no close: it repeats the previous mark and position
        # (1.0 and flat before the first fine bar).
        # AMBIGUITY: not stated in the docstring; "takes no decision" is all it says.
        prev_eq, prev_pos = 1.0, 0
        for t in range(n_base):
            if equity[t] is None:
                equity[t], position[t] = prev_eq, prev_pos
            prev_eq, prev_pos = equity[t], position[t]
        return {"equity": equity, "position": position, "trades": self.trades}


def reference_backtest(market: Market, orders: Orders, rules: Rules) -> dict:
    """Per base bar `equity` and `position` (lists) and the list of `trades` (`Trade`)."""
    return ReferenceBacktest(market, orders, rules).run()


def trade_columns(trades: list[Trade]) -> dict[str, list]:
    """The trades as columns named like `Backtest.trades` (reason as the name)."""
    names = ("entry_index", "exit_index", "side", "size", "entry_price", "exit_price", "reason",
             "pnl", "net_return")
    return {k: [getattr(tr, k) for tr in trades] for k in names}


__all__ = ["Trade", "reference_backtest", "trade_columns"]
