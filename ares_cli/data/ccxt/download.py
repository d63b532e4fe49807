"""The `ccxt` data source's entry point: download an exchange's public trades, incrementally and
crash-safely (DESIGN §5).

`download_trades` pages through one symbol's trades with a ccxt client (`client`: rate limiter
on, retries with exponential backoff), appending every few pages to a local chunk cache
(`cache`), so an interrupted download resumes where it stopped and a later call fetches only
what is not stored yet (`paging`). The result is every stored trade of ``[start, end)`` in
``TRADES_SCHEMA``, deduplicated by trade id, plus metrics that say what happened (pages,
retries, duplicates, gaps in the id sequence).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from ares_cli.data.ccxt.cache import ChunkStore
from ares_cli.data.ccxt.client import (
    Caller,
    Credentials,
    Redactor,
    close,
    make_exchange,
    resolve_market,
)
from ares_cli.data.ccxt.config import CcxtConfig
from ares_cli.data.ccxt.intervals import ceil_ms, floor_ms
from ares_cli.data.ccxt.paging import Download
from ares_cli.data.schema import TRADES_SCHEMA
from ares_cli.errors import ConfigError
from ares_cli.util.fsutil import safe_name
from ares_cli.util.timeutil import as_utc

__all__ = ["DownloadResult", "download_trades"]

log = logging.getLogger(__name__)

BINANCE_FAMILY = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})
BINANCE_MAX_LIMIT = 1000
COMPACT_ABOVE_CHUNKS = 64  # merge the cache into one chunk when it holds more files than this


@dataclass(frozen=True)
class DownloadResult:
    """All stored trades of the window and what this call did to get them."""

    frame: pl.DataFrame  # TRADES_SCHEMA, sorted by (timestamp, trade_id), unique trade ids
    metrics: dict[str, Any]


def download_trades(
    exchange_id: str,
    symbol: str,
    *,
    start: datetime,
    end: datetime,
    cache_dir: Path,
    options: CcxtConfig,
    credentials: Credentials = Credentials(),
    progress: Callable[[float, str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Return every trade of `symbol` on `exchange_id` in ``[start, end)``, downloading what the
    cache under `cache_dir` lacks.

    `symbol` is a unified ccxt symbol (``ETH/USDT``, ``ETH/USDT:USDT``) or the exchange's own
    market id (``ETHUSDT``). Naive datetimes are taken as UTC. `api_url`, when set, replaces
    the scheme and host of every entry of ``exchange.urls['api']`` (keeping each entry's path,
    so ``http://127.0.0.1:8080`` serves ``/api/v3/...`` and ``/fapi/v1/...``); a URL with a path
    replaces each entry whole. `progress(fraction, message)` is called after each request; an
    exception it raises stops the download after the pages fetched so far are stored. `sleep`
    is used for the retry backoff only (tests inject a recorder).
    """
    start_ms, end_ms = floor_ms(start), ceil_ms(end)
    if end_ms <= start_ms:
        raise ConfigError(f"empty download window: start {start} is not before end {end}")
    redact = Redactor((credentials.api_key, credentials.secret))
    exchange = make_exchange(exchange_id, symbol, options, credentials, redact)
    metrics: dict[str, Any] = {
        "exchange": exchange_id,
        "symbol": symbol,
        "market_id": None,
        "paging": None,
        "pages": 0,
        "requests": 0,
        "retries": 0,
        "waited_seconds": 0.0,
        "new_trades": 0,
        "duplicates_dropped": 0,
        "invalid_dropped": 0,
        "resumed_from": None,
        "chunks": 0,
        "cached_trades": 0,
        "trades": 0,
        "reached_newest": False,
    }
    caller = Caller(exchange, exchange_id, options, sleep, redact, metrics)
    try:
        if progress is not None:
            progress(0.0, f"{exchange_id}: loading markets")
        caller.call("load_markets", exchange.load_markets)
        market = resolve_market(exchange, exchange_id, symbol)
        if not exchange.has.get("fetchTrades"):
            raise ConfigError(f"ccxt exchange {exchange_id!r} cannot fetch public trades")
        by_id = exchange_id in BINANCE_FAMILY and not market.get("option")
        limit = min(options.page_limit, BINANCE_MAX_LIMIT) if by_id else options.page_limit
        metrics.update(symbol=market["symbol"], market_id=market["id"],
                       paging="fromId" if by_id else "since")
        store = ChunkStore(
            Path(cache_dir) / exchange_id / safe_name(market["symbol"], "_"),
            {"exchange": exchange_id, "symbol": market["symbol"], "market_id": str(market["id"]),
             "source": "aggTrades" if by_id else "trades"},
        )
        stored, coverage = store.load()
        metrics["cached_trades"] = stored.height
        run = Download(exchange, caller, store, market["symbol"], limit, stored, coverage,
                        start_ms, end_ms, metrics, progress)
        try:
            run.run(by_id)
        finally:
            run.flush()
        if store.count() > COMPACT_ABOVE_CHUNKS:
            store.compact()
        frame = _window(pl.concat([stored, *run.frames], how="vertical"), start, end)
    finally:
        close(exchange)
    metrics.update(trades=frame.height)  # missing ids: step 1 counts them for every source
    metrics["waited_seconds"] = round(metrics["waited_seconds"], 3)
    if progress is not None:
        progress(1.0, f"{exchange_id} {metrics['symbol']}: {frame.height} trades "
                      f"({metrics['new_trades']} new)")
    return DownloadResult(frame=frame, metrics=metrics)


def _window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Unique trades of ``[start, end)``, sorted by timestamp then id."""
    lo, hi = as_utc(start), as_utc(end)
    return (
        frame.unique(subset="trade_id", keep="first")
        .filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
        .sort("timestamp", "trade_id")
        .select([pl.col(c).cast(t) for c, t in TRADES_SCHEMA.items()])
    )
