"""Binance layouts: every generated variant, detected from content and from paths."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA
from tests.data.binance_files import (
    VARIANTS,
    binance_path,
    csv_bytes,
    generate,
)
from tests.data.files.helpers import (
    assert_matches,
    data_error,
    expected_layout,
    load,
)


@pytest.mark.parametrize("unit", ["ms", "us"])
@pytest.mark.parametrize("header", [False, True], ids=["no-header", "header"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_layout_variant(tmp_path: Path, variant: str, header: bool, unit: str) -> None:
    gen = generate(variant, unit=unit)
    path = binance_path(tmp_path, variant)
    path.write_bytes(csv_bytes(gen, header=header))
    result = load(path)
    assert result.kind == ("candles" if variant.endswith("klines") else "trades")
    assert result.files[0]["layout"] == expected_layout(variant)
    assert result.files[0]["header"] is header
    assert result.files[0]["time_unit"] == unit
    assert_matches(result, gen.expected)
    if result.kind == "candles":
        assert result.timeframe_ms == 60_000
        assert result.frame.schema == pl.Schema(BARS_SCHEMA)
    else:
        assert result.frame.schema == pl.Schema(TRADES_SCHEMA)


@pytest.mark.parametrize(
    ("variant", "layout"),
    [
        ("um-trades", "binance-um-trades"),
        ("cm-trades", "binance-cm-trades"),
        ("spot-trades", "binance-spot-trades"),
        ("um-aggTrades", "binance-futures-aggTrades"),
        ("spot-klines", "binance-spot-klines"),
        ("cm-klines", "binance-cm-klines"),
    ],
)
def test_content_decides_without_telling_names(tmp_path: Path, variant: str, layout: str) -> None:
    gen = generate(variant)
    path = tmp_path / "download.csv"
    path.write_bytes(csv_bytes(gen))
    result = load(path)
    assert result.files[0]["layout"] == layout
    assert_matches(result, gen.expected)


def test_coin_m_klines_use_base_volume(tmp_path: Path) -> None:
    gen = generate("cm-klines")
    path = binance_path(tmp_path, "cm-klines")
    path.write_bytes(csv_bytes(gen))
    frame = load(path).frame
    assert frame["volume"].to_list() == gen.expected["volume"]  # column 8, not contracts
    assert frame["quote_volume"].null_count() == frame.height
    assert frame["vwap"].null_count() == frame.height


def test_format_binance_rejects_other_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time,price,size\n1,2,3\n")
    assert "not a Binance public-data layout" in str(data_error(path, format="binance"))
