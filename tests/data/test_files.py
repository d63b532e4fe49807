"""Tests of the `files` loader: real samples from ../shared/data and generated Binance files."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal
from pydantic import ValidationError

from ares_cli.config import build_config
from ares_cli.data.files import FilesConfig, LoadedFiles, expand_paths, load_files
from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA
from ares_cli.errors import ConfigError, DataError
from tests.conftest import shared_file
from tests.data.binance_files import (
    HEADERS,
    VARIANTS,
    binance_path,
    csv_bytes,
    generate,
    write_checksum,
    write_zip,
)

AGG_CSV = "real/binance/derived_from_freqtrade/XRPETH-aggTrades-2019-10-11_2019-10-13.csv"
AGG_ZIP = "BTCUSDT-aggTrades-2024-01-01.zip"


def load(*paths: Path | str, **options: object) -> LoadedFiles:
    """load_files on paths given as Path or str."""
    return load_files([str(p) for p in paths], FilesConfig(**options))


def micros(frame: pl.DataFrame) -> list[int]:
    """The timestamp column as epoch microseconds."""
    return frame["timestamp"].cast(pl.Int64).to_list()


def agg_zip(folder: Path, n: int = 5) -> Path:
    """A spot aggTrades zip of `n` generated rows, without CHECKSUM."""
    return write_zip(folder / AGG_ZIP, csv_bytes(generate("spot-aggTrades", n=n)))


def data_error(*paths: Path | str, **options: object) -> DataError:
    """The DataError load_files raises (and check it maps to exit code 3)."""
    with pytest.raises(DataError) as caught:
        load(*paths, **options)
    assert caught.value.exit_code == 3
    return caught.value


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


# -- generated Binance files: every layout variant ----------------------------------------------


def expected_layout(variant: str) -> str:
    """Layout name reported for a file stored where data.binance.vision keeps it."""
    market, dataset = variant.split("-")
    return f"binance-{market}-{dataset}"


def assert_matches(result: LoadedFiles, expected: dict[str, list]) -> None:
    """Every expected column equals the loaded one (timestamps compared as epoch µs)."""
    for column, values in expected.items():
        loaded = micros(result.frame) if column == "timestamp" else result.frame[column].to_list()
        assert loaded == values, column


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


def test_microsecond_timestamps_keep_sub_millisecond_precision(tmp_path: Path) -> None:
    gen = generate("spot-aggTrades", unit="us")
    path = tmp_path / "BTCUSDT-aggTrades-2025-01-01.csv"
    path.write_bytes(csv_bytes(gen))
    stamps = micros(load(path).frame)
    assert stamps == gen.expected["timestamp"] and stamps[0] % 1000 == 137


def test_crlf_and_trailing_blank_lines(tmp_path: Path) -> None:
    gen = generate("um-aggTrades")
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes(gen, header=True, newline="\r\n") + b"\r\n\r\n")
    assert_matches(load(path), gen.expected)


def test_gzipped_csv(tmp_path: Path) -> None:
    gen = generate("spot-trades")
    path = tmp_path / "BTCUSDT-trades-2024-01-01.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes(gen)))
    assert_matches(load(path), gen.expected)


# -- zip archives and checksums ----------------------------------------------------------------


@pytest.mark.parametrize("variant", ["spot-aggTrades", "um-trades", "cm-klines"])
def test_zip_with_correct_checksum(tmp_path: Path, variant: str) -> None:
    gen = generate(variant, n=50)
    path = write_zip(binance_path(tmp_path, variant, suffix=".zip"), csv_bytes(gen))
    write_checksum(path)
    result = load(path)
    assert result.files[0]["checksum"] == "ok"
    assert result.files[0]["layout"] == expected_layout(variant)
    assert_matches(result, gen.expected)


def test_zip_checksum_absent_or_skipped(tmp_path: Path) -> None:
    path = agg_zip(tmp_path)
    assert load(path).files[0]["checksum"] == "absent"
    write_checksum(path, "0" * 64)
    assert load(path, verify_checksum=False).files[0]["checksum"] == "skipped"


def test_zip_with_wrong_checksum(tmp_path: Path) -> None:
    path = agg_zip(tmp_path)
    write_checksum(path, "ab" * 32)
    error = str(data_error(path))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert error == (
        f"{path}: sha256 checksum mismatch: expected {'ab' * 32} (from {AGG_ZIP}.CHECKSUM), "
        f"actual {actual}"
    )


def test_truncated_zip(tmp_path: Path) -> None:
    path = agg_zip(tmp_path, n=200)
    path.write_bytes(path.read_bytes()[:-40])
    error = data_error(path)
    assert str(path) in str(error) and "corrupt zip archive" in str(error)


def test_zip_with_damaged_data(tmp_path: Path) -> None:
    path = agg_zip(tmp_path, n=2000)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the deflate stream
    path.write_bytes(bytes(raw))
    error = data_error(path)
    assert str(path) in str(error) and "corrupt zip archive" in str(error)


def test_zip_holding_two_files(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", b"1,2\n")
        archive.writestr("b.csv", b"1,2\n")
    assert "expected one CSV inside the zip, found a.csv, b.csv" in str(data_error(path))


def test_zip_with_stored_member(tmp_path: Path) -> None:
    gen = generate("spot-klines")
    path = tmp_path / "BTCUSDT-1m-2024-01-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("BTCUSDT-1m-2024-01-01.csv", csv_bytes(gen))
    assert_matches(load(path), gen.expected)


# -- malformed content --------------------------------------------------------------------------


def test_truncated_last_line(tmp_path: Path) -> None:
    content = csv_bytes(generate("spot-aggTrades"))
    path = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    path.write_bytes(content[:-30])  # the last of 5 lines is cut short
    error = data_error(path)
    assert str(error).startswith(f"{path}, line 5: expected 8 fields, found ")


def test_truncated_last_line_inside_zip(tmp_path: Path) -> None:
    content = csv_bytes(generate("um-aggTrades"), header=True)
    path = write_zip(tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip", content[:-8])
    error = data_error(path)
    assert f"{path} (BTCUSDT-aggTrades-2024-01-01.csv), line 6: " in str(error)


def test_unparsable_value_names_line_and_field(tmp_path: Path) -> None:
    gen = generate("spot-klines")
    gen.rows[2][1] = "0.0x1"
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(gen))
    error = data_error(path)
    assert str(error) == f"{path}, line 3: field 2 (open) '0.0x1' is not a number"


def test_bad_boolean_and_extra_field(tmp_path: Path) -> None:
    gen = generate("um-trades")
    gen.rows[1][5] = "maybe"
    gen.rows[3].append("9")
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes(gen, header=True))
    expected = f"{path}, line 3: field 6 (is_buyer_maker) 'maybe' is not true/false"
    assert str(data_error(path)) == expected
    gen.rows[1][5] = "true"
    path.write_bytes(csv_bytes(gen, header=True))
    assert str(data_error(path)).startswith(f"{path}, line 5: expected 6 fields, found 7")


def test_blank_line_in_the_middle(tmp_path: Path) -> None:
    lines = csv_bytes(generate("spot-aggTrades")).split(b"\n")
    path = tmp_path / "a.csv"
    path.write_bytes(b"\n".join([*lines[:2], b"", *lines[2:]]))
    assert str(data_error(path)) == f"{path}, line 3: empty line (expected 8 fields)"


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    empty.write_bytes(b"")
    assert str(data_error(empty)) == f"{empty}: file is empty"
    empty_zip = write_zip(tmp_path / "BTCUSDT-trades-2024-01-01.zip", b"")
    expected = f"{empty_zip} (BTCUSDT-trades-2024-01-01.csv): file is empty"
    assert str(data_error(empty_zip)) == expected
    header_only = tmp_path / "h.csv"
    header_only.write_text(",".join(HEADERS["aggTrades"]) + "\n")
    assert "no data rows" in str(data_error(header_only))


def test_mixed_timestamp_units_in_one_file(tmp_path: Path) -> None:
    gen = generate("spot-aggTrades")
    gen.rows[3][5] = str(int(gen.rows[3][5]) * 1000)
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    error = str(data_error(path))
    assert error.startswith(f"{path}, line 4: timestamp ") and "one file must use one unit" in error


def test_explicit_unit_that_fits_is_used(tmp_path: Path) -> None:
    gen = generate("um-aggTrades", unit="us")
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    result = load(path, timestamp_unit="us")
    assert result.files[0]["time_unit"] == "us"
    assert micros(result.frame) == gen.expected["timestamp"]


@pytest.mark.parametrize(
    ("unit", "reads_as", "fits"),
    [("ns", "1970-01-01T00:28:24", "ms"), ("us", "1970-01-20T17:21:07", "ms"),
     ("s", "beyond the year 9999", "ms")],
)
def test_explicit_unit_against_the_magnitudes(
    tmp_path: Path, unit: str, reads_as: str, fits: str
) -> None:
    gen = generate("um-aggTrades")  # milliseconds from 2024-01-01
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    with pytest.raises(ConfigError) as caught:
        load(path, timestamp_unit=unit)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(f"{path}: files.timestamp_unit = {unit!r} but column "
                              "'transact_time' holds values like 17040")
    assert f"which in {UNIT_WORDS[unit]} is {reads_as}" in message
    assert message.endswith(f"set timestamp_unit = {fits!r} or 'auto'")


UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def test_explicit_unit_on_iso_text_or_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,price,qty,id,side\n2024-01-01T00:00:00,1.5,2,1,buy\n"
                    "2024-01-01T00:00:01,1.6,1,2,sell\n")
    assert load(path).files[0]["time_unit"] == "iso"
    with pytest.raises(ConfigError) as caught:
        load(path, timestamp_unit="ms")
    assert str(caught.value) == (
        f"{path}: files.timestamp_unit = 'ms' but column 'time' holds ISO text "
        "(2024-01-01T00:00:00); leave timestamp_unit = 'auto'"
    )
    feather = shared_file("real/freqtrade/XRP_ETH-5m.feather")
    with pytest.raises(ConfigError, match=r"column 'date' holds datetimes \(Datetime\("):
        load(feather, timestamp_unit="s")


def test_explicit_unit_overflow_and_implausible_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts,id,price,qty,side\n1672531436,1,1,1,buy\n1672531437000000,2,1,1,buy\n"
                    "1672531438,3,1,1,buy\n")
    error = str(data_error(path, timestamp_unit="s"))  # µs read as s would wrap around int64
    assert error == f"{path}, line 3: timestamp 1672531437000000 is out of range in seconds"
    # Values that are a plausible date in no unit are kept; validation names them (before 2009).
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("ts,id,price,qty,side\n12345,1,1,1,buy\n")
    assert load(tiny, timestamp_unit="ms").frame["timestamp"][0].year == 1970


def test_format_binance_rejects_other_csv(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("time,price,size\n1,2,3\n")
    assert "not a Binance public-data layout" in str(data_error(path, format="binance"))


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


def test_overlapping_candles_keep_first_file(tmp_path: Path) -> None:
    early = generate("um-klines", n=6, first_id=0)
    late = generate("um-klines", n=6, first_id=3)
    late.rows[0][4] = "999.0"  # close of the repeated bar differs in the second file
    paths = []
    for name, gen in (("a.csv", early), ("b.csv", late)):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(csv_bytes(gen, header=True))
    result = load(*paths)
    assert result.duplicates_dropped == 3 and result.frame.height == 9
    assert result.frame["close"][3] == early.expected["close"][3]


def test_mixing_trades_and_candles_is_an_error(tmp_path: Path) -> None:
    trades, candles = tmp_path / "t.csv", tmp_path / "k.csv"
    trades.write_bytes(csv_bytes(generate("spot-trades")))
    candles.write_bytes(csv_bytes(generate("spot-klines")))
    error = str(data_error(trades, candles))
    assert "cannot mix trades and candles" in error and str(candles) in error


def test_kind_option_must_match(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(generate("spot-klines")))
    assert "holds candles (binance-spot-klines), not trades" in str(data_error(path, kind="trades"))


def test_expand_paths_folders_and_globs(tmp_path: Path) -> None:
    a = write_zip(binance_path(tmp_path, "spot-aggTrades", "2024-01-01", ".zip"), b"1\n")
    write_checksum(a)
    b = binance_path(tmp_path, "spot-aggTrades", "2024-01-02")
    b.write_text("1\n")
    (tmp_path / "notes.txt").write_text("not data")
    assert expand_paths([str(tmp_path)]) == [a, b]
    assert expand_paths([str(tmp_path / "**" / "*aggTrades*"), str(b)]) == [a, b]
    with pytest.raises(DataError, match=r"no input files match '.*nothing-here"):
        expand_paths([str(tmp_path / "nothing-here*.zip")])


# -- generic tables -----------------------------------------------------------------------------


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


def test_table_value_that_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "t.feather"
    pl.DataFrame({"timestamp": [1_704_067_200_000] * 2, "id": [1, 2], "price": ["1.5", "x"],
                  "qty": [1.0, 1.0], "is_buyer_maker": [True, False]}).write_ipc(path)
    assert str(data_error(path)) == f"{path}, row 2: price 'x' is not a number"


def test_freqtrade_json_row_of_wrong_length(tmp_path: Path) -> None:
    path = tmp_path / "X-trades.json.gz"
    rows = [[1_704_067_200_000, "1", None, "buy", 1.0, 2.0, 2.0], [1_704_067_200_001, "2"]]
    path.write_bytes(gzip.compress(json.dumps(rows).encode()))
    assert str(data_error(path)).startswith(f"{path}, row 2: expected 7 values")


def test_unknown_columns_are_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("a,b,c\n1,2,3\n")
    assert "cannot tell trades from candles" in str(data_error(path))


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ValidationError, match="format"):
        FilesConfig(format="excel")
    with pytest.raises(ValidationError, match="prise"):
        FilesConfig(columns={"prise": "p"})
    with pytest.raises(ConfigError, match=r"files\.columns.*prise"):
        build_config({"files": {"columns": {"prise": "p"}}})


def test_sorted_output_from_unsorted_table(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"trade_id": [3, 1, 2], "timestamp": [1_704_067_200_002, 1_704_067_200_000,
                  1_704_067_200_000], "price": [1.0] * 3, "qty": [1.0] * 3,
                  "side": ["buy", "sell", "BUY"]}).write_parquet(path)
    result = load(path)
    assert result.frame["trade_id"].to_list() == [1, 2, 3]
    assert_series_equal(result.frame["is_buyer_maker"],
                        pl.Series("is_buyer_maker", [True, False, False]))


# -- JSON orientations --------------------------------------------------------------------------

MS = [1_704_067_200_000 + 300_000 * i for i in range(3)]  # 2024-01-01 00:00, 00:05, 00:10
OHLCV = {"date": MS, "open": [1.0, 2.0, 3.0], "high": [2.0, 3.0, 4.0], "low": [0.5, 1.0, 2.0],
         "close": [1.5, 2.5, 3.5], "volume": [10.0, 0.0, 3.0]}
NAMES = list(OHLCV)
ROWS = [list(row) for row in zip(*OHLCV.values(), strict=True)]


def orient(shape: str) -> object:
    """OHLCV as pandas' DataFrame.to_json writes it with `orient=shape` (default RangeIndex)."""
    records = [dict(zip(NAMES, row, strict=True)) for row in ROWS]
    return {
        "values": ROWS,
        "records": records,
        "columns": {name: {str(i): v for i, v in enumerate(vs)} for name, vs in OHLCV.items()},
        "index": {str(i): record for i, record in enumerate(records)},
        "split": {"columns": NAMES, "index": [0, 1, 2], "data": ROWS},
        "table": {"schema": {"fields": [], "primaryKey": ["index"]},
                  "data": [{"index": i, **r} for i, r in enumerate(records)]},
    }[shape]


