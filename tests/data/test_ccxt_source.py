"""The ccxt source against a local fake Binance: paging, retries, resume, gaps, key secrecy.

Every test talks to a FakeBinance on 127.0.0.1 through a real `ccxt.binance` client; `sleep` is
a recorder, so backoff waits are asserted instead of waited.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ares_cli.data import ccxt_source
from ares_cli.data.ccxt_source import CcxtConfig, Credentials, DownloadResult, download_trades
from ares_cli.data.schema import TRADES_SCHEMA
from ares_cli.errors import ConfigError, DataError, ExternalServiceError
from tests.conftest import shared_file
from tests.data.fake_binance import AggTrade, FakeBinance, Fault

HOUR = 3_600_000
T0 = 1_717_200_000_000  # 2024-06-01 00:00:00 UTC
AGG = "/api/v3/aggTrades"
API_KEY = "AKfakeKEY0123456789abcdef"
SECRET = "SSfakeSECRET9876543210zyx"


def ms(value: int) -> datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return datetime.fromtimestamp(value / 1000, UTC)


def make_trades(
    start_ms: int,
    end_ms: int,
    *,
    every_ms: int = 4_000,
    first_id: int = 1,
    quiet: tuple[int, int] | None = None,
    seed: int = 7,
) -> list[AggTrade]:
    """Synthetic aggTrades in ``[start_ms, end_ms)``, none inside `quiet`, ids consecutive.

    Several trades share a millisecond now and then, as on a busy exchange."""
    rng = random.Random(seed)
    trades: list[AggTrade] = []
    price, ts, next_id = 3000.0, start_ms, first_id
    while ts < end_ms:
        if quiet is None or not quiet[0] <= ts < quiet[1]:
            for _ in range(1 if rng.random() < 0.8 else 3):
                price = max(1.0, price + rng.gauss(0, 0.5))
                qty = round(rng.uniform(0.001, 2.0), 4)
                trades.append(AggTrade(next_id, ts, round(price, 2), qty, rng.random() < 0.5))
                next_id += 1
        ts += rng.randint(1, 2 * every_ms)
    return trades


def in_window(trades: list[AggTrade], start_ms: int, end_ms: int) -> list[AggTrade]:
    """The server's trades of ``[start_ms, end_ms)``."""
    return [t for t in trades if start_ms <= t.ts_ms < end_ms]


def assert_matches(result: DownloadResult, expected: list[AggTrade]) -> None:
    """The frame holds exactly `expected` (ids, times, prices, sizes, sides) in TRADES_SCHEMA."""
    frame = result.frame
    assert dict(frame.schema) == TRADES_SCHEMA
    assert frame.get_column("trade_id").is_unique().all()
    assert frame.equals(frame.sort("timestamp", "trade_id"))
    assert frame.get_column("trade_id").to_list() == [t.id for t in expected]
    got_ms = frame.get_column("timestamp").dt.epoch("ms").to_list()
    assert got_ms == [t.ts_ms for t in expected]
    assert frame.get_column("price").to_list() == [t.price for t in expected]
    assert frame.get_column("qty").to_list() == [t.qty for t in expected]
    assert frame.get_column("is_buyer_maker").to_list() == [t.is_buyer_maker for t in expected]


