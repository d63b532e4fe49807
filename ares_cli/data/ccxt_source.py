"""The `ccxt` data source: download an exchange's public trades, incrementally and crash-safely.

What it does (DESIGN §5): page through one symbol's trades with a ccxt client, with ccxt's rate
limiter on, retrying network-type failures with exponential backoff, and append every few pages
to a local chunk cache, so an interrupted download resumes where it stopped and a later call
fetches only what is not stored yet. The result is every stored trade of ``[start, end)`` in
``TRADES_SCHEMA``, deduplicated by trade id, plus metrics that say what happened (pages,
retries, duplicates, gaps in the id sequence).

Paging. On the Binance family (spot, USD-M, COIN-M) ccxt's ``fetch_trades`` reads the
``aggTrades`` endpoint. With ``since`` ccxt sends ``startTime`` and ``endTime = since + 1 h``;
Binance then answers with at most ``limit`` trades of that hour, and when the hour holds more,
they are reported to be the *last* ``limit`` of it. So time paging can skip trades. We page by
aggregate-trade id instead (``fromId``, ids are consecutive and ordered by time): a time window
is used once, only to find the first id at or after a time (quiet hours are skipped, a window
that comes back full is halved until it is complete), then ``fromId = last id + 1`` until a
trade at or after ``end`` or the newest trade is reached. Other exchanges are paged by ``since``
(ccxt's unified semantics: the earliest trades from ``since``), re-asking from the last seen
timestamp so trades sharing a millisecond are not lost; an empty answer advances one hour.

Cache. ``cache_dir/<exchange>/<symbol>/chunk-*.parquet``: each chunk holds trades plus, in its
parquet key-value metadata, the time ranges it proves complete (``coverage``, epoch ms,
half-open). A chunk is written to a temporary file in the same folder, fsynced, then renamed, so
a crash never leaves half a chunk; a range is only marked covered in the same file that stores
its trades. A new call loads every chunk, works out which parts of ``[start, end)`` are not
covered and fetches only those, continuing from the newest stored trade id where one borders
the gap.

Errors. Network-type failures (ccxt ``OperationFailed``/``NetworkError`` family: 429 and 418
``DDoSProtection``, ``RequestTimeout``, 5xx ``ExchangeNotAvailable``) are retried up to
``max_retries`` tries, waiting ``backoff_seconds * 2**k`` (capped at 60 s) or the server's
``Retry-After`` when longer; then :class:`ExternalServiceError` (exit 4) names the exchange, the
call, the endpoint and the last error. A 4xx other than 408/418/425/429 is not retried. A
symbol the exchange does not list is a :class:`ConfigError` (exit 2): it is the ``--symbol``
setting that is wrong, not the data. An unreadable cache chunk is a :class:`DataError` (exit 3).
API keys are never logged and are redacted from every message and metric.
"""

from __future__ import annotations

import difflib
import io
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import polars as pl
from pydantic import field_validator

from ares_cli.data.schema import TRADES_SCHEMA
from ares_cli.errors import ConfigError, DataError, ExternalServiceError
from ares_cli.util.fsutil import TMP_PREFIX, atomic_write, fsync_dir, safe_name
from ares_cli.util.section import Field, Section
from ares_cli.util.timeutil import as_utc

if TYPE_CHECKING:  # ccxt is imported lazily: it takes about a second to import
    import ccxt

log = logging.getLogger(__name__)

T = TypeVar("T")

HOUR_MS = 3_600_000
MAX_BACKOFF_SECONDS = 60.0  # cap of the exponential backoff
MAX_RETRY_AFTER_SECONDS = 600.0  # a longer Retry-After (an IP ban) fails at once
NO_RETRY_4XX_EXCEPT = frozenset({408, 418, 425, 429})
BINANCE_FAMILY = frozenset({"binance", "binanceus", "binanceusdm", "binancecoinm"})
BINANCE_MAX_LIMIT = 1000
FLUSH_EVERY_PAGES = 10  # a chunk per this many pages ...
FLUSH_EVERY_TRADES = 200_000  # ... or per this many buffered trades, whichever comes first
COMPACT_ABOVE_CHUNKS = 64  # merge the cache into one chunk when it holds more files than this
SETTLED_MS = 60_000  # an empty answer only proves "no trades" for time older than now - this
STALE_TMP_SECONDS = 600.0
CHUNK_META_KEY = "ares.ccxt_chunk"
CHUNK_VERSION = 1

