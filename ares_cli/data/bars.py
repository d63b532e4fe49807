"""Trades -> OHLCV bars on an epoch-aligned grid, with empty intervals kept as flagged rows.

Bars are labelled by their open time and cover [t, t + every). An interval without trades is a
row with zero volume, the previous close for open/high/low/close and `filled = True`, so the
base and fine series have no holes and every later step can index bars by position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import polars as pl
from pydantic import field_validator, model_validator

from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP
from ares_cli.util.section import Section
from ares_cli.util.timeutil import timeframe_ms, timeframe_name

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from ares_cli.data.chunks import TradeChunks


class BarsConfig(Section):
    """`[bars]`: the base (model) timeframe and the fine (intrabar path) timeframe."""

    base: str = "1h"
    fine: str = "1m"

    @field_validator("base", "fine")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        timeframe_ms(value)  # ValueError names the accepted forms
        return value

    @model_validator(mode="after")
    def _fine_divides_base(self) -> BarsConfig:
        if self.fine_ms >= self.base_ms or self.base_ms % self.fine_ms:
            raise ValueError(
                f"bars.fine ({self.fine}) must be shorter than bars.base ({self.base}) "
                "and divide it evenly"
            )
        return self

    @property
    def base_ms(self) -> int:
        return timeframe_ms(self.base)

    @property
    def fine_ms(self) -> int:
        return timeframe_ms(self.fine)


def bars_from_trades(trades: pl.DataFrame, every_ms: int) -> pl.DataFrame:
    """Aggregate time-sorted trades into bars of `every_ms` milliseconds, gaps filled.

    Trades are contiguous per bar once sorted, so each bar is a segment reduced with NumPy's
    `reduceat`: single-threaded and in trade order, hence bit-for-bit reproducible (a parallel
    hash group-by may sum floats in a different order from run to run).
    """
    if not trades["timestamp"].is_sorted():
        raise ValueError("trades must be sorted by timestamp")
    return fill_gaps(_aggregate(trades, every_ms * 1000), every_ms * 1000)


def bars_from_chunks(chunks: Iterable[pl.DataFrame], base_ms: int, fine_ms: int,
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Base and fine bars from time-sorted trades that come a chunk (a UTC day) at a time,
    and per base bar with trades its first and last trade id (for telling gaps from quiet).

    Only one chunk is held at a time. The trades of the last base bar a chunk reaches are
    carried into the next chunk, so every bar is reduced from all its trades in one segment,
    in trade order: the bars equal `bars_from_trades` on the whole table, bit for bit, also
    for a base bar that does not divide the day. `fine_ms` divides `base_ms`, so no fine bar
    straddles a carried edge either.
    """
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="ares-fine-bars") as fine_thread:
        return _bars_from_chunks(chunks, base_ms * 1000, fine_ms * 1000, fine_thread)


def _bars_from_chunks(chunks: Iterable[pl.DataFrame], base_us: int, fine_us: int,
                      fine_thread: Executor) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    base_parts: list[pl.DataFrame] = []
    fine_parts: list[pl.DataFrame] = []
    carried: pl.DataFrame | None = None

    def reduce(trades: pl.DataFrame) -> None:
        # a piece's fine bars on the second core while its base bars are reduced here (NumPy
        # releases the GIL); each is the same pure reduction, appended in order
        fine = fine_thread.submit(_aggregate, trades, fine_us)
        base_parts.append(_aggregate(trades, base_us, ids=True))
        fine_parts.append(fine.result())

    for chunk in chunks:
        if chunk.height == 0:
            continue
        if not chunk["timestamp"].is_sorted():
            raise ValueError("trades must be sorted by timestamp")
        slot = chunk["timestamp"].dt.epoch("us").to_numpy() // base_us
        if carried is not None:
            if chunk["timestamp"][0] < carried["timestamp"][-1]:
                raise ValueError("trade chunks must follow each other in time")
            # only the carried bar's own trades are joined to it (a bar that divides the
            # day never continues into the next chunk): the day itself is never copied
            same = int(np.searchsorted(slot, slot[0], side="right")) \
                if slot[0] == carried["timestamp"].dt.epoch("us")[0] // base_us else 0
            if same == len(slot):  # the whole chunk continues the carried bar
                carried = pl.concat([carried, chunk], rechunk=True)
                continue
            reduce(pl.concat([carried, chunk.slice(0, same)], rechunk=True) if same
                   else carried)
            chunk, slot = chunk.slice(same), slot[same:]
        cut = int(np.searchsorted(slot, slot[-1], side="left"))
        carried = chunk.slice(cut)
        # a day in pieces of whole bars: each bar is still reduced from all its trades in one
        # segment (bit for bit the same), and per-trade temporaries stay piece-sized
        for lo, hi in _pieces(slot[:cut], PIECE_TRADES):
            reduce(chunk.slice(lo, hi - lo))
        del slot
    if carried is not None:
        reduce(carried)
    if not base_parts:
        empty = fill_gaps(pl.DataFrame(), base_us)
        return empty, empty, pl.DataFrame(schema={"timestamp": TIMESTAMP, "first_id": pl.Int64,
                                                  "last_id": pl.Int64})
    base = pl.concat(base_parts)
    ids = base.select(pl.col("bucket").cast(TIMESTAMP).alias("timestamp"), "first_id",
                      "last_id")
    return fill_gaps(base, base_us), fill_gaps(pl.concat(fine_parts), fine_us), ids


