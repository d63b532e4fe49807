"""Normalisation of a file's columns to `TRADES_SCHEMA` or `BARS_SCHEMA`.

Columns are cast to our dtypes (a value that does not convert, not one that is missing, is a
`DataError` naming its row), timestamps go through `timestamps`, the taker side becomes
`is_buyer_maker`, and bars get their vwap and `filled = False`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from ares_cli.data.files.parsed import Where, raise_on_new_nulls
from ares_cli.data.files.time_columns import timestamps
from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA, conform

__all__ = ["TYPE_WORDS", "canonical"]

_I, _F = pl.Int64(), pl.Float64()


TYPE_WORDS = {pl.Int64: "an integer", pl.Float64: "a number", pl.Boolean: "true/false"}


def canonical(
    df: pl.DataFrame, kind: str, mapping: Mapping[str, str], unit: str, where: Where
) -> tuple[pl.DataFrame, str]:
    """Our columns from the file's: typed, timestamps in UTC µs, taker side as is_buyer_maker."""
    timestamp, time_unit = timestamps(df[mapping["timestamp"]], unit, where)
    if kind == "trades":
        columns = {
            "trade_id": _to_dtype(df[mapping["trade_id"]], _I, where, "trade_id"),
            "timestamp": timestamp,
            "price": _to_dtype(df[mapping["price"]], _F, where, "price"),
            "qty": _to_dtype(df[mapping["qty"]], _F, where, "qty"),
            "is_buyer_maker": _buyer_maker(df, mapping, where),
        }
        return conform(pl.DataFrame(columns), TRADES_SCHEMA), time_unit
    columns = {"timestamp": timestamp}
    for name in ("open", "high", "low", "close", "volume"):
        columns[name] = _optional(df, mapping, name, _F, where)
    for name, dtype in (("quote_volume", _F), ("taker_buy_volume", _F), ("trades", _I)):
        columns[name] = _optional(df, mapping, name, dtype, where, nullable=True)
    return _bars(pl.DataFrame(columns)), time_unit


# what exports write for "no value" in a column a candle can do without
NULL_WORDS = ("", "null", "none", "nan", "n/a", "na", "-")


def _optional(
    df: pl.DataFrame, mapping: Mapping[str, str], name: str, dtype: pl.DataType, where: Where,
    *, nullable: bool = False,
) -> pl.Series:
    """A mapped column cast to `dtype`, or all-null when the file does not carry it. In a
    column a candle can do without (`nullable`: trade count, quote and taker-buy volume), a
    NULL-like word is a missing value rather than a bad row."""
    if name not in mapping:
        return pl.repeat(None, df.height, dtype=dtype, eager=True).alias(name)
    column = df[mapping[name]]
    if nullable and column.dtype == pl.String:
        blank = column.str.strip_chars().str.to_lowercase().is_in(NULL_WORDS)
        column = pl.select(pl.when(blank).then(None).otherwise(column)).to_series()
    return _to_dtype(column, dtype, where, name)


def _bars(df: pl.DataFrame) -> pl.DataFrame:
    """Add vwap (quote volume / volume when both are known) and filled=False; exact schema."""
    vwap = (
        pl.when(pl.col("volume") > 0)
        .then(pl.col("quote_volume") / pl.col("volume"))
        .otherwise(None)
    )
    return conform(df.with_columns(vwap=vwap, filled=pl.lit(False)), BARS_SCHEMA)


def _to_dtype(series: pl.Series, dtype: pl.DataType, where: Where, name: str) -> pl.Series:
    """Cast a column; a value that does not convert (not one that is missing) is a DataError."""
    if series.dtype == dtype:
        return series.alias(name)
    converted = series.cast(dtype, strict=False)
    raise_on_new_nulls(series, converted, where, f"{name} {{value!r}} is not "
                        f"{TYPE_WORDS.get(type(dtype), 'valid')}")
    return converted.alias(name)


_TRUE = ("true", "t", "1", "yes")
_FALSE = ("false", "f", "0", "no")


def _buyer_maker(df: pl.DataFrame, mapping: Mapping[str, str], where: Where) -> pl.Series:
    """is_buyer_maker from a boolean-ish column, or from the taker side (sell => buyer maker)."""
    if "is_buyer_maker" in mapping:
        source = df[mapping["is_buyer_maker"]]
        if source.dtype == pl.Boolean:
            return source.alias("is_buyer_maker")
        yes, no, word = _TRUE, _FALSE, "true/false"
    else:
        source = df[mapping["side"]]
        yes, no, word = ("sell", "s"), ("buy", "b"), "buy/sell"
    text = source.cast(pl.String).str.strip_chars().str.to_lowercase()
    flags = (
        pl.select(
            pl.when(text.is_in(yes)).then(True).when(text.is_in(no)).then(False).otherwise(None)
        )
        .to_series()
        .alias("is_buyer_maker")
    )
    raise_on_new_nulls(source, flags, where, f"{source.name} {{value!r}} is not {word}")
    return flags
