"""Trades -> OHLCV bars on an epoch-aligned grid, with empty intervals kept as flagged rows.

Bars are labelled by their open time and cover [t, t + every). An interval without trades is a
row with zero volume, the previous close for open/high/low/close and `filled = True`, so the
base and fine series have no holes and every later step can index bars by position.
"""

from __future__ import annotations

import polars as pl

from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP


def bars_from_trades(trades: pl.LazyFrame | pl.DataFrame, every_ms: int) -> pl.DataFrame:
    """Aggregate time-sorted trades into bars of `every_ms` milliseconds, gaps filled."""
    every_us = every_ms * 1000
    lazy = trades.lazy() if isinstance(trades, pl.DataFrame) else trades
    micros = pl.col("timestamp").dt.epoch("us")
    aggregated = (
        lazy.with_columns(bucket=micros - micros % every_us)
        .group_by("bucket", maintain_order=True)
        .agg(
            open=pl.col("price").first(),
            high=pl.col("price").max(),
            low=pl.col("price").min(),
            close=pl.col("price").last(),
            volume=pl.col("qty").sum(),
            quote_volume=(pl.col("price") * pl.col("qty")).sum(),
            trades=pl.len().cast(pl.Int64),
            taker_buy_volume=pl.col("qty").filter(~pl.col("is_buyer_maker")).sum(),
        )
        .collect()
    )
    return fill_gaps(aggregated, every_us)


def fill_gaps(aggregated: pl.DataFrame, every_us: int) -> pl.DataFrame:
    """Put bars (with an integer `bucket` of open-time µs) on a full grid; flag empty ones."""
    if aggregated.height == 0:
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
    micros = pl.col("timestamp").dt.epoch("us")
    real = bars.filter(~pl.col("filled"))
    aggregated = (
        real.lazy()
        .with_columns(bucket=micros - micros % every_us)
        .group_by("bucket", maintain_order=True)
        .agg(
            open=pl.col("open").first(),
            high=pl.col("high").max(),
            low=pl.col("low").min(),
            close=pl.col("close").last(),
            volume=pl.col("volume").sum(),
            quote_volume=_sum_or_null("quote_volume"),
            trades=_sum_or_null("trades"),
            taker_buy_volume=_sum_or_null("taker_buy_volume"),
        )
        .collect()
    )
    return fill_gaps(aggregated, every_us)


def _sum_or_null(column: str) -> pl.Expr:
    """Sum of a column, or null when any value is unknown (never a partial sum)."""
    return pl.when(pl.col(column).null_count() == 0).then(pl.col(column).sum()).otherwise(None)


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
    step_ms = candle_ms or _infer_step_ms(candles)
    if base_ms % step_ms:
        raise ValueError(
            f"candles of {step_ms // 1000}s cannot be resampled to a base bar of "
            f"{base_ms // 1000}s: the base timeframe must be a multiple of the candle length"
        )
    notes["built_from"] = "candles"
    notes["candle_ms"] = step_ms
    fine = resample_bars(candles, fine_ms) if step_ms <= fine_ms else candles
    if step_ms > fine_ms:
        notes["fine_is_candles"] = True
        notes["fine_ms"] = step_ms
    return resample_bars(candles, base_ms), fine, notes


def _infer_step_ms(candles: pl.DataFrame) -> int:
    diffs = candles["timestamp"].dt.epoch("us").diff().drop_nulls()
    if diffs.len() == 0:
        raise ValueError("a single candle cannot tell its own timeframe")
    return int(diffs.mode().min()) // 1000
