"""Tests of the checks applied to every source's trades and candles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from ares_cli.data.files import load_files
from ares_cli.data.schema import BARS_SCHEMA, TRADES_SCHEMA
from ares_cli.data.validate import validate_candles, validate_trades
from ares_cli.errors import ConfigError, DataError
from tests.conftest import shared_file

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
