"""The ccxt source's paging: by id and by time, quiet hours, the listing, real trades.

Every test talks to a FakeBinance on 127.0.0.1 through a real `ccxt.binance` client; `sleep` is
a recorder, so backoff waits are asserted instead of waited.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ares_cli.data.ccxt import download
from tests.conftest import shared_file
from tests.data.ccxt.helpers import (
    AGG,
    HOUR,
    T0,
    assert_matches,
    fetch,
    in_window,
)
from tests.data.fake_binance import AggTrade, FakeBinance

# -- paging ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("limit_from_end", [True, False], ids=["last-of-window", "first"])
def test_paginates_across_pages_and_a_quiet_hour(
    tmp_path: Path, server_trades: list[AggTrade], limit_from_end: bool
) -> None:
    """Many pages, a quiet middle hour, a window starting mid-hour: exactly the server's trades,
    under both readings of Binance's window `limit`."""
    start, end = T0 + 10 * 60_000, T0 + 3 * HOUR - 10 * 60_000
    with FakeBinance(server_trades, window_limit_from_end=limit_from_end) as server:
        result = fetch(server, tmp_path, start, end)
        expected = in_window(server_trades, start, end)
        assert_matches(result, expected)
        m = result.metrics
        assert m["paging"] == "fromId" and m["symbol"] == "ETH/USDT" and m["market_id"] == "ETHUSDT"
        assert m["pages"] >= len(expected) // 100 >= 10
        assert m["duplicates_dropped"] == 0 and m["retries"] == 0
        assert m["resumed_from"] is None and m["chunks"] >= 2
        # load_markets asked for the spot exchangeInfo only: no fapi/dapi/sapi, no currencies
        paths = [r.path for r in server.requests]
        assert paths.count("/api/v3/exchangeInfo") == 1
        assert set(paths) == {"/api/v3/exchangeInfo", AGG}
        for req in server.requests_to(AGG):
            assert req.status == 200
            assert int(req.params["limit"]) == 100
            assert not ("fromId" in req.params and "startTime" in req.params)


def test_window_starting_in_a_quiet_hour_and_ending_after_the_data(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """A window that opens in the quiet hour skips it by time windows, then pages by id up to
    the newest trade (the server has nothing after that)."""
    start, end = T0 + HOUR + 5 * 60_000, T0 + 5 * HOUR
    result = fetch(fake, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    assert result.metrics["reached_newest"] is True
    windows = [r for r in fake.requests_to(AGG) if "startTime" in r.params]
    assert windows and int(windows[0].params["startTime"]) == start


def test_window_opening_long_before_the_listing_jumps_to_the_first_trade(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """A start 30 days before the market's first trade does not walk 720 empty hours: one
    look at the first trades (fromId=0) jumps there."""
    start, end = T0 - 30 * 24 * HOUR, T0 + HOUR
    result = fetch(fake, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    agg = fake.requests_to(AGG)
    assert agg[1].params.get("fromId") == "0"
    assert len(agg) <= len(result.frame) // 100 + 4


def test_since_paging_survives_a_quiet_hour(
    tmp_path: Path, server_trades: list[AggTrade], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generic `since` pager (used for non-Binance exchanges) walks through an empty hour
    and trades sharing one millisecond across a page boundary, and stops at `end`."""
    monkeypatch.setattr(download, "BINANCE_FAMILY", frozenset())
    start, end = T0, T0 + 3 * HOUR
    with FakeBinance(server_trades, window_limit_from_end=False) as server:
        result = fetch(server, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    assert result.metrics["paging"] == "since"


def test_real_binance_aggtrades_replayed(tmp_path: Path) -> None:
    """12,477 real XRP/ETH aggTrades (freqtrade test data), served back as Binance would."""
    raw = json.loads(gzip.decompress(shared_file("real/freqtrade/XRP_OLD-trades.json.gz")
                                     .read_bytes()))
    trades = [
        AggTrade(int(t["info"]["a"]), int(t["info"]["T"]), float(t["info"]["p"]),
                 float(t["info"]["q"]), bool(t["info"]["m"]))
        for t in raw
    ]
    start, end = trades[0].ts_ms, trades[-1].ts_ms + 1
    with FakeBinance({"XRPETH": trades}) as server:
        result = fetch(server, tmp_path, start, end, symbol="XRP/ETH", page_limit=1000)
    assert_matches(result, sorted(trades, key=lambda t: t.id))
    assert result.metrics["trades"] == 12_477