Interval = tuple[int, int]  # half-open [from_ms, to_ms)


class CcxtConfig(Section):
    """`[ccxt]`: how the exchange API is called (with `data.source = "ccxt"`).

    API keys are not config: public data needs none, and keys given through the environment
    (ARES_API_KEY, ARES_API_SECRET) travel as `Credentials`, never in a manifest, log or error.
    """

    max_retries: int = Field(5, ge=1)  # tries per request before giving up
    backoff_seconds: float = Field(1.0, ge=0)  # first retry wait; doubles, capped at 60 s
    timeout_ms: int = Field(10_000, ge=1)
    page_limit: int = Field(1000, ge=1)
    api_url: str = ""  # "" = exchange default; else a mirror or a local test server, see below

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value


@dataclass(frozen=True)
class Credentials:
    """Optional API key and secret (public data needs none); never logged, never in errors."""

    api_key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)


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
    start_ms, end_ms = _floor_ms(start), _ceil_ms(end)
    if end_ms <= start_ms:
        raise ConfigError(f"empty download window: start {start} is not before end {end}")
    redact = _Redactor((credentials.api_key, credentials.secret))
    exchange = _make_exchange(exchange_id, symbol, options, credentials, redact)
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
        "id_gaps": 0,
        "id_gap_trades": 0,
        "resumed_from": None,
        "chunks": 0,
        "cached_trades": 0,
        "trades": 0,
        "reached_newest": False,
    }
    caller = _Caller(exchange, exchange_id, options, sleep, redact, metrics)
    try:
        if progress is not None:
            progress(0.0, f"{exchange_id}: loading markets")
        caller.call("load_markets", exchange.load_markets)
        market = _resolve_market(exchange, exchange_id, symbol)
        if not exchange.has.get("fetchTrades"):
            raise ConfigError(f"ccxt exchange {exchange_id!r} cannot fetch public trades")
        by_id = exchange_id in BINANCE_FAMILY and not market.get("option")
        limit = min(options.page_limit, BINANCE_MAX_LIMIT) if by_id else options.page_limit
        metrics.update(symbol=market["symbol"], market_id=market["id"],
                       paging="fromId" if by_id else "since")
        store = _ChunkStore(
            Path(cache_dir) / exchange_id / safe_name(market["symbol"], "_"),
            {"exchange": exchange_id, "symbol": market["symbol"], "market_id": str(market["id"]),
             "source": "aggTrades" if by_id else "trades"},
        )
        stored, coverage = store.load()
        metrics["cached_trades"] = stored.height
        run = _Download(exchange, caller, store, market["symbol"], limit, stored, coverage,
                        start_ms, end_ms, metrics, progress)
        try:
            run.run(by_id)
        finally:
            run.flush()
        if store.count() > COMPACT_ABOVE_CHUNKS:
            store.compact()
        frame = _window(pl.concat([stored, *run.frames], how="vertical"), start, end)
    finally:
        _close(exchange)
    gaps, gap_trades = count_id_gaps(frame)
    metrics.update(id_gaps=gaps, id_gap_trades=gap_trades, trades=frame.height)
    metrics["waited_seconds"] = round(metrics["waited_seconds"], 3)
    if gaps:
        log.warning("%s %s: %d gaps in trade ids (%d ids missing) in the window",
                    exchange_id, metrics["symbol"], gaps, gap_trades)
    if progress is not None:
        progress(1.0, f"{exchange_id} {metrics['symbol']}: {frame.height} trades "
                      f"({metrics['new_trades']} new)")
    return DownloadResult(frame=frame, metrics=metrics)


def count_id_gaps(frame: pl.DataFrame) -> tuple[int, int]:
    """(number of gaps, number of missing ids) between consecutive trade ids of `frame`."""
    if frame.height < 2:
        return 0, 0
    diffs = frame.get_column("trade_id").sort().diff().drop_nulls()
    holes = diffs.filter(diffs > 1)
    return int(holes.len()), int((holes - 1).sum())


