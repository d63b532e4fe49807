"""Holes in the data: trade ids missing between the trades a source gave (step 1), and stretches
of base bars with no data at all (step 2).

A stretch of at least `data.max_gap` base bars without a trade or a candle is one of two things:

* a **gap** (an exchange outage, a download that lost pages): candles are missing, or the trade
  ids on either side of it are not consecutive, so trades happened that the data do not hold;
* a **quiet stretch**: the trade ids on either side are consecutive, so nothing traded; the
  market was quiet, and the bars are real (flat) bars.

Gaps are data facts the steps act on: no label and no trade spans one (they are cut like a
window edge). Features carry across a gap (each rolling statistic sees the filled, flat bars):
restarting a 168-bar warm-up after each of a history's 28 outages would mask about a week each.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ares_cli.data.chunks import TradeChunks
from ares_cli.data.id_holes import IdHoles

__all__ = ["GAP_COLUMN", "bar_gaps", "gap_flags", "gaps_between", "gaps_in", "missing_trade_ids"]

GAP_COLUMN = "gap"  # the base bars' column: True inside a gap


def missing_trade_ids(trades: pl.DataFrame | TradeChunks) -> dict[str, Any]:
    """Holes in the trade ids: how many, how many ids in all and their share of the ids the
    span should hold, and the longest hole (in ids, with the seconds between the trades that
    bound it and where it starts).

    Day chunks whose id ranges follow each other are read one at a time, each with the
    previous chunk's largest id carried in front; chunks whose ranges overlap (ids out of
    time order across days) are read whole, ids and times only."""
    if isinstance(trades, TradeChunks):
        if trades.id_holes is not None:  # counted as the chunks were written
            return trades.id_holes
        if trades.ids_in_order():
            parts = trades.frames(["trade_id", "timestamp"])
        else:
            parts = iter([pl.concat(list(trades.frames(["trade_id", "timestamp"])))])
    else:
        parts = iter([trades.select("trade_id", "timestamp")])
    holes = IdHoles()
    for part in parts:
        holes.add(part)
    return holes.result()


def bar_gaps(base: pl.DataFrame, trade_ids: pl.DataFrame | None, *, base_ms: int,
             max_gap: int) -> tuple[np.ndarray, dict[str, Any]]:
    """(per base bar: inside a gap, the facts): runs of at least `max_gap` filled base bars
    are gaps, unless trades bound them with consecutive ids (a quiet stretch).

    `trade_ids` holds, per base bar with trades, the id of its first and last trade in time
    order (`timestamp`, `first_id`, `last_id`, as `bars_from_chunks` gives them); None for
    candles, which carry no ids."""
    filled = base["filled"].to_numpy().astype(bool)
    runs = _runs(filled)
    runs = runs[runs[:, 1] - runs[:, 0] >= max_gap] if runs.size else runs
    quiet = np.zeros(len(runs), dtype=bool)
    if trade_ids is not None and trade_ids.height and len(runs):
        quiet = _bounded_by_consecutive_ids(base, trade_ids, runs)
    gap = np.zeros(filled.size, dtype=bool)
    for a, b in runs[~quiet]:
        gap[a:b] = True
    lengths = runs[:, 1] - runs[:, 0] if len(runs) else np.zeros(0, dtype=np.int64)
    facts: dict[str, Any] = {
        "max_gap_bars": max_gap,
        "gaps": int((~quiet).sum()),
        "gap_bars": int(gap.sum()),
        "gap_share": float(gap.mean()) if gap.size else 0.0,
        "quiet_stretches": int(quiet.sum()),
        "quiet_bars": int(lengths[quiet].sum()),
        "longest_gap": None,
    }
    if facts["gaps"]:
        k = int(np.argmax(np.where(~quiet, lengths, -1)))
        a, b = runs[k]
        hours = float(lengths[k]) * base_ms / 3_600_000
        facts["longest_gap"] = {"bars": int(lengths[k]), "hours": hours,
                                "start": base["timestamp"][int(a)].isoformat(),
                                "end": base["timestamp"][int(b) - 1].isoformat()}
    return gap, facts


def gap_flags(bars: pl.DataFrame) -> np.ndarray:
    """The bars' gap column as booleans; none for bars built without one (e.g. `ares signal`'s
    fresh bars, where the data is the exchange's own recent history)."""
    if GAP_COLUMN not in bars.columns:
        return np.zeros(bars.height, dtype=bool)
    return bars[GAP_COLUMN].fill_null(False).to_numpy().astype(bool)


def gaps_between(gap: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Per span [start, end] of base bar indices (inclusive): whether a gap bar lies in it."""
    cum = np.concatenate(([0], np.cumsum(gap, dtype=np.int64)))
    start = np.clip(np.asarray(start, dtype=np.int64), 0, gap.size)
    end = np.clip(np.asarray(end, dtype=np.int64) + 1, 0, gap.size)
    return (cum[np.maximum(end, start)] - cum[start]) > 0


def gaps_in(gap: np.ndarray, start: int, end: int) -> dict[str, int]:
    """How many gaps touch the bars [start, end), and how many of those bars they hold."""
    part = gap[start:end]
    return {"gaps": len(_runs(part)), "gap_bars": int(part.sum())}


def _runs(mask: np.ndarray) -> np.ndarray:
    """[start, end) of each run of True, as an (n, 2) array."""
    if not mask.any():
        return np.zeros((0, 2), dtype=np.int64)
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return np.column_stack((np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _bounded_by_consecutive_ids(base: pl.DataFrame, trade_ids: pl.DataFrame,
                                runs: np.ndarray) -> np.ndarray:
    """Per run: whether the last trade before it and the first after it have consecutive ids.

    A run is a maximal stretch of bars without trades, so the last trade before it is the last
    of the bar just before, and the first after it the first of the bar just after."""
    ids = base.select("timestamp").join(trade_ids, on="timestamp", how="left",
                                        maintain_order="left")
    first = ids["first_id"].fill_null(0).to_numpy()
    last = ids["last_id"].fill_null(0).to_numpy()
    before, after = runs[:, 0] - 1, runs[:, 1]
    inside = (before >= 0) & (after < base.height)
    out = np.zeros(len(runs), dtype=bool)
    out[inside] = first[after[inside]] - last[before[inside]] == 1
    return out
