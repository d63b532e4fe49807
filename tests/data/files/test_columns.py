"""Generic tables: columns found by alias or mapped by the caller."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tests.data.files.helpers import (
    data_error,
    load,
    micros,
)


def test_table_csv_with_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "kraken.csv"
    path.write_text("1672531436,100.5,0.25,7,sell\n1672531437.5,101,0.5,8,buy\n")
    mapping = {"timestamp": "column_1", "price": "column_2", "qty": "column_3",
               "trade_id": "column_4", "side": "column_5"}
    result = load(path, format="table", columns=mapping)
    assert result.files[0]["layout"] == "table-trades-csv" and result.files[0]["time_unit"] == "s"
    assert micros(result.frame) == [1_672_531_436_000_000, 1_672_531_437_500_000]
    assert result.frame["is_buyer_maker"].to_list() == [True, False]


def test_table_parquet_candles_with_iso_and_names(tmp_path: Path) -> None:
    frame = pl.DataFrame({
        "Date": ["2024-01-01T00:00:00+00:00", "2024-01-01T01:00:00+00:00"],
        "Open": [1.0, 2.0], "High": [2.0, 3.0], "Low": [0.5, 1.5], "Close": [1.5, 2.5],
        "Volume": [10.0, 0.0], "quote_volume": [12.0, 0.0],
    })
    path = tmp_path / "bars.parquet"
    frame.write_parquet(path)
    result = load(path)
    assert result.kind == "candles" and result.timeframe_ms == 3_600_000
    assert result.files[0]["layout"] == "table-candles-parquet"
    assert result.frame["vwap"].to_list() == [1.2, None]


def test_unknown_columns_are_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("a,b,c\n1,2,3\n")
    assert "cannot tell trades from candles" in str(data_error(path))