# -- client ---------------------------------------------------------------------------------


def _make_exchange(
    exchange_id: str, symbol: str, options: CcxtConfig, credentials: Credentials,
    redact: _Redactor
) -> ccxt.Exchange:
    """A configured synchronous ccxt client (rate limiter on, timeout, optional URL override)."""
    import ccxt

    if exchange_id not in ccxt.exchanges:
        close = difflib.get_close_matches(exchange_id, ccxt.exchanges, n=3)
        raise ConfigError(
            f"unknown ccxt exchange {exchange_id!r}",
            hint=f"did you mean {', '.join(close)}?" if close else "see ccxt.exchanges",
        )
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": options.timeout_ms,
        "logger": _RedactingLogger(logging.getLogger(f"{__name__}.http"), redact),
    }
    if credentials.api_key:
        config["apiKey"] = credentials.api_key
    if credentials.secret:
        config["secret"] = credentials.secret
    exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(config)
    if options.api_url:
        exchange.urls["api"] = _override_urls(exchange.urls.get("api"), options.api_url)
    if exchange_id == "binance":
        # Only the exchangeInfo of the market type the symbol needs (spot by default: one
        # GET /api/v3/exchangeInfo), and no private sapi currency call even with a key.
        fetch_markets = dict(exchange.options.get("fetchMarkets") or {})
        fetch_markets["types"] = [_binance_market_type(symbol)]
        exchange.options["fetchMarkets"] = fetch_markets
        exchange.options["fetchCurrencies"] = False
        exchange.options["fetchMargins"] = False
    return exchange


def _binance_market_type(symbol: str) -> str:
    """'spot', 'linear' or 'inverse' from a symbol: ``BASE/QUOTE:SETTLE`` is a contract."""
    if ":" not in symbol:
        return "spot"
    pair, settle = symbol.split(":", 1)
    quote = pair.split("/")[-1]
    return "linear" if settle.split("-")[0].upper() == quote.upper() else "inverse"


def _override_urls(urls: Any, api_url: str) -> Any:
    """`urls` (a string or nested dict of strings) pointed at `api_url`."""
    target = urlsplit(api_url.rstrip("/"))
    if isinstance(urls, dict):
        return {k: _override_urls(v, api_url) for k, v in urls.items()}
    if not isinstance(urls, str) or target.path not in ("", "/"):
        return api_url.rstrip("/")
    path = urlsplit(urls).path
    return urlunsplit((target.scheme, target.netloc, path, "", ""))


def _resolve_market(exchange: ccxt.Exchange, exchange_id: str, symbol: str) -> dict[str, Any]:
    """The ccxt market for a unified symbol or an exchange market id, else ConfigError."""
    markets: dict[str, Any] = exchange.markets or {}
    if symbol in markets:
        return markets[symbol]
    by_id: dict[str, Any] = exchange.markets_by_id or {}
    for candidate in (symbol, symbol.upper(), re.sub(r"[/\-_]", "", symbol).upper()):
        found = by_id.get(candidate)
        if found:
            return found[0] if isinstance(found, list) else found
        if candidate in markets:
            return markets[candidate]
    names = list(markets) + list(by_id)
    close = difflib.get_close_matches(symbol.upper(), names, n=3)
    raise ConfigError(
        f"{exchange_id} has no market {symbol!r}",
        hint=("did you mean " + ", ".join(close) + "?") if close
        else "use a ccxt symbol such as 'ETH/USDT' or the exchange's id such as 'ETHUSDT'",
    )


def _close(exchange: ccxt.Exchange) -> None:
    """Release the HTTP session of the client."""
    try:
        exchange.close()
    except Exception:  # closing is best effort
        log.debug("closing the ccxt client failed", exc_info=True)


# -- secrets ----------------------------------------------------------------------------------

_SECRET_PARAM = re.compile(
    r"(?i)((?:api[-_]?key|apikey|secret|signature|passphrase|x-mbx-apikey)[\"']?\s*[=:]\s*"
    r"[\"']?)[^&\s\"',}]+"
)


