"""Holes in trade ids, counted one part of the history at a time with one id carried over."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

__all__ = ["IdHoles"]


class IdHoles:
    """Counts missing trade ids over parts fed in order (`add`), as one pass over all ids in
    id order would: each part's ids are sorted and its first is compared with the last id of
    the parts before. Parts whose ids do not all lie above the ids before (out of order across
    parts) make the count `unordered`: the caller must then count over all ids at once."""

    def __init__(self) -> None:
        self.count = self.holes = self.missing = self.longest = 0
        self.longest_at: tuple[Any, Any] | None = None
        self.unordered = False
        self._carried: pl.DataFrame | None = None

    def add(self, part: pl.DataFrame) -> None:
        """Feed the next part (`trade_id` and `timestamp` columns; more are ignored)."""
        ordered = part.select("trade_id", "timestamp")
        if not ordered["trade_id"].is_sorted():  # a day is usually in id order already
            ordered = ordered.sort("trade_id")
        if ordered.height == 0:
            return
        carried = self._carried
        if carried is not None and ordered["trade_id"][0] <= carried["trade_id"][0]:
            self.unordered = True
        self.count += ordered.height
        self._carried = ordered.tail(1)
        ids = ordered["trade_id"].to_numpy()
        # the gap from the carried id first, then the part's own: one pass over the ids, as
        # over the joined ids, without copying the part
        step = np.diff(ids, prepend=ids[:1] if carried is None else carried["trade_id"][0])
        gaps = step > 1
        self.holes += int(gaps.sum())
        self.missing += int((step[gaps] - 1).sum())
        if gaps.any():
            k = int(np.argmax(np.where(gaps, step, 0)))
            if step[k] - 1 > self.longest:  # strictly: the first of equal holes, as one pass
                self.longest = int(step[k] - 1)
                times = ordered["timestamp"]
                before = times[k - 1] if k > 0 else carried["timestamp"][0]  # type: ignore[index]
                self.longest_at = (before, times[k])

    def result(self) -> dict[str, Any]:
        """How many holes, how many ids in all and their share of the ids the span should
        hold, and the longest hole (in ids, with the seconds between the trades that bound it
        and the time it starts after)."""
        if self.unordered:
            raise ValueError("trade ids came out of order across parts: count them at once")
        if self.count < 2:
            return {"holes": 0, "ids": 0, "share": 0.0, "longest_hole_ids": 0}
        out: dict[str, Any] = {"holes": self.holes, "ids": self.missing,
                               "share": self.missing / (self.count + self.missing),
                               "longest_hole_ids": self.longest}
        if self.longest_at is not None:
            first, second = self.longest_at
            out.update(longest_hole_seconds=(second - first).total_seconds(),
                       longest_hole_after=first.isoformat())
        return out
