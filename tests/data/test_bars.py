"""Trades -> bars: OHLCV invariants, gap filling, and an exact match with real Binance candles."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ares_cli.data.bars import bars_from_trades, market_bars, resample_bars
from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP, TRADES_SCHEMA
from tests.conftest import shared_file

T0_US = 1_700_000_000_000_000 - (1_700_000_000_000_000 % 3_600_000_000)


def make_trades(offsets_us: list[int], prices: list[float], qtys: list[float],
                makers: list[bool]) -> pl.DataFrame:
    order = np.argsort(offsets_us, kind="stable")
    return pl.DataFrame(
        {
            "trade_id": np.arange(len(offsets_us), dtype=np.int64),
            "timestamp": pl.Series([T0_US + offsets_us[i] for i in order]).cast(TIMESTAMP),
            "price": [prices[i] for i in order],
            "qty": [qtys[i] for i in order],
            "is_buyer_maker": [makers[i] for i in order],
        },
        schema=TRADES_SCHEMA,
    )


trade_lists = st.integers(min_value=1, max_value=120).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 6 * 3_600_000_000 - 1), min_size=n, max_size=n),
        st.lists(st.floats(1.0, 1e5, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.floats(1e-4, 1e3, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(trade_lists, st.sampled_from([60_000, 300_000, 3_600_000]))
def test_ohlcv_invariants(data, every_ms):
    trades = make_trades(*data)
    bars = bars_from_trades(trades, every_ms)
    assert bars.schema == pl.Schema(BARS_SCHEMA)
    o, h, lo, c = (bars[col].to_numpy() for col in ("open", "high", "low", "close"))
    assert (h >= np.maximum(o, c)).all()
    assert (lo <= np.minimum(o, c)).all()
    assert bars["trades"].sum() == trades.height
    assert bars["volume"].sum() == pytest.approx(trades["qty"].sum(), rel=1e-9)
    taker_buy = trades.filter(~pl.col("is_buyer_maker"))["qty"].sum()
    assert bars["taker_buy_volume"].sum() == pytest.approx(taker_buy, rel=1e-9, abs=1e-12)
    steps = bars["timestamp"].dt.epoch("us").diff().drop_nulls()
    assert (steps == every_ms * 1000).all(), "bars must sit on a gap-free grid"
    assert (bars["timestamp"].dt.epoch("us") % (every_ms * 1000) == 0).all()
    assert (bars.filter(pl.col("filled"))["volume"] == 0).all()


def test_empty_interval_is_a_flagged_row_with_previous_close():
    trades = make_trades([0, 10, 3 * 60_000_000 + 5], [10.0, 12.0, 11.0], [1.0, 2.0, 3.0],
                         [False, True, False])
    bars = bars_from_trades(trades, 60_000)
    assert bars.height == 4
    assert bars["filled"].to_list() == [False, True, True, False]
    gap = bars.row(1, named=True)
    assert (gap["open"], gap["high"], gap["low"], gap["close"]) == (12.0, 12.0, 12.0, 12.0)
    assert gap["volume"] == 0 and gap["trades"] == 0
    first = bars.row(0, named=True)
    assert first["vwap"] == pytest.approx((10 * 1 + 12 * 2) / 3)
    assert first["taker_buy_volume"] == 1.0


def _freqtrade_trades() -> pl.DataFrame:
    raw = pl.read_ipc(shared_file("real/freqtrade/XRP_ETH-trades.feather"))
    return raw.select(
        trade_id=pl.col("id").cast(pl.Int64),
        timestamp=(pl.col("timestamp") * 1000).cast(TIMESTAMP),
        price=pl.col("price"),
        qty=pl.col("amount"),
        is_buyer_maker=pl.col("side") == "sell",
    ).sort("timestamp", "trade_id")


@pytest.mark.parametrize(("name", "every_ms"), [("XRP_ETH-1m", 60_000), ("XRP_ETH-5m", 300_000)])
def test_exact_match_with_real_candles(name, every_ms):
    trades = _freqtrade_trades()
    expected = pl.read_ipc(shared_file(f"real/freqtrade/{name}.feather"))
    built = bars_from_trades(trades, every_ms).filter(~pl.col("filled"))
    expected = expected.select(
        timestamp=pl.col("date").cast(TIMESTAMP), open="open", high="high", low="low",
        close="close", volume="volume",
    )
    assert built.height == expected.height
    columns = ["timestamp", "open", "high", "low", "close", "volume"]
    assert built.select(columns).equals(expected.select(columns))


def _random_trades(seed: int, n: int, hours: int) -> pl.DataFrame:
    """`n` trades of a random walk spread over `hours` hours from the epoch."""
    rng = np.random.default_rng(seed)
    offsets = np.sort(rng.integers(0, hours * 3_600_000_000, n)).tolist()
    return make_trades(offsets, (100 + rng.normal(size=n).cumsum()).tolist(),
                       rng.integers(1, 9, n).astype(float).tolist(), [True] * n)


def test_candles_resample_to_the_same_bars_as_trades():
    n = 2000
    trades = _random_trades(3, n, 4)
    fine = bars_from_trades(trades, 60_000)
    hourly, _fine, notes, _ = market_bars(None, fine, 3_600_000, 60_000)
    direct = bars_from_trades(trades, 3_600_000)
    columns = ["timestamp", "open", "high", "low", "close", "volume", "trades", "filled"]
    assert hourly.select(columns).equals(direct.select(columns))
    assert notes["built_from"] == "candles"
    assert resample_bars(fine, 300_000)["trades"].sum() == n


def test_unknown_candle_fields_stay_null():
    fine = bars_from_trades(make_trades([0, 70_000_000], [1.0, 2.0], [1.0, 1.0], [True, True]),
                            60_000).with_columns(taker_buy_volume=pl.lit(None, pl.Float64))
    hourly = resample_bars(fine, 3_600_000)
    assert hourly["taker_buy_volume"].to_list() == [None]


def test_candles_as_coarse_as_the_base_bar_are_the_fine_path_and_say_so():
    trades = _random_trades(4, 3000, 12)
    hourly_candles = bars_from_trades(trades, 3_600_000)
    base, fine, notes, _ = market_bars(None, hourly_candles, 3_600_000, 60_000)
    assert notes["fine_is_candles"] and notes["fine_ms"] == 3_600_000
    assert fine.select("timestamp", "close").equals(base.select("timestamp", "close"))
    four, fine4, _, _ = market_bars(None, hourly_candles, 4 * 3_600_000, 60_000)
    assert fine4.select("timestamp", "close").equals(hourly_candles.select("timestamp", "close"))
    assert four["volume"].sum() == pytest.approx(hourly_candles["volume"].sum())


def test_candles_coarser_than_the_base_bar_name_bars_base_and_a_value_that_works():
    from ares_cli.data.bars import CandleResolutionError

    candles = bars_from_trades(make_trades([0, 7_300_000_000], [1.0, 2.0], [1.0, 1.0],
                                           [True, True]), 4 * 3_600_000)
    with pytest.raises(CandleResolutionError) as caught:
        market_bars(None, candles, 3_600_000, 60_000)
    assert "the candles are 4h, coarser than bars.base (1h)" in str(caught.value)
    assert "--set bars.base=4h" in str(caught.value)
    with pytest.raises(CandleResolutionError, match=r"does not divide bars.base \(1h\).*=80m"):
        market_bars(None, bars_from_trades(make_trades([0, 7_300_000_000], [1.0, 2.0],
                                                       [1.0, 1.0], [True, True]), 2_400_000),
                    3_600_000, 60_000)