class Sleeps(list[float]):
    """A `sleep` stand-in that records the requested waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def server_trades() -> list[AggTrade]:
    """Three hours of ETHUSDT trades with no trade in the second hour."""
    return make_trades(T0, T0 + 3 * HOUR, quiet=(T0 + HOUR, T0 + 2 * HOUR))


@pytest.fixture
def fake(server_trades: list[AggTrade]) -> Iterator[FakeBinance]:
    with FakeBinance(server_trades) as server:
        yield server


def options(server: FakeBinance, **overrides: object) -> CcxtConfig:
    """Options pointing at the fake: small pages (many of them), short timeout."""
    settings: dict[str, object] = {"api_url": server.url, "page_limit": 100, "timeout_ms": 2000}
    settings.update(overrides)
    return CcxtConfig(**settings)  # type: ignore[arg-type]


def fetch(
    server: FakeBinance,
    cache: Path,
    start_ms: int,
    end_ms: int,
    sleep: Sleeps | None = None,
    symbol: str = "ETHUSDT",
    credentials: Credentials = Credentials(),
    **overrides: object,
) -> DownloadResult:
    """One download through the fake."""
    return download_trades(
        "binance",
        symbol,
        start=ms(start_ms),
        end=ms(end_ms),
        cache_dir=cache,
        options=options(server, **overrides),
        credentials=credentials,
        sleep=sleep if sleep is not None else Sleeps(),
    )


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
        assert m["id_gaps"] == 0 and m["duplicates_dropped"] == 0 and m["retries"] == 0
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
    monkeypatch.setattr(ccxt_source, "BINANCE_FAMILY", frozenset())
    start, end = T0, T0 + 3 * HOUR
    with FakeBinance(server_trades, window_limit_from_end=False) as server:
        result = fetch(server, tmp_path, start, end)
    assert_matches(result, in_window(server_trades, start, end))
    assert result.metrics["paging"] == "since"
    assert result.metrics["id_gaps"] == 0


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
    assert result.metrics["id_gaps"] == 0
    assert result.metrics["trades"] == 12_477


# -- retries ----------------------------------------------------------------------------------


def test_429_418_500_and_timeout_are_retried_with_growing_waits(
    fake: FakeBinance, server_trades: list[AggTrade], tmp_path: Path, sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each failure kind costs one retry; waits double (1, 2, 4, 8 s) or follow Retry-After
    when that is longer; the download then completes."""
    fake.script(AGG, [None, Fault.rate_limited(retry_after=3), Fault.banned(retry_after=2),
                      Fault.server_error(500), Fault.slow(1.5)])
    caplog.set_level(logging.WARNING, logger="ares_cli")
    result = fetch(fake, tmp_path, T0, T0 + HOUR, sleeps, timeout_ms=400)
    assert_matches(result, in_window(server_trades, T0, T0 + HOUR))
    assert sleeps == [3.0, 2.0, 4.0, 8.0]
    assert result.metrics["retries"] == 4
    assert result.metrics["waited_seconds"] == 17.0
    for kind in ("DDoSProtection", "ExchangeNotAvailable", "RequestTimeout"):
        assert kind in caplog.text
    statuses = [r.status for r in fake.requests_to(AGG)[:6]]
    assert statuses[1:4] == [429, 418, 500]


def test_backoff_is_capped_at_60_seconds(fake: FakeBinance, tmp_path: Path, sleeps: Sleeps) -> None:
    """Doubling stops at the cap."""
    fake.script(AGG, [Fault.server_error(503)] * 7)
    fetch(fake, tmp_path, T0, T0 + 60_000, sleeps, max_retries=8, backoff_seconds=10.0)
    assert sleeps == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0, 60.0]


def test_persistent_failure_raises_external_service_error(
    fake: FakeBinance, tmp_path: Path, sleeps: Sleeps
) -> None:
    """After `max_retries` tries: exit code 4, naming exchange, call, endpoint and last error."""
    fake.script(AGG, [Fault.server_error(502)] * 10)
    with pytest.raises(ExternalServiceError) as info:
        fetch(fake, tmp_path, T0, T0 + HOUR, sleeps, max_retries=3)
    err = info.value
    assert err.exit_code == 4
    text = str(err)
    assert text.startswith("binance: fetch_trades(ETH/USDT")
    assert "after 3 tries" in text
    assert f"GET {fake.url}/api/v3/aggTrades" in text
    assert "ExchangeNotAvailable" in text and "502" in text
    assert sleeps == [1.0, 2.0]
    assert len(fake.requests_to(AGG)) == 3


def test_long_ban_fails_at_once(fake: FakeBinance, tmp_path: Path, sleeps: Sleeps) -> None:
    """A Retry-After beyond what is worth waiting (an IP ban) is reported, not slept through."""
    fake.script(AGG, [Fault.banned(retry_after=7200)])
    with pytest.raises(ExternalServiceError, match="asks to wait 7200 s"):
        fetch(fake, tmp_path, T0, T0 + HOUR, sleeps)
    assert sleeps == []


def test_client_errors_are_not_retried(fake: FakeBinance, tmp_path: Path, sleeps: Sleeps) -> None:
    """A 4xx Binance error (bad parameter) fails at once with exit 4."""
    fake.script(AGG, [Fault.binance_error(400, -1100, "Illegal characters found in parameter.")])
    with pytest.raises(ExternalServiceError, match="BadRequest"):
        fetch(fake, tmp_path, T0, T0 + HOUR, sleeps)
    assert sleeps == [] and len(fake.requests_to(AGG)) == 1


# -- resume and incremental -----------------------------------------------------------------------


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
    monkeypatch.setattr(ccxt_source, "FLUSH_EVERY_PAGES", 1)
    monkeypatch.setattr(ccxt_source, "COMPACT_ABOVE_CHUNKS", 3)
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


# -- data quality ---------------------------------------------------------------------------------