@pytest.mark.parametrize("shape", ["values", "records", "columns", "index", "split", "table"])
def test_json_candles_in_every_orientation(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "ETH_BTC-5m.json"
    path.write_text(json.dumps(orient(shape)))
    result = load(path)
    assert result.kind == "candles" and result.timeframe_ms == 300_000
    assert result.files[0]["layout"] == "freqtrade-ohlcv-json"
    assert micros(result.frame) == [ms * 1000 for ms in MS]
    for name in NAMES[1:]:
        assert result.frame[name].to_list() == OHLCV[name], name


@pytest.mark.parametrize("shape", ["columns", "index", "split"])
def test_json_time_in_the_index(tmp_path: Path, shape: str) -> None:
    """pandas writes a DatetimeIndex as epoch ms (or ISO) labels; they become the timestamp."""
    body = {k: v for k, v in OHLCV.items() if k != "date"}
    labels = [str(ms) for ms in MS] if shape != "split" else MS
    data: object = {
        "columns": {n: dict(zip(labels, vs, strict=True)) for n, vs in body.items()},
        "index": {label: {n: vs[i] for n, vs in body.items()} for i, label in enumerate(labels)},
        "split": {"columns": list(body), "index": labels,
                  "data": [list(r) for r in zip(*body.values(), strict=True)]},
    }[shape]
    path = tmp_path / "bars.json.gz"
    path.write_bytes(gzip.compress(json.dumps(data).encode()))
    result = load(path)
    assert result.files[0]["layout"] == "table-candles-json"
    assert micros(result.frame) == [ms * 1000 for ms in MS]
    assert result.frame["close"].to_list() == OHLCV["close"]


def test_json_trades_as_records_with_iso_time(tmp_path: Path) -> None:
    records = [{"time": "2024-01-01T00:00:00Z", "id": 7, "price": 1.5, "size": 2.0, "side": "buy"},
               {"time": "2024-01-01T00:00:01Z", "id": 8, "price": 1.6, "size": 1.0, "side": "sell"}]
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(records))
    result = load(path)
    assert result.files[0]["layout"] == "table-trades-json"
    assert result.frame["trade_id"].to_list() == [7, 8]
    assert result.frame["is_buyer_maker"].to_list() == [False, True]


