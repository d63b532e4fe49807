"""Trades as UTC-day chunks: the chunk list, bars streamed a chunk at a time (identical to the
whole-table builder, bit for bit), id holes across chunk edges, and the synthetic market made
a day at a time."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ares_cli.data.bars import bars_from_chunks, bars_from_trades
from ares_cli.data.chunks import DAY_US, ChunkWriter, MemoryObjects, TradeChunks
from ares_cli.data.gaps import missing_trade_ids
from ares_cli.data.synthetic import day_trades, generate, plan
from tests.conftest import shared_file

HOUR_MS, MINUTE_MS = 3_600_000, 60_000


def _chunked(trades: pl.DataFrame) -> TradeChunks:
    writer = ChunkWriter(MemoryObjects())
    writer.add(trades)
    return writer.finish()


def _assert_same_bars(trades: pl.DataFrame, frames: list[pl.DataFrame], base_ms: int,
                      fine_ms: int) -> None:
    base, fine, ids = bars_from_chunks(frames, base_ms, fine_ms)
    assert_frame_equal(base, bars_from_trades(trades, base_ms), check_exact=True)
    assert_frame_equal(fine, bars_from_trades(trades, fine_ms), check_exact=True)
    real = bars_from_trades(trades, base_ms).filter(~pl.col("filled"))
    assert ids["timestamp"].to_list() == real["timestamp"].to_list()


@pytest.fixture(scope="module")
def market_trades() -> pl.DataFrame:
    """Today's synthetic trades (four days, an outage inside)."""
    return generate(seed=4, days=4, trades_per_day=20_000, outages=1).trades


def test_a_chunk_list_holds_each_utc_day_once_in_order(market_trades):
    chunks = _chunked(market_trades)
    assert [c.day for c in chunks.chunks] == ["2024-01-01", "2024-01-02", "2024-01-03",
                                              "2024-01-04"]
    assert chunks.rows == market_trades.height == sum(f.height for f in chunks.frames())
    for chunk, frame in zip(chunks.chunks, chunks.frames(), strict=True):
        stamps = frame["timestamp"].dt.epoch("us")
        assert stamps.min() // DAY_US == stamps.max() // DAY_US  # one day each
        assert (chunk.first_time, chunk.last_time) == (stamps[0], stamps[-1])
        assert (chunk.first_id, chunk.last_id) == (frame["trade_id"][0], frame["trade_id"][-1])
    assert_frame_equal(chunks.collect(), market_trades, check_exact=True)
    # pages that split a day are joined into that day's one chunk, with the same bytes
    writer = ChunkWriter(MemoryObjects())
    for lo in range(0, market_trades.height, 7_777):
        writer.add(market_trades.slice(lo, 7_777))
    assert writer.finish().to_json() == chunks.to_json()


def test_trades_out_of_time_order_are_refused(market_trades):
    writer = ChunkWriter(MemoryObjects())
    writer.add(market_trades.slice(40_000, 100))
    with pytest.raises(ValueError, match="time order"):
        writer.add(market_trades.slice(0, 100))


@pytest.mark.parametrize(("base_ms", "fine_ms"), [
    (HOUR_MS, MINUTE_MS), (7 * HOUR_MS, 5 * MINUTE_MS), (5 * MINUTE_MS, MINUTE_MS)])
def test_bars_streamed_by_day_equal_the_whole_table_bit_for_bit(market_trades, base_ms, fine_ms):
    """Every column of every bar, also for a 7h base bar that straddles midnight (its trades
    are carried into the next chunk)."""
    _assert_same_bars(market_trades, list(_chunked(market_trades).frames()), base_ms, fine_ms)


def test_bars_are_the_same_wherever_the_chunks_are_cut(market_trades):
    """Cuts inside a bar, on a bar edge, one-trade chunks: the carried edge is exact."""
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.choice(market_trades.height, 40, replace=False))
    cuts = [0, *cuts.tolist(), 1, 2, market_trades.height]
    cuts = sorted(set(cuts))
    frames = [market_trades.slice(a, b - a) for a, b in pairwise(cuts)]
    _assert_same_bars(market_trades, frames, HOUR_MS, MINUTE_MS)