PIECE_TRADES = 1 << 18  # trades reduced at once (a bar with more is one piece)


def _pieces(slot: np.ndarray, size: int = PIECE_TRADES) -> Iterator[tuple[int, int]]:
    """[lo, hi) row ranges of at most about `size` rows that never split a bar's `slot`."""
    lo, n = 0, len(slot)
    while lo < n:
        hi = min(lo + size, n)
        if hi < n:  # back to the start of the bar row hi belongs to, or past it if it is lo's
            start = int(np.searchsorted(slot, slot[hi], side="left"))
            hi = start if start > lo else int(np.searchsorted(slot, slot[hi], side="right"))
        yield lo, hi
        lo = hi


def _aggregate(trades: pl.DataFrame, every_us: int, *, ids: bool = False) -> pl.DataFrame:
    """One row per bar of `every_us` with trades (open time as integer `bucket`), from
    time-sorted trades; with `ids`, also the first and last trade id of each bar."""
    # floor division: also right for times before 1970
    slot = trades["timestamp"].dt.epoch("us").to_numpy() // every_us
    starts = _segment_starts(slot)
    if len(starts) == 0:
        return pl.DataFrame()
    ends = np.append(starts[1:], len(slot))
    bucket = slot[starts] * every_us
    del slot  # per-trade temporaries are freed as soon as reduced: peak memory is the limit
    price = trades["price"].to_numpy()
    qty = trades["qty"].to_numpy()
    quote = price * qty
    quote_volume = np.add.reduceat(quote, starts)
    del quote
    taker_buy = qty.copy()
    taker_buy[trades["is_buyer_maker"].to_numpy()] = 0.0
    taker_buy_volume = np.add.reduceat(taker_buy, starts)
    del taker_buy
    columns = {
        "bucket": bucket,
        "open": price[starts],
        "high": np.maximum.reduceat(price, starts),
        "low": np.minimum.reduceat(price, starts),
        "close": price[ends - 1],
        "volume": np.add.reduceat(qty, starts),
        "quote_volume": quote_volume,
        "trades": (ends - starts).astype(np.int64),
        "taker_buy_volume": taker_buy_volume,
    }
    if ids:
        trade_id = trades["trade_id"].to_numpy()
        columns.update(first_id=trade_id[starts], last_id=trade_id[ends - 1])
    return pl.DataFrame(columns)


def _segment_starts(bucket: np.ndarray) -> np.ndarray:
    if len(bucket) == 0:
        return np.array([], dtype=np.int64)
    return np.concatenate([[0], np.flatnonzero(np.diff(bucket)) + 1])


def fill_gaps(aggregated: pl.DataFrame, every_us: int) -> pl.DataFrame:
    """Put bars (with an integer `bucket` of open-time µs) on a full grid; flag empty ones."""
    if aggregated.is_empty():
        return pl.DataFrame(schema=BARS_SCHEMA)
    first, last = aggregated["bucket"].min(), aggregated["bucket"].max()
    grid = pl.DataFrame({"bucket": pl.int_range(first, last + every_us, every_us, eager=True)})
    joined = grid.join(aggregated, on="bucket", how="left", maintain_order="left")
    filled = pl.col("close").is_null()
    previous_close = pl.col("close").forward_fill()
    out = joined.with_columns(
        filled=filled,
        open=pl.when(filled).then(previous_close).otherwise(pl.col("open")),
        high=pl.when(filled).then(previous_close).otherwise(pl.col("high")),
        low=pl.when(filled).then(previous_close).otherwise(pl.col("low")),
        close=previous_close,
        # Only empty intervals become zeros; a value a source never had stays null.
        **{
            column: pl.when(filled).then(0).otherwise(pl.col(column))
            for column in ("volume", "quote_volume", "trades", "taker_buy_volume")
        },
    ).with_columns(
        vwap=pl.when(pl.col("volume") > 0)
        .then(pl.col("quote_volume") / pl.col("volume"))
        .otherwise(pl.col("close")),
        timestamp=pl.col("bucket").cast(TIMESTAMP),
    )
    return out.select([pl.col(c).cast(t) for c, t in BARS_SCHEMA.items()])