def test_id_gaps_are_counted_not_hidden(tmp_path: Path) -> None:
    """Missing aggregate ids on the exchange side are counted in the metrics."""
    trades = make_trades(T0, T0 + HOUR)
    missing = set(range(200, 205)) | set(range(400, 500))
    served = [t for t in trades if t.id not in missing]
    with FakeBinance(served) as server:
        result = fetch(server, tmp_path, T0, T0 + HOUR)
    assert_matches(result, served)
    assert result.metrics["id_gaps"] == 2
    assert result.metrics["id_gap_trades"] == len(missing)


# -- configuration errors and secrets ----------------------------------------------------------


def test_unknown_symbol_and_exchange_are_config_errors(fake: FakeBinance, tmp_path: Path) -> None:
    """A symbol the exchange does not list is a usage error (exit 2) with suggestions."""
    with pytest.raises(ConfigError) as info:
        fetch(fake, tmp_path, T0, T0 + HOUR, symbol="ETHUSDX")
    assert info.value.exit_code == 2
    assert "binance has no market 'ETHUSDX'" in str(info.value)
    assert "ETHUSDT" in str(info.value)
    with pytest.raises(ConfigError, match="unknown ccxt exchange 'binanse'"):
        download_trades("binanse", "ETHUSDT", start=ms(T0), end=ms(T0 + HOUR),
                        cache_dir=tmp_path, options=options(fake), sleep=Sleeps())
    with pytest.raises(ConfigError, match="not before end"):
        fetch(fake, tmp_path, T0 + HOUR, T0)


def test_exchange_side_bad_symbol_is_config_error(fake: FakeBinance, tmp_path: Path) -> None:
    """Binance's -1121 Invalid symbol (ccxt BadSymbol) is not retried."""
    fake.script(AGG, [Fault.binance_error(400, -1121, "Invalid symbol.")])
    with pytest.raises(ConfigError, match="rejected the symbol"):
        fetch(fake, tmp_path, T0, T0 + HOUR)


def test_api_key_never_appears_in_messages_logs_metrics_or_cache(
    fake: FakeBinance, tmp_path: Path, caplog: pytest.LogCaptureFixture, sleeps: Sleeps
) -> None:
    """The key and secret are redacted even when the server echoes them back."""
    caplog.set_level(logging.DEBUG)
    keyed = Credentials(api_key=API_KEY, secret=SECRET)
    ok = fetch(fake, tmp_path, T0, T0 + HOUR, sleeps, credentials=keyed)
    fake.script(AGG, [Fault(500, f"upstream rejected apiKey={API_KEY} secret {SECRET}")] * 2
                + [Fault.binance_error(401, -2015, f"Invalid API-key {API_KEY}, IP, or "
                                                   "permissions for action.")])
    with pytest.raises(ExternalServiceError) as info:
        fetch(fake, tmp_path, T0, T0 + 3 * HOUR, sleeps, credentials=keyed)
    message = str(info.value)
    assert "***" in message
    assert "AuthenticationError" in message or "PermissionDenied" in message
    cached = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    texts = {
        "message": message,
        "repr": repr(info.value) + repr(keyed) + repr(options(fake)),
        "metrics": json.dumps(ok.metrics),
        "logs": caplog.text,
        "cache": cached.decode("latin-1"),
    }
    assert "Retry" in caplog.text or "retrying" in caplog.text
    for where, text in texts.items():
        assert API_KEY not in text, where
        assert SECRET not in text, where
    # public data only: no private endpoint was called, the key was never needed
    assert {r.path for r in fake.requests} <= {"/api/v3/exchangeInfo", AGG}


def test_api_url_override_keeps_paths() -> None:
    """A bare origin keeps each endpoint's path; a URL with a path replaces entries whole."""
    urls = {"public": "https://api.binance.com/api/v3", "fapi": {"x": "https://fapi.b.com/fapi/v1"}}
    assert ccxt_source._override_urls(urls, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3", "fapi": {"x": "http://127.0.0.1:9/fapi/v1"}}
    assert ccxt_source._override_urls(urls, "https://mirror.example/base/") == {
        "public": "https://mirror.example/base", "fapi": {"x": "https://mirror.example/base"}}


def test_naive_datetimes_are_utc(fake: FakeBinance, server_trades: list[AggTrade],
                                 tmp_path: Path) -> None:
    """A naive start/end is read as UTC, and the window is half-open."""
    start = ms(T0).replace(tzinfo=None)
    end = start + timedelta(minutes=20)
    result = download_trades("binance", "ETH/USDT", start=start, end=end, cache_dir=tmp_path,
                             options=options(fake), sleep=Sleeps())
    assert_matches(result, in_window(server_trades, T0, T0 + 20 * 60_000))
