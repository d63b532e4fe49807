"""`[files]`: the section model of the `files` source, and the column names it may map.

Kept apart from the readers so that assembling the configuration (`ares_cli.config`) imports
pydantic and this module only, never polars or the file readers. `ALIASES` lives here because
`FilesConfig.columns` is validated against it; the column resolution (`columns`) and the JSON
reader (`json_shapes`) read it from here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from ares_cli.util.section import Field, Section

__all__ = ["ALIASES", "FilesConfig"]


# Our column name -> names recognised in a table (case-insensitive), best first.
ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "date", "datetime", "open_time", "transact_time", "ts",
                  "unix", "unix_timestamp", "epoch"),
    "trade_id": ("trade_id", "id", "agg_trade_id", "tid"),
    "price": ("price",),
    "qty": ("qty", "amount", "quantity", "size", "base_qty"),
    "side": ("side", "taker_side"),
    "is_buyer_maker": ("is_buyer_maker", "buyer_maker"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "base_volume"),
    "quote_volume": ("quote_volume", "quote_asset_volume"),
    "trades": ("trades", "count", "number_of_trades", "num_trades", "tradecount", "trade_count"),
    "taker_buy_volume": ("taker_buy_volume", "taker_buy_base_asset_volume"),
}


class FilesConfig(Section):
    """`[files]`: how local files are read; every "auto" is decided per file from its content.

    `columns` maps our column name to the file's column name, for tables whose names are not
    recognised (timestamp, trade_id, price, qty, side or is_buyer_maker; or timestamp, open,
    high, low, close, volume and optionally quote_volume, trades, taker_buy_volume). A CSV
    without header names its columns `column_1`, `column_2`, ...
    """

    format: Literal["auto", "binance", "freqtrade", "table"] = "auto"
    kind: Literal["auto", "trades", "candles"] = "auto"
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    verify_checksum: bool = True
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(ALIASES))
        if unknown:
            raise ValueError(f"unknown column names {unknown}; use {', '.join(ALIASES)}")
        return dict(sorted(value.items()))