def test_json_written_by_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({**OHLCV, "date": pd.to_datetime(MS, unit="ms", utc=True)})
    for shape in ("values", "records", "columns", "index", "split", "table"):
        path = tmp_path / f"{shape}.json"
        frame.to_json(path, orient=shape, date_format="iso")
        assert micros(load(path).frame) == [ms * 1000 for ms in MS], shape
        path.write_text(frame.set_index("date").to_json(orient=shape, date_format="iso"))
        if shape in ("columns", "index", "split"):
            assert micros(load(path).frame) == [ms * 1000 for ms in MS], f"{shape} indexed"


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ('{"open": 1, "close": 2}', "an object with keys 'open', 'close'"),
        ('"bars"', "str"),
        ("[1, 2, 3]", "a list of ints (1)"),
    ],
)
def test_json_of_another_shape_lists_the_accepted_ones(
    tmp_path: Path, content: str, found: str
) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    message = str(data_error(path))
    assert message.startswith(f"{path}: not a JSON table: found {found}; expected one of: ")
    for shape in ("values", "records", "columns", "index", "split", "table"):
        assert f"orient='{shape}'" in message


def test_json_object_of_objects_without_known_names(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"a": {"b": 1}}')
    assert "orient='columns' cannot be told from orient='index'" in str(data_error(path))


def test_json_bad_value_names_the_row(tmp_path: Path) -> None:
    data = orient("split")
    data["data"][1][2] = "high"
    path = tmp_path / "x.json"
    path.write_text(json.dumps(data))
    assert str(data_error(path)) == f"{path}, row 2: high 'high' is not a number"
    data["data"][1] = [1, 2]
    path.write_text(json.dumps(data))
    assert str(data_error(path)).startswith(f"{path}, row 2: expected 6 values, found [1, 2]")


def test_docs_list_column_names_aliases_and_json_shapes() -> None:
    """docs/data-sources.md keeps up with what the loader recognises."""
    from ares_cli.data.files import _ALIASES

    docs = Path(__file__).resolve().parents[2] / "docs" / "data-sources.md"
    section = docs.read_text(encoding="utf-8")
    for name, aliases in _ALIASES.items():
        for alias in (name, *aliases):
            assert f"`{alias}`" in section, alias
    for shape in ("values", "records", "columns", "index", "split", "table"):
        assert f'orient="{shape}"' in section, shape
    assert "`bars.fine` must divide `bars.base`" in section
