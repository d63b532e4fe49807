"""Column contracts shared by every data source and by the bar builder."""

from __future__ import annotations

import polars as pl

TIME_UNIT = "us"
TIMESTAMP = pl.Datetime(TIME_UNIT, "UTC")

# One row per trade, sorted by timestamp then trade_id; is_buyer_maker=True means the taker sold.
TRADES_SCHEMA: dict[str, pl.DataType] = {
    "trade_id": pl.Int64(),
    "timestamp": TIMESTAMP,
    "price": pl.Float64(),
    "qty": pl.Float64(),
    "is_buyer_maker": pl.Boolean(),
}

# One row per bar, labelled by its open time; `filled` marks an interval without trades.
BARS_SCHEMA: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP,
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Float64(),
    "quote_volume": pl.Float64(),
    "trades": pl.Int64(),
    "taker_buy_volume": pl.Float64(),
    "vwap": pl.Float64(),
    "filled": pl.Boolean(),
}


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Select and cast `df` to exactly the columns of `schema`, in its order."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ValueError(f"missing columns {missing}; have {df.columns}")
    return df.select([pl.col(c).cast(t) for c, t in schema.items()])
