"""Trades -> OHLCV bars on an epoch-aligned grid, with empty intervals kept as flagged rows.

Bars are labelled by their open time and cover [t, t + every). An interval without trades is a
row with zero volume, the previous close for open/high/low/close and `filled = True`, so the
base and fine series have no holes and every later step can index bars by position.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import field_validator, model_validator

from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP
from ares_cli.util.section import Section
from ares_cli.util.timeutil import timeframe_ms, timeframe_name


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
    every_us = every_ms * 1000
    if not trades["timestamp"].is_sorted():
        raise ValueError("trades must be sorted by timestamp")
    # floor division: also right for times before 1970
    slot = trades["timestamp"].dt.epoch("us").to_numpy() // every_us
    starts = _segment_starts(slot)
    if len(starts) == 0:
        return fill_gaps(pl.DataFrame(), every_us)
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
    aggregated = pl.DataFrame(
        {
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
    )
    return fill_gaps(aggregated, every_us)


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


def market_bars(
    trades: pl.DataFrame | None, candles: pl.DataFrame | None, base_ms: int, fine_ms: int,
    candle_ms: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, object]]:
    """Base and fine bars from trades, or from candles when that is all a source had.

    Candles finer than or equal to the fine timeframe are resampled to it; coarser candles
    become the fine series themselves, which the returned notes say, since steps that resolve
    intrabar paths then see a coarser path than configured.
    """
    notes: dict[str, object] = {}
    if trades is not None:
        notes["built_from"] = "trades"
        return bars_from_trades(trades, base_ms), bars_from_trades(trades, fine_ms), notes
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
    return resample_bars(candles, base_ms), fine, notes


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