class _Redactor:
    """Removes the configured key and secret, and any key-like query parameter, from text."""

    def __init__(self, values: Iterable[str]) -> None:
        self._values = sorted({v for v in values if v}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return _SECRET_PARAM.sub(r"\1***", text)


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger handed to ccxt: it logs request headers at DEBUG, which can carry the key."""

    def __init__(self, logger: logging.Logger, redact: _Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Format, redact, then log the message as plain text."""
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.pop("extra", None)
            self.logger.log(level, "%s", self._redact(text), **kwargs)


# -- requests with retries --------------------------------------------------------------------


class _Caller:
    """Runs one ccxt call with retries, backoff and error translation."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        exchange_id: str,
        options: CcxtConfig,
        sleep: Callable[[float], None],
        redact: _Redactor,
        metrics: dict[str, Any],
    ) -> None:
        self.exchange = exchange
        self.exchange_id = exchange_id
        self.options = options
        self.sleep = sleep
        self.redact = redact
        self.metrics = metrics

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`fn(*args, **kwargs)`, retried on network-type errors; `what` names it in errors."""
        import ccxt

        tries = self.options.max_retries
        for attempt in range(1, tries + 1):
            self.exchange.last_request_url = None
            self.exchange.last_response_headers = None
            self.metrics["requests"] += 1
            try:
                return fn(*args, **kwargs)
            except ccxt.BaseError as err:
                status = _http_status(err)
                if isinstance(err, ccxt.BadSymbol):
                    raise ConfigError(
                        f"{self.exchange_id} rejected the symbol in {what}: {self._describe(err)}"
                    ) from None
                if not _retryable(err, status):
                    raise ExternalServiceError(
                        f"{self.exchange_id}: {what} failed{self._endpoint()}: "
                        f"{self._describe(err)}",
                        hint="this error is not transient; check the symbol, keys and api_url",
                    ) from None
                retry_after = self._retry_after(status)
                if retry_after is not None and retry_after > MAX_RETRY_AFTER_SECONDS:
                    raise ExternalServiceError(
                        f"{self.exchange_id}: {what} failed{self._endpoint()}: the exchange asks "
                        f"to wait {retry_after:.0f} s (HTTP {status}): {self._describe(err)}",
                        hint="the IP is rate-banned; run again after that time, the download "
                        "resumes from the last stored trade",
                    ) from None
                if attempt == tries:
                    raise ExternalServiceError(
                        f"{self.exchange_id}: {what} failed after {tries} tries"
                        f"{self._endpoint()}; last error: {self._describe(err)}",
                        hint="check network access to the exchange or retry later; the "
                        "download resumes from the last stored trade",
                    ) from None
                wait = min(self.options.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS)
                if retry_after is not None:
                    wait = max(wait, retry_after)
                self.metrics["retries"] += 1
                self.metrics["waited_seconds"] += wait
                log.warning("%s: %s try %d/%d failed (%s); retrying in %.1f s",
                            self.exchange_id, what, attempt, tries, self._describe(err), wait)
                self.sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _describe(self, err: BaseException) -> str:
        """Class name plus redacted, shortened message of a ccxt error."""
        text = self.redact(" ".join(str(err).split()))
        if len(text) > 400:
            text = text[:400] + "..."
        return f"{type(err).__name__}: {text}"

    def _endpoint(self) -> str:
        """`` (GET https://host/path)`` of the last request, without query string."""
        url = self.exchange.last_request_url
        if not url:
            return ""
        parts = urlsplit(str(url))
        bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        return f" (GET {self.redact(bare)})"

    def _retry_after(self, status: int | None) -> float | None:
        """Seconds from the Retry-After header of a 418/429/503 answer, if any."""
        if status not in (418, 429, 503):
            return None
        headers = self.exchange.last_response_headers
        value = headers.get("Retry-After") if headers is not None else None
        try:
            return float(value) if value is not None else None
        except (TypeError, ValueError):
            return None


def _http_status(err: BaseException) -> int | None:
    """The HTTP status behind a ccxt error (it is raised while handling requests' HTTPError)."""
    seen: set[int] = set()
    cause: BaseException | None = err
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        response = getattr(cause, "response", None)
        status = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
        cause = cause.__cause__ or cause.__context__
    return None


def _retryable(err: BaseException, status: int | None) -> bool:
    """Network-type failures and 5xx are worth another try; other 4xx never are."""
    import ccxt

    if status is not None and 400 <= status < 500 and status not in NO_RETRY_4XX_EXCEPT:
        return False
    if isinstance(err, ccxt.OperationFailed):  # NetworkError, DDoSProtection, RequestTimeout...
        return True
    return status is not None and status >= 500


# -- the download -----------------------------------------------------------------------------


class _Download:
    """One call's paging state: what is stored, what is covered, what is buffered."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        caller: _Caller,
        store: _ChunkStore,
        symbol: str,
        limit: int,
        stored: pl.DataFrame,
        coverage: list[Interval],
        start_ms: int,
        end_ms: int,
        metrics: dict[str, Any],
        progress: Callable[[float, str], None] | None,
    ) -> None:
        self.exchange = exchange
        self.caller = caller
        self.store = store
        self.symbol = symbol
        self.limit = limit
        self.stored = stored
        self.known_ids = np.sort(stored.get_column("trade_id").to_numpy())
        self.coverage = coverage
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.metrics = metrics
        self.progress = progress
        self.frames: list[pl.DataFrame] = []  # chunks written by this call
        self._rows: list[tuple[int, int, float, float, bool | None]] = []
        self._pending_cov: list[Interval] = []
        self._pages_since_flush = 0
        self._recent_ids: set[int] = set()
        self._previous_ids: set[int] = set()
        self._session_last: dict[int, int] = {}  # coverage end (ms) -> last trade id there
        self._probed_first = False
        self.reached_newest = False

    # -- driver ----------------------------------------------------------------------------

    def run(self, by_id: bool) -> None:
        """Fetch each part of the window the cache does not cover, oldest first."""
        while not self.reached_newest:
            gaps = _subtract((self.start_ms, self.end_ms), self.coverage)
            gaps = [(a, b) for a, b in gaps if a <= self._now()]
            if not gaps:
                break
            a, b = gaps[0]
            before = list(self.coverage)
            if by_id:
                self._segment_by_id(a, b)
            else:
                self._segment_by_time(a, b)
            if self.coverage == before and not self.reached_newest:
                break  # nothing more can be learnt about this gap now (e.g. it is in the future)
        self.metrics["reached_newest"] = self.reached_newest

    def _segment_by_id(self, a: int, b: int) -> None:
        """Fill ``[a, b)`` by aggregate-trade id, starting next to a stored trade if one borders
        `a`, else at the first trade found from `a` by time windows."""
        seed = self._seed(a)
        if seed is not None:
            if self.metrics["resumed_from"] is None:
                self.metrics["resumed_from"] = seed
            from_id, cov_from = seed + 1, a
        else:
            first = self._locate(a, b)
            if first is None:
                return
            last_ts, _ = self._accept(first, a)
            if last_ts >= b:
                return
            from_id, cov_from = max(_int_id(t) for t in first) + 1, last_ts
        while True:
            page = self._fetch(f"fetch_trades({self.symbol}, fromId={from_id})", None,
                               {"fromId": from_id})
            if not page:
                self.reached_newest = True
                return
            last_ts, _ = self._accept(page, cov_from)
            self._report(last_ts)
            from_id, cov_from = max(_int_id(t) for t in page) + 1, last_ts
            if last_ts >= b:
                return
            if len(page) < self.limit:
                self.reached_newest = True
                return

    def _locate(self, a: int, b: int) -> list[dict[str, Any]] | None:
        """The complete content of the first non-empty time window at or after `a` (before
        `b`), narrowing a window that comes back full; None if ``[a, b)`` has no trades."""
        cursor, width = a, HOUR_MS
        while cursor < b and cursor <= self._now():
            until = cursor + width - 1  # endTime is inclusive: the window spans `width` ms
            page = self._fetch(f"fetch_trades({self.symbol}, since={cursor}, until={until})",
                               cursor, {"until": until})
            self._report(cursor)
            if not page:
                self._cover_empty(cursor, cursor + width)
                cursor += width
                width = min(width * 2, HOUR_MS)
                if not self._probed_first and cursor < b:
                    # One cheap look at the market's very first trades (fromId=0): when they
                    # come after `cursor` (a window before the listing), they are the answer
                    # and the empty hours before them need not be walked one by one.
                    self._probed_first = True
                    first = self._fetch(f"fetch_trades({self.symbol}, fromId=0)", None,
                                        {"fromId": 0})
                    if not first:
                        break
                    first_ts = int(first[0]["timestamp"])
                    if first_ts >= cursor:
                        self._cover_empty(cursor, first_ts)
                        return first
                continue
            if len(page) < self.limit:
                return page
            if width == 1:
                log.warning("%s: more than %d trades in the millisecond %d; some may be missed",
                            self.symbol, self.limit, cursor)
                return page
            # The answer was cut at `limit`: halve the window, or shrink it to end at the first
            # trade returned when that is sooner (under "first trades" semantics that window
            # is then complete; under "last trades" semantics it drops a page of trades).
            first_ts = min(int(t["timestamp"]) for t in page)
            width = max(1, min(width // 2, first_ts - cursor + 1))
        self._cover_empty(a, min(cursor, b))
        return None

    def _segment_by_time(self, a: int, b: int) -> None:
        """Fill ``[a, b)`` with ``since`` paging (ccxt's unified semantics: the earliest trades
        from ``since``), re-asking from the last timestamp seen so that trades sharing that
        millisecond are not lost; an empty answer (a quiet hour) advances one hour."""
        cursor = a
        while cursor < b and cursor <= self._now():
            page = self._fetch(f"fetch_trades({self.symbol}, since={cursor})", cursor, {})
            self._report(cursor)
            if not page:
                self._cover_empty(cursor, cursor + HOUR_MS)
                cursor += HOUR_MS
                continue
            last_ts, new = self._accept(page, cursor)
            if last_ts >= b:
                return
            if last_ts > cursor:
                cursor = last_ts
            elif new:
                continue  # the page was all in `cursor`'s millisecond: ask again for the rest
            elif len(page) >= self.limit:  # more trades in one millisecond than a page holds
                log.warning("%s: more than %d trades at %d ms; stepping over it",
                            self.symbol, self.limit, cursor)
                self.metrics["skipped_ms"] = self.metrics.get("skipped_ms", 0) + 1
                cursor += 1
            else:  # nothing after `cursor`'s millisecond in this answer: a quiet hour
                self._cover_empty(cursor, cursor + HOUR_MS)
                cursor += HOUR_MS

    # -- pages -----------------------------------------------------------------------------

    def _fetch(self, what: str, since: int | None, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One page of ccxt trades, oldest first."""
        page = self.caller.call(what, self.exchange.fetch_trades, self.symbol, since,
                                self.limit, params)
        self.metrics["pages"] += 1
        return sorted(page or [], key=lambda t: (int(t["timestamp"]), _int_id(t)))

    def _accept(self, page: list[dict[str, Any]], cov_from: int) -> tuple[int, int]:
        """Buffer the new trades of a non-empty page and cover ``[cov_from, last ts)``.

        Returns the page's last timestamp and how many of its trades were new."""
        last_ts = max(int(t["timestamp"]) for t in page)
        ids = np.fromiter((_int_id(t) for t in page), dtype=np.int64, count=len(page))
        stored = np.zeros(len(ids), dtype=bool)
        if self.known_ids.size:
            pos = np.searchsorted(self.known_ids, ids).clip(max=self.known_ids.size - 1)
            stored = self.known_ids[pos] == ids
        page_ids: set[int] = set()
        added = 0
        for trade, trade_id, is_stored in zip(page, ids.tolist(), stored.tolist(), strict=True):
            seen = trade_id in self._recent_ids or trade_id in self._previous_ids
            if is_stored or seen or trade_id in page_ids:
                self.metrics["duplicates_dropped"] += 1
                continue
            page_ids.add(trade_id)
            price, qty = trade.get("price"), trade.get("amount")
            if price is None or qty is None or not price > 0 or not qty > 0:
                self.metrics["invalid_dropped"] += 1
                continue
            self._rows.append(
                (trade_id, int(trade["timestamp"]), float(price), float(qty), _buyer_maker(trade))
            )
            added += 1
        self._previous_ids, self._recent_ids = self._recent_ids, page_ids
        self.metrics["new_trades"] += added
        self._add_coverage(cov_from, last_ts)
        self._session_last[last_ts] = max(int(ids.max()), self._session_last.get(last_ts, -1))
        self._pages_since_flush += 1
        if self._pages_since_flush >= FLUSH_EVERY_PAGES or len(self._rows) >= FLUSH_EVERY_TRADES:
            self.flush()
        return last_ts, len(page_ids)

    def _cover_empty(self, a: int, b: int) -> None:
        """Mark ``[a, b)`` as holding no trades, as far as it lies in the settled past."""
        self._add_coverage(a, min(b, self._now() - SETTLED_MS))

    def _add_coverage(self, a: int, b: int) -> None:
        if b > a:
            self._pending_cov.append((a, b))
            self.coverage = _merge([*self.coverage, (a, b)])

    def _seed(self, a: int) -> int | None:
        """Id of the newest trade stored at or before `a` when a covered range ends at `a`
        (so every trade after `a` has a larger id), else None."""
        ending = [c for c in self.coverage if c[1] == a]
        if not ending:
            return None
        if a in self._session_last:
            return self._session_last[a]
        lo = ending[0][0]
        candidates: list[int] = []
        if self._session_last:
            candidates += [i for t, i in self._session_last.items() if lo <= t <= a]
        if self.stored.height:
            ms = pl.col("timestamp").dt.epoch("ms")
            hit = self.stored.filter((ms >= lo) & (ms <= a)).get_column("trade_id")
            if hit.len():
                candidates.append(int(hit.max()))  # type: ignore[arg-type]
        return max(candidates) if candidates else None

    def flush(self) -> None:
        """Write the buffered trades and the coverage they prove as one chunk."""
        if not self._rows and not self._pending_cov:
            return
        frame = _rows_frame(self._rows)
        self.store.write(frame, _merge(self._pending_cov))
        self.frames.append(frame)
        self.metrics["chunks"] += 1
        self._rows, self._pending_cov, self._pages_since_flush = [], [], 0

    # -- helpers ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.exchange.milliseconds())

    def _report(self, at_ms: int) -> None:
        if self.progress is None:
            return
        span = self.end_ms - self.start_ms
        fraction = min(1.0, max(0.0, (at_ms - self.start_ms) / span))
        when = datetime.fromtimestamp(at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")
        self.progress(fraction, f"{self.metrics['exchange']} {self.symbol}: "
                                f"{self.metrics['new_trades']} new trades, at {when} UTC")


def _int_id(trade: dict[str, Any]) -> int:
    """The trade id as an integer (needed to dedupe and to count gaps)."""
    raw = trade.get("id")
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DataError(
            f"the exchange returned a non-integer trade id {raw!r}; the ccxt source needs "
            "integer ids to deduplicate and to detect gaps"
        ) from None


def _buyer_maker(trade: dict[str, Any]) -> bool | None:
    """True when the taker sold. Binance's raw ``m`` flag if present, else ccxt's taker side."""
    info = trade.get("info")
    if isinstance(info, dict) and isinstance(info.get("m"), bool):
        return bool(info["m"])
    side = trade.get("side")
    return None if side is None else side == "sell"


def _rows_frame(rows: list[tuple[int, int, float, float, bool | None]]) -> pl.DataFrame:
    """Rows (id, ms, price, qty, buyer_maker) as a TRADES_SCHEMA frame sorted by id."""
    frame = pl.DataFrame(
        rows,
        schema={"trade_id": pl.Int64, "ms": pl.Int64, "price": pl.Float64, "qty": pl.Float64,
                "is_buyer_maker": pl.Boolean},
        orient="row",
    )
    return frame.select(
        "trade_id",
        pl.from_epoch("ms", time_unit="ms").dt.cast_time_unit("us").dt.replace_time_zone("UTC")
        .alias("timestamp"),
        "price",
        "qty",
        "is_buyer_maker",
    ).sort("trade_id")


def _window(frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Unique trades of ``[start, end)``, sorted by timestamp then id."""
    lo, hi = as_utc(start), as_utc(end)
    return (
        frame.unique(subset="trade_id", keep="first")
        .filter((pl.col("timestamp") >= lo) & (pl.col("timestamp") < hi))
        .sort("timestamp", "trade_id")
        .select([pl.col(c).cast(t) for c, t in TRADES_SCHEMA.items()])
    )


# -- intervals and time -------------------------------------------------------------------------


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals (touching ones are joined)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _subtract(target: Interval, covered: list[Interval]) -> list[Interval]:
    """Parts of `target` outside the merged `covered` intervals."""
    gaps: list[Interval] = []
    cursor, end = target
    for a, b in covered:
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _floor_ms(moment: datetime) -> int:
    return (as_utc(moment) - EPOCH) // timedelta(milliseconds=1)


def _ceil_ms(moment: datetime) -> int:
    us = (as_utc(moment) - EPOCH) // timedelta(microseconds=1)
    return math.ceil(us / 1000)


# -- chunk cache ------------------------------------------------------------------------------


class _ChunkStore:
    """Parquet chunks of trades plus the time ranges they prove complete, written atomically."""

    def __init__(self, folder: Path, identity: dict[str, str]) -> None:
        self.folder = folder
        self.identity = identity

    def chunk_paths(self) -> list[Path]:
        """Existing chunk files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("chunk-*.parquet"))

    def count(self) -> int:
        """Number of chunk files."""
        return len(self.chunk_paths())

    def load(self) -> tuple[pl.DataFrame, list[Interval]]:
        """All stored trades (unique ids, sorted by id) and the merged coverage."""
        self._remove_stale_temp_files()
        frames: list[pl.DataFrame] = [_rows_frame([])]
        coverage: list[Interval] = []
        for path in self.chunk_paths():
            frame, cov = self._read(path)
            frames.append(frame)
            coverage.extend(cov)
        stored = pl.concat(frames, how="vertical").unique(subset="trade_id", keep="first")
        return stored.sort("trade_id"), _merge(coverage)

    def _read(self, path: Path) -> tuple[pl.DataFrame, list[Interval]]:
        try:
            meta = json.loads(pl.read_parquet_metadata(path)[CHUNK_META_KEY])
            frame = pl.read_parquet(path)
            frame = frame.select([pl.col(c).cast(t) for c, t in TRADES_SCHEMA.items()])
            coverage = [(int(a), int(b)) for a, b in meta["coverage"]]
        except Exception as err:
            raise DataError(
                f"cache chunk {path} is unreadable: {type(err).__name__}: {err}",
                hint=f"delete {path}; the next run downloads its trades again",
            ) from None
        mismatch = {k: meta.get(k) for k, v in self.identity.items() if meta.get(k) != v}
        if mismatch:
            raise DataError(
                f"cache chunk {path} belongs to {mismatch}, not {self.identity}",
                hint=f"move it away or delete {self.folder}",
            )
        return frame, coverage

    def write(self, frame: pl.DataFrame, coverage: list[Interval]) -> Path:
        """Atomically add one chunk: temp file in the same folder, fsync, rename, fsync dir."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = {**self.identity, "version": CHUNK_VERSION, "coverage": coverage,
                "rows": frame.height}
        name = f"chunk-{time.time_ns():020d}-{secrets.token_hex(4)}.parquet"
        final = self.folder / name
        buffer = io.BytesIO()
        frame.write_parquet(buffer, metadata={CHUNK_META_KEY: json.dumps(meta)})
        atomic_write(final, buffer.getvalue())
        return final

    def compact(self) -> None:
        """Replace all chunks by one (written first, so a crash only leaves duplicates)."""
        paths = self.chunk_paths()
        stored, coverage = self.load()
        self.write(stored, coverage)
        for path in paths:
            path.unlink(missing_ok=True)
        fsync_dir(self.folder)

    def _remove_stale_temp_files(self) -> None:
        """Temp files of a writer killed mid-chunk (older than a few minutes) are garbage."""
        if not self.folder.is_dir():
            return
        cutoff = time.time() - STALE_TMP_SECONDS
        for tmp in self.folder.glob(f"{TMP_PREFIX}chunk-*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
            except OSError:
                pass


__all__ = ["CcxtConfig", "Credentials", "DownloadResult", "count_id_gaps", "download_trades"]
