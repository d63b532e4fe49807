"""Helpers of the ccxt source tests: synthetic trades, a recording `sleep`, one download through
the local fake Binance."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from ares_cli.data.ccxt.client import Credentials
from ares_cli.data.ccxt.config import CcxtConfig
from ares_cli.data.ccxt.download import DownloadResult, download_trades
from ares_cli.data.schema import TRADES_SCHEMA
from tests.data.fake_binance import AggTrade, FakeBinance

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
