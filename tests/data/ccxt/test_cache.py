"""The chunk cache: resuming an interrupted download, incremental calls, compaction.

Every test talks to a FakeBinance on 127.0.0.1 through a real `ccxt.binance` client; `sleep` is
a recorder, so backoff waits are asserted instead of waited.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ares_cli.data.ccxt import download, paging
from ares_cli.data.ccxt.download import download_trades
from ares_cli.errors import DataError, ExternalServiceError
from tests.data.ccxt.helpers import (
    AGG,
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
from tests.data.fake_binance import AggTrade, FakeBinance, Fault


def test_interrupted_download_resumes_without_duplicates_or_holes(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path, sleeps: Sleeps
) -> None:
    """Retries run out after 7 pages: those pages are kept; a second call continues from the
    newest stored id and the union is exactly the server's list."""
    start, end = T0, T0 + 3 * HOUR
    fake.script(AGG, [None] * 7 + [Fault.server_error()] * 3)
    with pytest.raises(ExternalServiceError):
        fetch(fake, tmp_path, start, end, sleeps, max_retries=3)
    chunks = list(tmp_path.glob("binance/ETH_USDT/chunk-*.parquet"))
    assert len(chunks) == 1
    stored = pl.read_parquet(chunks[0])
    assert stored.height > 0
    fake.clear_log()
    result = fetch(fake, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    last_stored = int(stored.get_column("trade_id").max())  # type: ignore[arg-type]
    assert result.metrics["resumed_from"] == last_stored
    first = fake.requests_to(AGG)[0]
    assert first.params.get("fromId") == str(last_stored + 1) and "startTime" not in first.params
    assert result.metrics["duplicates_dropped"] == 0
    assert result.metrics["new_trades"] + stored.height >= result.frame.height


def test_exception_from_progress_interrupts_and_a_rerun_completes(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """An exception raised by the progress callback (e.g. Ctrl-C in the UI) stops the run after
    the fetched pages are stored; the rerun completes with no duplicate and no hole."""
    calls: list[float] = []

    def stop_after_12(fraction: float, message: str) -> None:
        calls.append(fraction)
        if len(calls) == 12:
            raise KeyboardInterrupt

    start, end = T0, T0 + 3 * HOUR
    with pytest.raises(KeyboardInterrupt):
        download_trades("binance", "ETH/USDT", start=ms(start), end=ms(end), cache_dir=tmp_path,
                        options=options(fake), progress=stop_after_12, sleep=Sleeps())
    assert min(calls) >= 0.0 and max(calls) <= 1.0
    result = fetch(fake, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    assert result.metrics["resumed_from"] is not None
    assert result.metrics["duplicates_dropped"] == 0


def test_second_call_fetches_only_newer_trades(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """After a completed download, the same call asks only for trades after the newest stored
    one; once the market moves on, only the new trades are fetched."""
    start, end = T0, T0 + 6 * HOUR  # reaches past the server's newest trade
    first = fetch(fake, tmp_path, start, end)
    assert first.metrics["reached_newest"] is True
    newest = server_trades[-1].id

    fake.clear_log()
    again = fetch(fake, tmp_path, start, end)
    agg = fake.requests_to(AGG)
    assert [r.params for r in agg] == [{"symbol": "ETHUSDT", "limit": "100",
                                        "fromId": str(newest + 1)}]
    assert again.metrics["new_trades"] == 0 and again.metrics["resumed_from"] == newest
    assert again.frame.equals(first.frame)

    later = make_trades(T0 + 3 * HOUR, T0 + 4 * HOUR, first_id=newest + 1, seed=11)
    fake.add_trades("ETHUSDT", later)
    fake.clear_log()
    grown = fetch(fake, tmp_path, start, end)
    agg = fake.requests_to(AGG)
    assert all("startTime" not in r.params for r in agg)
    assert agg[0].params["fromId"] == str(newest + 1)
    assert len(agg) == len(later) // 100 + 1
    assert grown.metrics["new_trades"] == len(later)
    assert_matches(grown, in_window(server_trades + later, start, end))


def test_covered_window_needs_no_trade_request(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """A window inside what the cache already proves complete is answered from disk."""
    fetch(fake, tmp_path, T0, T0 + 3 * HOUR - 60_000)
    fake.clear_log()
    inner = fetch(fake, tmp_path, T0 + 30 * 60_000, T0 + 2 * HOUR + 30 * 60_000)
    assert fake.requests_to(AGG) == []
    assert inner.metrics["pages"] == 0
    assert_matches(inner, in_window(server_trades, T0 + 30 * 60_000, T0 + 2 * HOUR + 30 * 60_000))


def test_earlier_start_backfills_only_the_missing_part(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path
) -> None:
    """Extending the window backwards fetches the new early part and stops at the stored one."""
    fetch(fake, tmp_path, T0 + 2 * HOUR, T0 + 3 * HOUR)
    fake.clear_log()
    result = fetch(fake, tmp_path, T0, T0 + 3 * HOUR)
    assert_matches(result, in_window(server_trades, T0, T0 + 3 * HOUR))
    assert result.metrics["duplicates_dropped"] <= 100  # at most one page overlaps
    early = len(in_window(server_trades, T0, T0 + 2 * HOUR))
    assert result.metrics["pages"] <= early // 100 + 12


def test_many_chunks_are_compacted(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the chunk-count threshold the cache is merged into one file, losing nothing."""
    monkeypatch.setattr(paging, "FLUSH_EVERY_PAGES", 1)
    monkeypatch.setattr(download, "COMPACT_ABOVE_CHUNKS", 3)
    first = fetch(fake, tmp_path, T0, T0 + 3 * HOUR)
    assert first.metrics["chunks"] > 3
    assert len(list(tmp_path.glob("binance/ETH_USDT/chunk-*.parquet"))) == 1
    fake.clear_log()
    second = fetch(fake, tmp_path, T0, T0 + 3 * HOUR - 60_000)
    assert fake.requests_to(AGG) == []
    assert_matches(second, in_window(server_trades, T0, T0 + 3 * HOUR - 60_000))


def test_corrupt_chunk_is_a_data_error(fake: FakeBinance, tmp_path: Path) -> None:
    """A damaged cache file is reported with the file name; stale temp files are ignored."""
    fetch(fake, tmp_path, T0, T0 + HOUR)
    folder = tmp_path / "binance" / "ETH_USDT"
    (folder / ".tmp-chunk-stale.parquet.1a2b3c").write_bytes(b"half a file")
    bad = folder / "chunk-99999999999999999999-dead.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError) as info:
        fetch(fake, tmp_path, T0, T0 + HOUR)
    assert info.value.exit_code == 3 and str(bad) in str(info.value)
