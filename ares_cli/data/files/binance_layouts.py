"""Binance public data (data.binance.vision) CSV layouts, and which one a CSV has.

Spot, USD-M and COIN-M trades, aggTrades and klines: positional columns with explicit dtypes
and how they map to ours. The layout is detected from the sniffed first rows (field count,
value types, and for the ambiguous widths the values themselves); the path only breaks ties the
content cannot, such as USD-M versus COIN-M aggTrades.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ares_cli.data.files.payloads import floats, is_bool, is_number

__all__ = ["BinanceLayout", "Columns", "binance_layout"]


_I, _F, _B, _S = pl.Int64(), pl.Float64(), pl.Boolean(), pl.String()
Columns = tuple[tuple[str, pl.DataType], ...]


@dataclass(frozen=True)
class BinanceLayout:
    """A data.binance.vision CSV layout: positional columns and how they map to ours."""

    name: str
    kind: str
    columns: Columns
    mapping: Mapping[str, str]


_AGG_COLUMNS: Columns = (
    ("agg_trade_id", _I), ("price", _F), ("quantity", _F), ("first_trade_id", _I),
    ("last_trade_id", _I), ("transact_time", _I), ("is_buyer_maker", _B),
)
_AGG_MAP = {
    "trade_id": "agg_trade_id", "timestamp": "transact_time", "price": "price",
    "qty": "quantity", "is_buyer_maker": "is_buyer_maker",
}
_TRADE_COLUMNS: Columns = (
    ("id", _I), ("price", _F), ("qty", _F), ("quote_qty", _F), ("time", _I),
    ("is_buyer_maker", _B),
)
_CM_TRADE_COLUMNS: Columns = (
    ("id", _I), ("price", _F), ("qty", _F), ("base_qty", _F), ("time", _I),
    ("is_buyer_maker", _B),
)
_TRADE_MAP = {
    "trade_id": "id", "timestamp": "time", "price": "price", "qty": "qty",
    "is_buyer_maker": "is_buyer_maker",
}
_KLINE_COLUMNS: Columns = (
    ("open_time", _I), ("open", _F), ("high", _F), ("low", _F), ("close", _F), ("volume", _F),
    ("close_time", _I), ("quote_volume", _F), ("count", _I), ("taker_buy_volume", _F),
    ("taker_buy_quote_volume", _F), ("ignore", _S),
)
# COIN-M: `volume` and column 10 are in contracts; column 8 and 11 are in the base asset.
_CM_KLINE_COLUMNS: Columns = (
    ("open_time", _I), ("open", _F), ("high", _F), ("low", _F), ("close", _F),
    ("contracts", _F), ("close_time", _I), ("base_volume", _F), ("count", _I),
    ("taker_buy_contracts", _F), ("taker_buy_base_volume", _F), ("ignore", _S),
)
_KLINE_MAP = {
    "timestamp": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume", "quote_volume": "quote_volume", "trades": "count",
    "taker_buy_volume": "taker_buy_volume",
}
_CM_KLINE_MAP = {
    "timestamp": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "base_volume", "trades": "count", "taker_buy_volume": "taker_buy_base_volume",
}

_SPOT_AGG = BinanceLayout(
    "binance-spot-aggTrades", "trades", (*_AGG_COLUMNS, ("is_best_match", _B)), _AGG_MAP
)
_SPOT_TRADES = BinanceLayout(
    "binance-spot-trades", "trades", (*_TRADE_COLUMNS, ("is_best_match", _B)), _TRADE_MAP
)
_UM_TRADES = BinanceLayout("binance-um-trades", "trades", _TRADE_COLUMNS, _TRADE_MAP)
_CM_TRADES = BinanceLayout(
    "binance-cm-trades", "trades", _CM_TRADE_COLUMNS, {**_TRADE_MAP, "qty": "base_qty"}
)
_CM_KLINES = BinanceLayout("binance-cm-klines", "candles", _CM_KLINE_COLUMNS, _CM_KLINE_MAP)

# First header field of every Binance layout that may carry a header row.
_BINANCE_FIRST_NAMES = ("agg_trade_id", "id", "trade_id", "open_time")


def _futures_agg(hint: str | None) -> BinanceLayout:
    """USD-M and COIN-M aggTrades share one layout; only the path can tell them apart."""
    market = hint if hint in ("um", "cm") else "futures"
    return BinanceLayout(f"binance-{market}-aggTrades", "trades", _AGG_COLUMNS, _AGG_MAP)


def _quote_klines(market: str) -> BinanceLayout:
    """Spot and USD-M klines share one layout with quote-asset volume in column 8."""
    return BinanceLayout(f"binance-{market}-klines", "candles", _KLINE_COLUMNS, _KLINE_MAP)


def _market_hint(path: Path) -> str | None:
    """"spot", "um" or "cm" when the path says so (data.binance.vision folders, COIN-M symbols)."""
    text = path.as_posix().lower()
    if "futures/cm" in text or "/cm/" in text or re.search(r"usd_(perp|\d{6})", path.name.lower()):
        return "cm"
    if "futures/um" in text or "/um/" in text:
        return "um"
    return "spot" if "/spot/" in text else None


def binance_layout(
    header: list[str] | None, rows: list[list[str]], path: Path
) -> BinanceLayout | None:
    """The Binance layout of a CSV from its first rows, or None when it is not one."""
    if not rows:
        return None
    first = rows[0]
    width = len(first)
    if header is not None and (
        len(header) != width or header[0].lower() not in _BINANCE_FIRST_NAMES
    ):
        return None
    if not all(is_number(f) or is_bool(f) for f in first):
        return None
    hint = _market_hint(path)
    if width == 8:
        return _SPOT_AGG
    if width == 7:
        return _SPOT_TRADES if is_bool(first[5]) else _futures_agg(hint)
    if width == 6:
        coin_margined = hint == "cm" if hint in ("um", "cm") else not _third_is_quote(rows)
        return _CM_TRADES if coin_margined else _UM_TRADES
    if width == 12:
        return _klines_layout(rows, header is not None, hint)
    return None


def _column8_is_quote(rows: list[list[str]]) -> bool:
    """Klines: column 8 / volume lies within [low, high] on (nearly) every traded bar."""
    votes = []
    for row in rows:
        values = floats(row, 2, 3, 5, 7)
        if values and values[2] > 0:
            high, low, volume, column8 = values
            votes.append(low * (1 - 1e-3) <= column8 / volume <= high * (1 + 1e-3))
    return not votes or sum(votes) >= 0.9 * len(votes)


def _third_is_quote(rows: list[list[str]]) -> bool:
    """Futures trades: column 4 is price*qty (USD-M quote_qty) rather than COIN-M base_qty."""
    votes = []
    for row in rows:
        values = floats(row, 1, 2, 3)
        if values and values[0] * values[1] > 0:
            price, qty, third = values
            votes.append(abs(third - price * qty) <= 1e-3 * price * qty + 1e-8)
    return not votes or sum(votes) >= 0.9 * len(votes)


def _klines_layout(rows: list[list[str]], header: bool, hint: str | None) -> BinanceLayout:
    """Spot/USD-M klines or COIN-M klines (column 8 in base asset, not quote asset).

    The path decides when it names the market; otherwise the values do: in spot/USD-M files
    column 8 / volume is an average price, so it lies within [low, high].
    """
    coin_margined = hint == "cm" if hint in ("um", "cm") else not _column8_is_quote(rows)
    if coin_margined:
        return _CM_KLINES
    futures = hint == "um" or (header and hint != "spot")  # spot files never carry a header
    return _quote_klines("um" if futures else "spot")