def resample_bars(bars: pl.DataFrame, every_ms: int) -> pl.DataFrame:
    """Coarser bars from finer ones (e.g. candle-only input): same conventions as from trades.

    Candle columns that a source could not provide (null quote volume, trade count or taker-buy
    volume) stay null in the result rather than being invented.
    """
    every_us = every_ms * 1000
    real = bars.filter(~pl.col("filled"))
    slot = real["timestamp"].dt.epoch("us").to_numpy() // every_us
    starts = _segment_starts(slot)
    if len(starts) == 0:
        return fill_gaps(pl.DataFrame(), every_us)
    ends = np.append(starts[1:], len(slot))
    columns = {
        "bucket": slot[starts] * every_us,
        "open": real["open"].to_numpy()[starts],
        "high": np.maximum.reduceat(real["high"].to_numpy(), starts),
        "low": np.minimum.reduceat(real["low"].to_numpy(), starts),
        "close": real["close"].to_numpy()[ends - 1],
        "volume": np.add.reduceat(real["volume"].to_numpy(), starts),
    }
    for name in ("quote_volume", "trades", "taker_buy_volume"):
        columns[name] = _sum_or_null(real[name], starts)
    return fill_gaps(pl.DataFrame(columns), every_us)


def _sum_or_null(values: pl.Series, starts: np.ndarray) -> pl.Series:
    """Per-segment sums, null for a segment with any unknown value (never a partial sum)."""
    known = values.is_not_null().to_numpy()
    data = values.fill_null(0).to_numpy().astype(np.float64)
    sums = np.add.reduceat(data, starts)
    complete = np.add.reduceat(~known, starts) == 0
    return pl.Series(values.name, sums).set(pl.Series(~complete), None)


def bar_length_ms(bars: pl.DataFrame, default_ms: int) -> int:
    """The shortest spacing of `bars` (candle-only input may carry a coarser fine series)."""
    steps = bars["timestamp"].dt.epoch("ms").diff().drop_nulls()
    return int(steps.min()) if steps.len() else default_ms


class MarketBars(NamedTuple):
    """What step 2 builds bars from the data into: base and fine bars, notes on how, and per
    base bar with trades its first and last trade id (None for candles)."""

    base: pl.DataFrame
    fine: pl.DataFrame
    notes: dict[str, object]
    trade_ids: pl.DataFrame | None


def market_bars(
    trades: pl.DataFrame | TradeChunks | None, candles: pl.DataFrame | None, base_ms: int,
    fine_ms: int, candle_ms: int | None = None,
) -> MarketBars:
    """Base and fine bars from trades (a whole table or day chunks, read one at a time), or
    from candles when that is all a source had.

    Candles finer than or equal to the fine timeframe are resampled to it; coarser candles
    become the fine series themselves, which the returned notes say, since steps that resolve
    intrabar paths then see a coarser path than configured.
    """
    from ares_cli.data.chunks import trade_frames

    notes: dict[str, object] = {}
    if trades is not None:
        notes["built_from"] = "trades"
        base, fine, ids = bars_from_chunks(trade_frames(trades), base_ms, fine_ms)
        return MarketBars(base, fine, notes, ids)
    if candles is None:
        raise ValueError("neither trades nor candles to build bars from")
    step_ms = candle_ms or infer_step_ms(candles)
    if base_ms % step_ms:
        raise CandleResolutionError(step_ms, base_ms)
    notes["built_from"] = "candles"
    notes["candle_ms"] = step_ms
    # the finest path the data allows (gaps filled, as every bar series): steps 4, 8 and 12
    # resolve inside a base bar on it, and when it is the base bar itself they resolve
    # conservatively (stop first, entry at the next bar's open)
    fine = resample_bars(candles, max(step_ms, fine_ms))
    if step_ms > fine_ms:
        notes["fine_is_candles"] = True
        notes["fine_ms"] = step_ms
    return MarketBars(resample_bars(candles, base_ms), fine, notes, None)


class CandleResolutionError(ValueError):
    """Candles whose length does not divide the base bar: no base bar can be built from them."""

    def __init__(self, candle_ms: int, base_ms: int) -> None:
        self.candle_ms, self.base_ms = candle_ms, base_ms
        # the shortest base bar at least as long as the configured one the candles can build
        self.suggested_ms = candle_ms * max(1, -(-base_ms // candle_ms))
        candle, base = timeframe_name(candle_ms), timeframe_name(base_ms)
        coarser = candle_ms > base_ms
        super().__init__(
            f"the candles are {candle}, "
            + (f"coarser than bars.base ({base})" if coarser
               else f"which does not divide bars.base ({base})")
            + f": set bars.base to {candle} or a multiple of it, e.g. --set bars.base="
            + f"{timeframe_name(self.suggested_ms)}")


def infer_step_ms(candles: pl.DataFrame) -> int:
    diffs = candles["timestamp"].dt.epoch("us").diff().drop_nulls()
    if diffs.len() == 0:
        raise ValueError("a single candle cannot tell its own timeframe")
    return int(diffs.mode().min()) // 1000
