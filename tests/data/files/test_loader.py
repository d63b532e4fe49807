"""`load_files` end to end: real samples, and several files merged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA
from tests.conftest import shared_file
from tests.data.binance_files import (
    csv_bytes,
    generate,
    write_zip,
)
from tests.data.files.helpers import (
    AGG_CSV,
    data_error,
    load,
)

# -- real files -------------------------------------------------------------------------------


def test_binance_aggtrades_csv_matches_freqtrade_feather() -> None:
    csv = load(shared_file(AGG_CSV))
    feather = load(shared_file("real/freqtrade/XRP_ETH-trades.feather"))
    assert csv.kind == "trades" and csv.timeframe_ms is None
    assert csv.frame.schema == pl.Schema(TRADES_SCHEMA)
    assert csv.frame.height == 12_477
    assert csv.frame["trade_id"].to_list() == list(range(13_519_807, 13_532_284))
    assert csv.files[0] | {"path": ""} == {
        "path": "", "layout": "binance-spot-aggTrades", "rows": 12_477, "time_unit": "ms",
        "header": False, "checksum": "absent",
    }
    assert_frame_equal(csv.frame, feather.frame)
    assert csv.frame["is_buyer_maker"].sum() == 5_953  # sells, per the README
    assert csv.frame["timestamp"][0] == datetime(2019, 10, 11, 0, 0, 11, 620_000, tzinfo=UTC)


def test_freqtrade_trade_files_load_identically() -> None:
    names = ["XRP_ETH-trades.feather", "XRP_ETH-trades.parquet", "XRP_ETH-trades.json.gz",
             "XRP_OLD-trades.json.gz"]
    loaded = [load(shared_file(f"real/freqtrade/{name}")) for name in names]
    layouts = [result.files[0]["layout"] for result in loaded]
    assert layouts == ["freqtrade-trades-feather", "freqtrade-trades-parquet",
                       "freqtrade-trades-json", "freqtrade-trades-json"]
    for other in loaded[1:]:
        assert_frame_equal(other.frame, loaded[0].frame)


def test_binance_spot_klines_values() -> None:
    result = load(shared_file("real/binance/ADABTC-1m-2021-11-27.csv"))
    assert result.kind == "candles" and result.timeframe_ms == 60_000
    assert result.frame.schema == pl.Schema(BARS_SCHEMA)
    assert result.files[0]["layout"] == "binance-spot-klines"
    assert result.frame.height == 10
    # 1637971200000,0.00002853,0.00002854,0.00002851,0.00002854,36304.20000000,1637971259999,
    # 1.03547608,79,19523.00000000,0.55694227,0
    assert result.frame.row(0) == (
        datetime(2021, 11, 27, tzinfo=UTC), 0.00002853, 0.00002854, 0.00002851, 0.00002854,
        36304.2, 1.03547608, 79, 19523.0, 1.03547608 / 36304.2, False,
    )


def test_two_kline_days_merge() -> None:
    days = [shared_file(f"real/binance/ADABTC-1m-2021-11-{d}.csv") for d in (28, 27)]
    result = load(*days)
    assert result.frame.height == 21 and result.duplicates_dropped == 0
    assert result.frame["timestamp"].is_sorted()


def test_freqtrade_ohlcv_feather_and_json() -> None:
    feather = load(shared_file("real/freqtrade/XRP_ETH-1m.feather"))
    assert feather.kind == "candles" and feather.timeframe_ms == 60_000
    assert feather.files[0]["layout"] == "freqtrade-ohlcv-feather"
    assert feather.frame.height == 2_469
    assert feather.frame["timestamp"][0] == datetime(2019, 10, 11, tzinfo=UTC)
    assert feather.frame["vwap"].null_count() == 2_469
    assert not feather.frame["filled"].any()
    five = load(shared_file("real/freqtrade/XRP_ETH-5m.feather"))
    assert five.timeframe_ms == 300_000
    hourly = load(shared_file("real/freqtrade/futures/XRP_USDT_USDT-1h-futures.json.gz"))
    assert hourly.files[0]["layout"] == "freqtrade-ohlcv-json"
    assert hourly.timeframe_ms == 3_600_000 and hourly.frame.height == 100


def test_freqtrade_trades_csv_with_index_column() -> None:
    result = load(shared_file("real/freqtrade/orderflow/public_trades_list.csv"))
    assert result.files[0]["layout"] == "freqtrade-trades-csv" and result.files[0]["header"]
    assert result.frame.height == 1_000
    assert result.frame["timestamp"][0] == datetime(2023, 2, 2, 9, 20, 0, 138_000, tzinfo=UTC)


# -- several files ------------------------------------------------------------------------------


def test_overlapping_trade_files_merge_and_count_duplicates(tmp_path: Path) -> None:
    first = generate("spot-aggTrades", n=10, first_id=1000)
    second = generate("spot-aggTrades", n=10, first_id=1006)  # ids 1006..1009 repeat
    a = write_zip(tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip", csv_bytes(first))
    b = tmp_path / "BTCUSDT-aggTrades-2024-01-02.csv"
    b.write_bytes(csv_bytes(second))
    for order in ((a, b), (b, a)):
        result = load(*order)
        assert result.duplicates_dropped == 4
        assert result.frame["trade_id"].to_list() == list(range(1000, 1016))
        assert [f["rows"] for f in result.files] == [10, 10]


def test_overlapping_exports_keep_one_copy_and_a_conflict_names_both_rows(
        tmp_path: Path) -> None:
    """Two exports of the same bars overlap by three: identical copies are kept once and
    counted; a copy with another close is exit 3 naming both files' lines, never a silent
    choice of one of them."""
    early = generate("um-klines", n=6, first_id=0)
    late = generate("um-klines", n=6, first_id=3)
    paths = []
    for name, gen in (("a.csv", early), ("b.csv", late)):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(csv_bytes(gen, header=True))
    result = load(*paths)
    assert result.duplicates_dropped == 3 and result.frame.height == 9
    late.rows[0][4] = "999.0"  # close of the repeated bar differs in the second file
    paths[1].write_bytes(csv_bytes(late, header=True))
    error = str(data_error(*paths))
    assert f"{paths[0]}, line 5 and {paths[1]}, line 2 hold the same timestamp" in error
    assert "close 103.5 vs 999.0" in error and "overlapping exports must agree" in error


def test_mixing_trades_and_candles_is_an_error(tmp_path: Path) -> None:
    trades, candles = tmp_path / "t.csv", tmp_path / "k.csv"
    trades.write_bytes(csv_bytes(generate("spot-trades")))
    candles.write_bytes(csv_bytes(generate("spot-klines")))
    error = str(data_error(trades, candles))
    assert "cannot mix trades and candles" in error and str(candles) in error
