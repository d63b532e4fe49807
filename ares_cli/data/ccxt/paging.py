"""Paging through an exchange's trades: the state of one download and its page loop.

On the Binance family (spot, USD-M, COIN-M) ccxt's ``fetch_trades`` reads the ``aggTrades``
endpoint. With ``since`` ccxt sends ``startTime`` and ``endTime = since + 1 h``; Binance then
answers with at most ``limit`` trades of that hour, and when the hour holds more, they are
reported to be the *last* ``limit`` of it. So time paging can skip trades. We page by
aggregate-trade id instead (``fromId``, ids are consecutive and ordered by time): a time window
is used once, only to find the first id at or after a time (quiet hours are skipped, a window
that comes back full is halved until it is complete), then ``fromId = last id + 1`` until a
trade at or after ``end`` or the newest trade is reached; where a stored trade borders the gap,
paging continues from its id. Other exchanges are paged by ``since`` (ccxt's unified semantics:
the earliest trades from ``since``), re-asking from the last seen timestamp so trades sharing a
millisecond are not lost; an empty answer advances one hour.

New trades are buffered and written to the chunk cache every few pages, together with the time
ranges they prove complete, so an interrupted download resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from ares_cli.data.ccxt.cache import ChunkStore, rows_frame
from ares_cli.data.ccxt.client import Caller
from ares_cli.data.ccxt.intervals import Interval, merge, subtract
from ares_cli.errors import DataError

if TYPE_CHECKING:  # ccxt is imported lazily: it takes about a second to import
    import ccxt

__all__ = ["Download"]

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
FLUSH_EVERY_PAGES = 10  # a chunk per this many pages ...
FLUSH_EVERY_TRADES = 200_000  # ... or per this many buffered trades, whichever comes first
SETTLED_MS = 60_000  # an empty answer only proves "no trades" for time older than now - this


class Download:
    """One call's paging state: what is stored, what is covered, what is buffered."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        caller: Caller,
        store: ChunkStore,
        symbol: str,
        limit: int,
        stored: pl.DataFrame,
        coverage: list[Interval],
        start_ms: int,
        end_ms: int,
        metrics: dict[str, Any],
        progress: Callable[[float, str], None] | None,
    ) -> None:
        self.exchange = exchange
        self.caller = caller
        self.store = store
        self.symbol = symbol
        self.limit = limit
        self.stored = stored
        self.known_ids = np.sort(stored.get_column("trade_id").to_numpy())
        self.coverage = coverage
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.metrics = metrics
        self.progress = progress
        self.frames: list[pl.DataFrame] = []  # chunks written by this call
        self._rows: list[tuple[int, int, float, float, bool | None]] = []
        self._pending_cov: list[Interval] = []
        self._pages_since_flush = 0
        self._recent_ids: set[int] = set()
        self._previous_ids: set[int] = set()
        self._session_last: dict[int, int] = {}  # coverage end (ms) -> last trade id there
        self._probed_first = False
        self.reached_newest = False

    # -- driver ----------------------------------------------------------------------------

    def run(self, by_id: bool) -> None:
        """Fetch each part of the window the cache does not cover, oldest first."""
        while not self.reached_newest:
            gaps = subtract((self.start_ms, self.end_ms), self.coverage)
            gaps = [(a, b) for a, b in gaps if a <= self._now()]
            if not gaps:
                break
            a, b = gaps[0]
            before = list(self.coverage)
            if by_id:
                self._segment_by_id(a, b)
            else:
                self._segment_by_time(a, b)
            if self.coverage == before and not self.reached_newest:
                break  # nothing more can be learnt about this gap now (e.g. it is in the future)
        self.metrics["reached_newest"] = self.reached_newest

    def _segment_by_id(self, a: int, b: int) -> None:
        """Fill ``[a, b)`` by aggregate-trade id, starting next to a stored trade if one borders
        `a`, else at the first trade found from `a` by time windows."""
        seed = self._seed(a)
        if seed is not None:
            if self.metrics["resumed_from"] is None:
                self.metrics["resumed_from"] = seed
            from_id, cov_from = seed + 1, a
        else:
            first = self._locate(a, b)
            if first is None:
                return
            last_ts, _ = self._accept(first, a)
            if last_ts >= b:
                return
            from_id, cov_from = max(_int_id(t) for t in first) + 1, last_ts
        while True:
            page = self._fetch(f"fetch_trades({self.symbol}, fromId={from_id})", None,
                               {"fromId": from_id})
            if not page:
                self.reached_newest = True
                return
            last_ts, _ = self._accept(page, cov_from)
            self._report(last_ts)
            from_id, cov_from = max(_int_id(t) for t in page) + 1, last_ts
            if last_ts >= b:
                return
            if len(page) < self.limit:
                self.reached_newest = True
                return

    def _locate(self, a: int, b: int) -> list[dict[str, Any]] | None:
        """The complete content of the first non-empty time window at or after `a` (before
        `b`), narrowing a window that comes back full; None if ``[a, b)`` has no trades."""
        cursor, width = a, HOUR_MS
        while cursor < b and cursor <= self._now():
            until = cursor + width - 1  # endTime is inclusive: the window spans `width` ms
            page = self._fetch(f"fetch_trades({self.symbol}, since={cursor}, until={until})",
                               cursor, {"until": until})
            self._report(cursor)
            if not page:
                self._cover_empty(cursor, cursor + width)
                cursor += width
                width = min(width * 2, HOUR_MS)
                if not self._probed_first and cursor < b:
                    # One cheap look at the market's very first trades (fromId=0): when they
                    # come after `cursor` (a window before the listing), they are the answer
                    # and the empty hours before them need not be walked one by one.
                    self._probed_first = True
                    first = self._fetch(f"fetch_trades({self.symbol}, fromId=0)", None,
                                        {"fromId": 0})
                    if not first:
                        break
                    first_ts = int(first[0]["timestamp"])
                    if first_ts >= cursor:
                        self._cover_empty(cursor, first_ts)
                        return first
                continue
            if len(page) < self.limit:
                return page
            if width == 1:
                log.warning("%s: more than %d trades in the millisecond %d; some may be missed",
                            self.symbol, self.limit, cursor)
                return page
            # The answer was cut at `limit`: halve the window, or shrink it to end at the first
            # trade returned when that is sooner (under "first trades" semantics that window
            # is then complete; under "last trades" semantics it drops a page of trades).
            first_ts = min(int(t["timestamp"]) for t in page)
            width = max(1, min(width // 2, first_ts - cursor + 1))
        self._cover_empty(a, min(cursor, b))
        return None

    def _segment_by_time(self, a: int, b: int) -> None:
        """Fill ``[a, b)`` with ``since`` paging (ccxt's unified semantics: the earliest trades
        from ``since``), re-asking from the last timestamp seen so that trades sharing that
        millisecond are not lost; an empty answer (a quiet hour) advances one hour."""
        cursor = a
        while cursor < b and cursor <= self._now():
            page = self._fetch(f"fetch_trades({self.symbol}, since={cursor})", cursor, {})
            self._report(cursor)
            if not page:
                self._cover_empty(cursor, cursor + HOUR_MS)
                cursor += HOUR_MS
                continue
            last_ts, new = self._accept(page, cursor)
            if last_ts >= b:
                return
            if last_ts > cursor:
                cursor = last_ts
            elif new:
                continue  # the page was all in `cursor`'s millisecond: ask again for the rest
            elif len(page) >= self.limit:  # more trades in one millisecond than a page holds
                log.warning("%s: more than %d trades at %d ms; stepping over it",
                            self.symbol, self.limit, cursor)
                self.metrics["skipped_ms"] = self.metrics.get("skipped_ms", 0) + 1
                cursor += 1
            else:  # nothing after `cursor`'s millisecond in this answer: a quiet hour
                self._cover_empty(cursor, cursor + HOUR_MS)
                cursor += HOUR_MS

    # -- pages -----------------------------------------------------------------------------

    def _fetch(self, what: str, since: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One page of ccxt trades, oldest first."""
        page = self.caller.call(what, self.exchange.fetch_trades, self.symbol, since,
                                self.limit, params)
        self.metrics["pages"] += 1
        return sorted(page or [], key=lambda t: (int(t["timestamp"]), _int_id(t)))

    def _accept(self, page: list[dict[str, Any]], cov_from: int) -> tuple[int, int]:
        """Buffer the new trades of a non-empty page and cover ``[cov_from, last ts)``.

        Returns the page's last timestamp and how many of its trades were new."""
        last_ts = max(int(t["timestamp"]) for t in page)
        ids = np.fromiter((_int_id(t) for t in page), dtype=np.int64, count=len(page))
        stored = np.zeros(len(ids), dtype=bool)
        if self.known_ids.size:
            pos = np.searchsorted(self.known_ids, ids).clip(max=self.known_ids.size - 1)
            stored = self.known_ids[pos] == ids
        page_ids: set[int] = set()
        added = 0
        for trade, trade_id, is_stored in zip(page, ids.tolist(), stored.tolist(), strict=True):
            seen = trade_id in self._recent_ids or trade_id in self._previous_ids
            if is_stored or seen or trade_id in page_ids:
                self.metrics["duplicates_dropped"] += 1
                continue
            page_ids.add(trade_id)
            price, qty = trade.get("price"), trade.get("amount")
            if price is None or qty is None or not price > 0 or not qty > 0:
                self.metrics["invalid_dropped"] += 1
                continue
            self._rows.append(
                (trade_id, int(trade["timestamp"]), float(price), float(qty), _buyer_maker(trade))
            )
            added += 1
        self._previous_ids, self._recent_ids = self._recent_ids, page_ids
        self.metrics["new_trades"] += added
        self._add_coverage(cov_from, last_ts)
        self._session_last[last_ts] = max(int(ids.max()), self._session_last.get(last_ts, -1))
        self._pages_since_flush += 1
        if self._pages_since_flush >= FLUSH_EVERY_PAGES or len(self._rows) >= FLUSH_EVERY_TRADES:
            self.flush()
        return last_ts, len(page_ids)

    def _cover_empty(self, a: int, b: int) -> None:
        """Mark ``[a, b)`` as holding no trades, as far as it lies in the settled past."""
        self._add_coverage(a, min(b, self._now() - SETTLED_MS))

    def _add_coverage(self, a: int, b: int) -> None:
        if b > a:
            self._pending_cov.append((a, b))
            self.coverage = merge([*self.coverage, (a, b)])

    def _seed(self, a: int) -> int | None:
        """Id of the newest trade stored at or before `a` when a covered range ends at `a`
        (so every trade after `a` has a larger id), else None."""
        ending = [c for c in self.coverage if c[1] == a]
        if not ending:
            return None
        if a in self._session_last:
            return self._session_last[a]
        lo = ending[0][0]
        candidates: list[int] = []
        if self._session_last:
            candidates += [i for t, i in self._session_last.items() if lo <= t <= a]
        if self.stored.height:
            ms = pl.col("timestamp").dt.epoch("ms")
            hit = self.stored.filter((ms >= lo) & (ms <= a)).get_column("trade_id")
            if hit.len():
                candidates.append(int(hit.max()))  # type: ignore[arg-type]
        return max(candidates) if candidates else None

    def flush(self) -> None:
        """Write the buffered trades and the coverage they prove as one chunk."""
        if not self._rows and not self._pending_cov:
            return
        frame = rows_frame(self._rows)
        self.store.write(frame, merge(self._pending_cov))
        self.frames.append(frame)
        self.metrics["chunks"] += 1
        self._rows, self._pending_cov, self._pages_since_flush = [], [], 0

    # -- helpers ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.exchange.milliseconds())

    def _report(self, at_ms: int) -> None:
        if self.progress is None:
            return
        span = self.end_ms - self.start_ms
        fraction = min(1.0, max(0.0, (at_ms - self.start_ms) / span))
        when = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        self.progress(fraction, f"{self.metrics['exchange']} {self.symbol}: "
                                f"{self.metrics['new_trades']} new trades, at {when} UTC")


def _int_id(trade: dict[str, Any]) -> int:
    """The trade id as an integer (needed to dedupe and to count gaps)."""
    raw = trade.get("id")
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(
            f"the exchange returned a non-integer trade id {raw!r}; the ccxt source needs "
            "integer ids to deduplicate and to detect gaps"
        ) from None


def _buyer_maker(trade: dict[str, Any]) -> bool | None:
    """True when the taker sold. Binance's raw ``m`` flag if present, else ccxt's taker side."""
    info = trade.get("info")
    if isinstance(info, dict) and isinstance(info.get("m"), bool):
        return bool(info["m"])
    side = trade.get("side")
    return None if side is None else side == "sell"