@pytest.mark.parametrize("piece", [1, 7, 500])
def test_bars_are_the_same_when_a_day_is_reduced_in_small_pieces(market_trades, monkeypatch,
                                                                 piece):
    """A day is reduced a piece of whole bars at a time (memory): pieces of one trade, of a few
    (most bars hold more, so a piece is then one whole bar) and of hundreds give the same bars,
    also for a 7h bar that straddles midnight."""
    from ares_cli.data import bars as bars_module

    monkeypatch.setattr(bars_module, "PIECE_TRADES", piece)
    frames = list(_chunked(market_trades).frames())
    _assert_same_bars(market_trades, frames, HOUR_MS, MINUTE_MS)
    _assert_same_bars(market_trades, frames, 7 * HOUR_MS, 5 * MINUTE_MS)


def test_pieces_cover_every_row_once_and_never_split_a_bar():
    from ares_cli.data.bars import _pieces

    rng = np.random.default_rng(3)
    slot = np.sort(rng.integers(0, 40, 1_000))
    for size in (1, 5, 64, 999, 5_000):
        pieces = list(_pieces(slot, size))
        assert pieces[0][0] == 0 and pieces[-1][1] == len(slot)
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in pairwise(pieces))
        for lo, hi in pieces:
            assert hi == len(slot) or slot[hi - 1] != slot[hi]  # a bar is never cut
            # a piece holds at most `size` rows, or one bar that alone holds more
            assert hi - lo <= size or slot[lo] == slot[hi - 1]


def test_bars_of_real_binance_trades_are_the_same_streamed(tmp_path):
    """The real XRP/ETH aggTrades (three UTC days) through the files source into chunks."""
    from ares_cli.data.files.config import FilesConfig
    from ares_cli.data.sources import DataConfig, collect

    path = shared_file(
        "real/binance/derived_from_freqtrade/XRPETH-aggTrades-2019-10-11_2019-10-13.csv")
    collected = collect(DataConfig(source="files", paths=(str(path),)), files=FilesConfig(),
                        exchange="binance", symbol="XRPETH", downloads=None,
                        progress=lambda *_: None)
    chunks = collected.trades
    assert isinstance(chunks, TradeChunks) and len(chunks.chunks) == 3
    whole = chunks.collect()
    assert whole.height == 12_477
    for base_ms in (5 * MINUTE_MS, HOUR_MS):
        _assert_same_bars(whole, list(chunks.frames()), base_ms, MINUTE_MS)


def test_id_holes_counted_by_chunk_equal_the_whole_count(market_trades):
    """An outage and a hole cut across a day edge: the carried id finds both, and chunks whose
    ids overlap (out of time order) are counted whole, with the same answer."""
    ids = market_trades["trade_id"]
    day_edge = int(np.searchsorted(market_trades["timestamp"].dt.epoch("us").to_numpy(),
                                   market_trades["timestamp"].dt.epoch("us")[0] // DAY_US
                                   * DAY_US + DAY_US))
    lost = (ids >= ids[day_edge - 5]) & (ids < ids[day_edge + 9])
    holed = market_trades.filter(~lost)
    whole = missing_trade_ids(holed)
    assert whole["holes"] == 2  # the outage and the cut edge
    chunks = _chunked(holed)
    assert chunks.id_holes == whole  # counted while writing
    read_back = TradeChunks(chunks.chunks, chunks._objects)  # as a stored list is read
    assert read_back.id_holes is None and missing_trade_ids(read_back) == whole
    swapped = holed.with_columns(trade_id=pl.when(pl.col("trade_id") == ids[0])
                                 .then(ids.max() + 1).otherwise(pl.col("trade_id")))
    chunks = _chunked(swapped)
    assert not chunks.ids_in_order()
    assert missing_trade_ids(chunks) == missing_trade_ids(swapped)


def test_the_synthetic_market_is_its_days_joined_into_one_continuous_path():
    """`generate` is the days of `day_trades` joined; ids run on across days and times never
    go back; each day is drawn from its own stream, so re-drawing one day gives the same."""
    market = plan(seed=9, days=3, trades_per_day=5_000)
    days = list(day_trades(market))
    assert len(days) == 3
    assert_frame_equal(pl.concat(days), generate(seed=9, days=3, trades_per_day=5_000).trades)
    ids = np.concatenate([d["trade_id"].to_numpy() for d in days])
    assert np.array_equal(ids, np.arange(ids[0], ids[0] + ids.size))
    stamps = np.concatenate([d["timestamp"].dt.epoch("us").to_numpy() for d in days])
    assert np.all(np.diff(stamps) >= 0)
    assert_frame_equal(list(day_trades(market))[1], days[1], check_exact=True)
