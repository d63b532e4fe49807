"""`download_trades` results: id gaps counted, naive datetimes read as UTC.

Every test talks to a FakeBinance on 127.0.0.1 through a real `ccxt.binance` client; `sleep` is
a recorder, so backoff waits are asserted instead of waited.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from ares_cli.data.ccxt.download import download_trades
from tests.data.ccxt.helpers import (
    HOUR,
    T0,
    Sleeps,
    assert_matches,
    fetch,
    in_window,
    make_trades,
    ms,
    options,
)
from tests.data.fake_binance import AggTrade, FakeBinance


def test_id_gaps_are_counted_not_hidden(tmp_path: Path) -> None:
    """Missing aggregate ids on the exchange side reach the trades as holes step 1 counts."""
    from ares_cli.data.gaps import missing_trade_ids

    trades = make_trades(T0, T0 + HOUR)
    missing = set(range(200, 205)) | set(range(400, 500))
    served = [t for t in trades if t.id not in missing]
    with FakeBinance(served) as server:
        result = fetch(server, tmp_path, T0, T0 + HOUR)
    assert_matches(result, served)
    holes = missing_trade_ids(result.frame)
    assert holes["holes"] == 2 and holes["ids"] == len(missing)
    assert holes["longest_hole_ids"] == 100


def test_naive_datetimes_are_utc(fake: FakeBinance, server_trades: list[AggTrade],
                                 tmp_path: Path) -> None:
    """A naive start/end is read as UTC, and the window is half-open."""
    start = ms(T0).replace(tzinfo=None)
    end = start + timedelta(minutes=20)
    result = download_trades("binance", "ETH/USDT", start=start, end=end, cache_dir=tmp_path,
                             options=options(fake), sleep=Sleeps())
    assert_matches(result, in_window(server_trades, T0, T0 + 20 * 60_000))
