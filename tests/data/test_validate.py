"""Tests of the checks applied to every source's trades and candles."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.loader import load_files, locate_row
from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA
from ares_cli.data.validate import validate_candles, validate_trades
from ares_cli.errors import ConfigError, DataError
from tests.conftest import shared_file
from tests.data.binance_files import csv_bytes, generate, write_zip

NOW = datetime(2024, 6, 1, tzinfo=UTC)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
TRADE_KEYS = {
    "rows_in", "rows_out", "dropped_missing", "dropped_nonpositive_price",
    "dropped_nonpositive_qty", "dropped_before_2009", "dropped_after_now", "dropped_duplicate_id",
}
CANDLE_KEYS = {
    "rows_in", "rows_out", "dropped_missing", "dropped_nonpositive_price",
    "dropped_negative_volume", "dropped_high_below_open_close", "dropped_low_above_open_close",
    "dropped_before_2009", "dropped_after_now", "dropped_duplicate_timestamp",
}


def trades(rows: list[tuple]) -> pl.DataFrame:
    """A trades frame from (trade_id, timestamp, price, qty, is_buyer_maker) tuples."""
    return pl.DataFrame(rows, schema=TRADES_SCHEMA, orient="row")


def candles(rows: list[tuple]) -> pl.DataFrame:
    """A candles frame from (timestamp, open, high, low, close, volume) tuples."""
    full = [(*r, None, None, None, None, False) for r in rows]
    return pl.DataFrame(full, schema=BARS_SCHEMA, orient="row")


def at(seconds: float) -> datetime:
    """T0 plus `seconds`."""
    return T0 + timedelta(seconds=seconds)


def clean_trades(n: int = 5) -> list[tuple]:
    """Valid trades, one per second."""
    return [(i, at(i), 100.0 + i, 1.0, i % 2 == 0) for i in range(n)]


def clean_candles(n: int = 5) -> list[tuple]:
    """Valid 1-minute candles."""
    return [(at(60 * i), 10.0, 11.0, 9.0, 10.5, 3.0) for i in range(n)]


# -- trades -------------------------------------------------------------------------------------


def test_real_trades_pass_unchanged() -> None:
    frame = load_files([str(shared_file("real/freqtrade/XRP_ETH-trades.feather"))]).frame
    out, counts = validate_trades(frame, policy="reject", now=NOW, source="xrp")
    assert_frame_equal(out, frame)
    assert set(counts) == TRADE_KEYS
    assert counts["rows_in"] == counts["rows_out"] == 12_477
    assert all(v == 0 for k, v in counts.items() if k.startswith("dropped_"))


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ((90, at(90), 0.0, 1.0, True), "nonpositive_price"),
        ((91, at(91), -1.0, 1.0, True), "nonpositive_price"),
        ((92, at(92), float("nan"), 1.0, True), "nonpositive_price"),
        ((93, at(93), float("inf"), 1.0, True), "nonpositive_price"),
        ((94, at(94), 1.0, 0.0, True), "nonpositive_qty"),
        ((95, at(95), 1.0, float("nan"), True), "nonpositive_qty"),
        ((96, datetime(2008, 12, 31, 23, 59, tzinfo=UTC), 1.0, 1.0, True), "before_2009"),
        ((97, NOW + timedelta(microseconds=1), 1.0, 1.0, True), "after_now"),
        ((98, at(98), None, 1.0, True), "missing"),
        ((99, at(99), 1.0, 1.0, None), "missing"),
    ],
)
def test_each_trade_check_drops_and_counts(bad: tuple, reason: str) -> None:
    frame = trades([*clean_trades(), bad])
    out, counts = validate_trades(frame, policy="drop", now=NOW, source="s")
    assert_frame_equal(out, trades(clean_trades()))
    assert counts[f"dropped_{reason}"] == 1
    assert counts["rows_in"] == 6 and counts["rows_out"] == 5
    assert sum(v for k, v in counts.items() if k.startswith("dropped_")) == 1


def test_reject_names_source_row_and_trade() -> None:
    frame = trades([*clean_trades(), (7, at(7), -2.5, 1.0, False), (8, at(8), 0.0, 1.0, False)])
    with pytest.raises(DataError) as caught:
        validate_trades(frame, policy="reject", now=NOW, source="binance ETHUSDT")
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "binance ETHUSDT: row 6 (trade_id 7, 2024-01-01T00:00:07+00:00): "
        "price must be positive and finite (price -2.5)"
    )


def test_reject_future_trade_message() -> None:
    frame = trades([(1, NOW + timedelta(hours=1), 1.0, 1.0, True)])
    with pytest.raises(DataError, match=r"row 1 \(trade_id 1, .*\): timestamp is after now"):
        validate_trades(frame, policy="reject", now=NOW, source="s")


def test_duplicate_ids_are_dropped_even_under_reject() -> None:
    rows = clean_trades()
    frame = trades([*rows, rows[1], rows[3]])
    out, counts = validate_trades(frame, policy="reject", now=NOW, source="s")
    assert counts["dropped_duplicate_id"] == 2 and counts["rows_out"] == 5
    assert_frame_equal(out, trades(rows))


def test_first_copy_of_a_duplicate_id_is_kept() -> None:
    frame = trades([(1, at(5), 2.0, 1.0, True), (1, at(1), 3.0, 1.0, True)])
    out, _ = validate_trades(frame, policy="drop", now=NOW, source="s")
    assert out["price"].to_list() == [2.0]


def test_result_sorted_by_time_then_id() -> None:
    frame = trades([(5, at(2), 1.0, 1.0, True), (3, at(2), 1.0, 1.0, True),
                    (9, at(1), 1.0, 1.0, True)])
    out, _ = validate_trades(frame, policy="reject", now=NOW, source="s")
    assert out["trade_id"].to_list() == [9, 3, 5]


def test_naive_and_offset_now_are_utc() -> None:
    frame = trades([(1, datetime(2024, 1, 1, 12, tzinfo=UTC), 1.0, 1.0, True)])
    _, naive = validate_trades(frame, policy="drop", now=datetime(2024, 1, 1, 11), source="s")
    assert naive["dropped_after_now"] == 1
    plus_two = datetime(2024, 1, 1, 13, tzinfo=timezone(timedelta(hours=2)))  # 11:00 UTC
    _, offset = validate_trades(frame, policy="drop", now=plus_two, source="s")
    assert offset["dropped_after_now"] == 1


def test_bad_policy_and_bad_schema() -> None:
    with pytest.raises(ConfigError):
        validate_trades(trades(clean_trades()), policy="warn", now=NOW, source="s")
    with pytest.raises(DataError, match=r"^s: missing columns"):
        validate_trades(pl.DataFrame({"price": [1.0]}), policy="drop", now=NOW, source="s")


def test_empty_frame() -> None:
    out, counts = validate_trades(trades([]), policy="reject", now=NOW, source="s")
    assert out.height == 0 and counts["rows_in"] == counts["rows_out"] == 0


# -- candles ------------------------------------------------------------------------------------


def test_real_candles_pass_unchanged() -> None:
    frame = load_files([str(shared_file("real/freqtrade/XRP_ETH-1m.feather"))]).frame
    out, counts = validate_candles(frame, policy="reject", now=NOW, source="xrp")
    assert_frame_equal(out, frame)
    assert set(counts) == CANDLE_KEYS and counts["rows_out"] == 2_469


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ((at(600), 10.0, 10.4, 9.0, 10.5, 1.0), "high_below_open_close"),
        ((at(600), 10.0, 11.0, 10.2, 10.5, 1.0), "low_above_open_close"),
        ((at(600), 10.0, 11.0, 9.0, 10.5, -1.0), "negative_volume"),
        ((at(600), 10.0, 11.0, 9.0, 10.5, float("nan")), "negative_volume"),
        ((at(600), 0.0, 11.0, 9.0, 10.5, 1.0), "nonpositive_price"),
        ((at(600), 10.0, 11.0, float("nan"), 10.5, 1.0), "nonpositive_price"),
        ((at(600), 10.0, 11.0, 9.0, None, 1.0), "missing"),
        ((datetime(2001, 1, 1, tzinfo=UTC), 10.0, 11.0, 9.0, 10.5, 1.0), "before_2009"),
        ((NOW + timedelta(minutes=1), 10.0, 11.0, 9.0, 10.5, 1.0), "after_now"),
    ],
)
def test_each_candle_check_drops_and_counts(bad: tuple, reason: str) -> None:
    out, counts = validate_candles(candles([*clean_candles(), bad]), policy="drop", now=NOW,
                                   source="s")
    assert_frame_equal(out, candles(clean_candles()))
    assert counts[f"dropped_{reason}"] == 1 and counts["rows_out"] == 5


def test_zero_volume_candle_is_valid() -> None:
    out, _ = validate_candles(candles([(at(0), 1.0, 1.0, 1.0, 1.0, 0.0)]), policy="reject",
                              now=NOW, source="s")
    assert out.height == 1


def test_candle_reject_message_and_duplicates() -> None:
    rows = clean_candles()
    bad = candles([*rows, rows[0], (at(900), 10.0, 10.4, 9.0, 10.5, 1.0)])
    with pytest.raises(DataError) as caught:
        validate_candles(bad, policy="reject", now=NOW, source="bars.feather")
    assert str(caught.value) == (
        "bars.feather: row 7 (timestamp 2024-01-01T00:15:00+00:00): "
        "high 10.4 is below max(open, close) 10.5"
    )
    out, counts = validate_candles(bad, policy="drop", now=NOW, source="s")
    assert counts["dropped_duplicate_timestamp"] == 1
    assert counts["dropped_high_below_open_close"] == 1
    assert_frame_equal(out, candles(rows))


# -- property: counts add up and the output satisfies every check --------------------------------

prices = st.one_of(st.floats(-1, 1e6), st.sampled_from([float("nan"), float("inf"), None]))
stamps = st.integers(1_100_000_000, 1_800_000_000)  # 2004..2027, in seconds


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), stamps, prices, prices, st.booleans()),
                max_size=40))
def test_trade_counts_add_up(rows: list[tuple]) -> None:
    frame = trades([(i, datetime.fromtimestamp(t, UTC), p, q, m) for i, t, p, q, m in rows])
    out, counts = validate_trades(frame, policy="drop", now=NOW, source="s")
    dropped = sum(v for k, v in counts.items() if k.startswith("dropped_"))
    assert counts["rows_in"] == len(rows) == counts["rows_out"] + dropped == out.height + dropped
    assert out["trade_id"].n_unique() == out.height
    assert out.select((pl.col("price") > 0).all() & (pl.col("qty") > 0).all()).item() is not False
    assert out.equals(out.sort("timestamp", "trade_id"))
    assert out.filter(pl.col("timestamp") > NOW).height == 0


# -- rejected rows named by file and line (the files source) --------------------------------------


def reject_files(*paths: Path, **options: object) -> str:
    """The message of the DataError that validating the loaded files under "reject" raises."""
    names = [str(p) for p in paths]
    config = FilesConfig(**options)
    loaded = load_files(names, config)
    check = validate_trades if loaded.kind == "trades" else validate_candles
    with pytest.raises(DataError) as caught:
        check(loaded.frame, policy="reject", now=NOW, source="files",
              locate=partial(locate_row, names, config))
    assert caught.value.exit_code == 3
    return str(caught.value)


@pytest.mark.parametrize("header", [False, True])
def test_reject_names_csv_file_and_line(tmp_path: Path, header: bool) -> None:
    gen = generate("spot-aggTrades", n=6)
    gen.rows[3][1] = "-0.5"  # data row 4
    path = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    path.write_bytes(csv_bytes(gen, header=header))
    stamp = datetime.fromtimestamp(int(gen.rows[3][5]) / 1000, UTC).isoformat()
    assert reject_files(path) == (
        f"{path}, line {4 + header} (trade_id 1003, {stamp}): "
        "price must be positive and finite (price -0.5)"
    )


def test_reject_names_the_member_of_a_zip_and_the_file_among_several(tmp_path: Path) -> None:
    first = generate("spot-aggTrades", n=5, first_id=1000)
    second = generate("spot-aggTrades", n=5, first_id=1003)  # ids 1003, 1004 repeat
    second.rows[4][2] = "0"  # qty of id 1007, line 5 of the second file
    a = write_zip(tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip", csv_bytes(first))
    b = write_zip(tmp_path / "BTCUSDT-aggTrades-2024-01-02.zip", csv_bytes(second))
    message = reject_files(a, b)
    assert message.startswith(f"{b} (BTCUSDT-aggTrades-2024-01-02.csv), line 5 (trade_id 1007, ")
    assert message.endswith("qty must be positive and finite (qty 0.0)")


def test_reject_names_the_first_copy_of_a_repeated_bad_row(tmp_path: Path) -> None:
    gen = generate("spot-aggTrades", n=4)
    gen.rows[2][1] = "0"
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    b.write_bytes(csv_bytes(gen))
    a.write_bytes(csv_bytes(generate("spot-aggTrades", n=2, first_id=990)) + csv_bytes(gen))
    assert reject_files(a, b).startswith(f"{a}, line 5 (trade_id 1002, ")


def test_reject_names_the_file_row_of_an_unsorted_table(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"trade_id": [3, 1, 2], "timestamp": [1_704_067_200_002, 1_704_067_200_000,
                  1_704_067_200_001], "price": [1.0, 1.0, float("nan")], "qty": [1.0] * 3,
                  "side": ["buy", "sell", "buy"]}).write_parquet(path)
    assert reject_files(path) == (
        f"{path}, row 3 (trade_id 2, 2024-01-01T00:00:00.001000+00:00): "
        "price must be positive and finite (price nan)"
    )


def test_reject_names_candle_line_and_json_row(tmp_path: Path) -> None:
    gen = generate("um-klines", n=5)
    gen.rows[1][2] = gen.rows[1][3]  # high = low, below the close
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(gen, header=True))
    assert reject_files(path).startswith(f"{path}, line 3 (timestamp ")
    rows = [[1_704_067_200_000 + 60_000 * i, 1.0, 2.0, 0.5, 1.5, 1.0] for i in range(3)]
    rows[2][5] = -1.0
    json_path = tmp_path / "X-1m.json"
    json_path.write_text(json.dumps(rows))
    assert reject_files(json_path) == (
        f"{json_path}, row 3 (timestamp 2024-01-01T00:02:00+00:00): "
        "volume must be zero or more and finite (-1.0)"
    )


def test_reject_without_a_location_names_the_row(tmp_path: Path) -> None:
    gen = generate("spot-aggTrades", n=3)
    gen.rows[1][1] = "0"
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    loaded = load_files([str(path)])
    path.write_bytes(csv_bytes(generate("spot-aggTrades", n=3)))  # changed since it was loaded
    with pytest.raises(DataError, match=r"^files: row 2 \(trade_id 1001, "):
        validate_trades(loaded.frame, policy="reject", now=NOW, source="files",
                        locate=partial(locate_row, [str(path)], FilesConfig()))


def test_drop_is_unchanged_by_a_locator() -> None:
    def never(row: pl.DataFrame) -> str:
        raise AssertionError("locate is for rejections only")

    frame = trades([*clean_trades(), (7, at(7), -2.5, 1.0, False), (1, at(1), 2.0, 1.0, True)])
    plain = validate_trades(frame, policy="drop", now=NOW, source="s")
    located = validate_trades(frame, policy="drop", now=NOW, source="s", locate=never)
    assert_frame_equal(located[0], plain[0])
    assert located[1] == plain[1] and plain[1]["dropped_nonpositive_price"] == 1
    assert plain[1]["dropped_duplicate_id"] == 1
