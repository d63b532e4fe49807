"""Meta-labels for the tactician (step 8): would the analyst's proposed trade have paid?

A proposed trade is decided at the close of a base bar, on a side (+1 long, -1 short). It is
entered at the open of the first fine bar that starts at or after that close, with a stop and a
target at multiples of the bar's causal volatility from the entry price and a time limit. The
trade is then walked along the fine bars in time order:

- the first fine bar whose low (long) / high (short) reaches the stop, or whose high / low
  reaches the target, ends it; if one fine bar reaches both, the order inside it is unknown and
  the stop is taken (the conservative choice) — unless the bar opened beyond the target, when
  the open fills the target first;
- a stop is filled at the stop price, or at the bar's open when the bar opens beyond it (a gap);
  a target at the target price, or at the open when the bar opens beyond it;
- if neither is reached, the trade leaves at the close of the last fine bar that starts before
  the time limit; when the data end before that limit and nothing was reached, the outcome is
  unknown and the event gets no label.

The net return charges `cost_per_side` (fees plus slippage, as a fraction) on entry and exit;
the meta-label is 1 when the net return is positive (break-even is not). Each event keeps its
exit time `t1` (close of the exit fine bar) for purging. Everything is NumPy: the forward
windows are sliding views over the fine bars, the first touch an `argmax`, processed in chunks
to bound memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["REASONS", "MetaLabels", "meta_labels"]

REASONS = ("target", "stop", "time")
_TARGET, _STOP, _TIME = 0, 1, 2
_CHUNK_CELLS = 1 << 22  # window cells (events x fine bars) materialised at once
_PAID = 1e-12  # a net return must exceed this to count as paid (break-even is not)


@dataclass(frozen=True)
class MetaLabels:
    """Per event (NaN / -1 where the event has no label)."""

    labelled: np.ndarray  # bool: the outcome is known
    entry_index: np.ndarray  # fine bar of entry (int64, -1 without one)
    entry_price: np.ndarray
    exit_index: np.ndarray  # fine bar of exit (int64, -1 without one)
    exit_price: np.ndarray
    t1_us: np.ndarray  # close time of the exit fine bar, epoch µs (int64, -1 without one)
    reason: np.ndarray  # int8 index into REASONS (-1 without one)
    gross_return: np.ndarray  # side * (exit / entry - 1)
    net_return: np.ndarray  # gross - 2 * cost_per_side
    y: np.ndarray  # float: 1.0 paid, 0.0 did not, NaN unlabelled


def meta_labels(
    fine_start_us: np.ndarray,
    fine_open: np.ndarray,
    fine_high: np.ndarray,
    fine_low: np.ndarray,
    fine_close: np.ndarray,
    *,
    fine_ms: int,
    decision_close_us: np.ndarray,
    side: np.ndarray,
    sigma: np.ndarray,
    k_target: float,
    k_stop: float,
    max_hold_ms: int,
    cost_per_side: float,
) -> MetaLabels:
    """Resolve each proposed trade on the fine path (see the module docstring).

    Args:
        fine_start_us: fine bar open times (epoch µs), ascending, contiguous bars.
        fine_open, fine_high, fine_low, fine_close: the fine bars' prices.
        fine_ms: fine bar length in milliseconds.
        decision_close_us: close time of each event's decision bar (epoch µs).
        side: +1 (long) or -1 (short) per event.
        sigma: the decision bar's causal volatility as a fraction; the target sits
            `k_target * sigma` and the stop `k_stop * sigma` from the entry price.
        max_hold_ms: the time limit after entry.
        cost_per_side: fees plus slippage per side, as a fraction of price.
    """
    starts = np.asarray(fine_start_us, dtype=np.int64)
    o, h, lo, c = (np.asarray(a, dtype=np.float64) for a in
                   (fine_open, fine_high, fine_low, fine_close))
    decided = np.asarray(decision_close_us, dtype=np.int64)
    sides = np.asarray(side, dtype=np.float64)
    sig = np.asarray(sigma, dtype=np.float64)
    if k_target <= 0 or k_stop <= 0 or max_hold_ms <= 0 or cost_per_side < 0:
        raise ValueError("k_target, k_stop and max_hold_ms must be > 0, cost_per_side >= 0")
    if not np.isin(sides, (-1.0, 1.0)).all():
        raise ValueError("side must be +1 (long) or -1 (short)")
    n_fine, n = starts.size, decided.size
    if n_fine == 0:
        raise ValueError("meta_labels needs fine bars")
    fine_us = int(fine_ms) * 1000
    window = max(1, -(-int(max_hold_ms) // int(fine_ms)))  # fine bars in the holding period

    entry = np.searchsorted(starts, decided, side="left")
    has_entry = (entry < n_fine) & np.isfinite(sig) & (sig > 0)
    entry_c = np.minimum(entry, n_fine - 1)
    entry_price = np.where(has_entry, o[entry_c], np.nan)
    has_entry &= np.isfinite(entry_price) & (entry_price > 0)
    target = entry_price * (1.0 + sides * k_target * sig)
    stop = entry_price * (1.0 - sides * k_stop * sig)
    # Last fine bar that starts before the time limit; the window may run past the data.
    deadline = starts[entry_c] + int(max_hold_ms) * 1000
    last = np.searchsorted(starts, deadline, side="left") - 1
    complete = has_entry & (deadline <= starts[-1] + fine_us)

    pad = np.full(window, np.nan)
    highs, lows = np.concatenate([h, pad]), np.concatenate([lo, pad])
    first_target = np.full(n, window, dtype=np.int64)
    first_stop = np.full(n, window, dtype=np.int64)
    rows = np.flatnonzero(has_entry)
    chunk = max(1, _CHUNK_CELLS // window)
    view_h = sliding_window_view(highs, window)
    view_l = sliding_window_view(lows, window)
    offsets = np.arange(window)
    for begin in range(0, rows.size, chunk):
        part = rows[begin: begin + chunk]
        wh, wl = view_h[entry[part]], view_l[entry[part]]
        inside = offsets[None, :] <= (last[part] - entry[part])[:, None]
        long = sides[part][:, None] > 0
        hit_t = inside & np.where(long, wh >= target[part][:, None],
                                  wl <= target[part][:, None])
        hit_s = inside & np.where(long, wl <= stop[part][:, None], wh >= stop[part][:, None])
        first_target[part] = np.where(hit_t.any(axis=1), hit_t.argmax(axis=1), window)
        first_stop[part] = np.where(hit_s.any(axis=1), hit_s.argmax(axis=1), window)

    touched = has_entry & ((first_target < window) | (first_stop < window))
    # Same fine bar: the stop, unless that bar opened beyond the target (the open fills first).
    same = touched & (first_stop == first_target)
    opened = o[np.minimum(np.where(has_entry, entry + first_target, 0), n_fine - 1)]
    gapped_target = same & np.where(sides > 0, opened >= target, opened <= target)
    by_stop = touched & (first_stop <= first_target) & ~gapped_target
    by_target = touched & ~by_stop
    timed = complete & ~touched
    labelled = touched | timed

    exit_index = np.full(n, -1, dtype=np.int64)
    exit_index[by_stop] = entry[by_stop] + first_stop[by_stop]
    exit_index[by_target] = entry[by_target] + first_target[by_target]
    exit_index[timed] = last[timed]
    at = np.maximum(exit_index, 0)
    gap_open = o[at]
    exit_price = np.full(n, np.nan)
    # Fills: at the level, or at the open when the bar opens beyond it.
    long_rows = sides > 0
    stop_fill = np.where(long_rows, np.minimum(stop, gap_open), np.maximum(stop, gap_open))
    target_fill = np.where(long_rows, np.maximum(target, gap_open),
                           np.minimum(target, gap_open))
    exit_price[by_stop] = stop_fill[by_stop]
    exit_price[by_target] = target_fill[by_target]
    exit_price[timed] = c[at][timed]

    reason = np.full(n, -1, dtype=np.int8)
    reason[by_target], reason[by_stop], reason[timed] = _TARGET, _STOP, _TIME
    gross = np.where(labelled, sides * (exit_price / entry_price - 1.0), np.nan)
    net = gross - 2.0 * cost_per_side
    t1 = np.where(labelled, starts[at] + fine_us, -1)
    return MetaLabels(
        labelled=labelled,
        entry_index=np.where(has_entry, entry, -1),
        entry_price=np.where(has_entry, entry_price, np.nan),
        exit_index=exit_index,
        exit_price=exit_price,
        t1_us=t1,
        reason=reason,
        gross_return=gross,
        net_return=net,
        y=np.where(labelled, (net > _PAID).astype(np.float64), np.nan),
    )
