"""A local fake of the Binance spot REST API, good enough for a real `ccxt.binance` client.

Why: the ccxt source must be tested against the exchange's wire behaviour (paging parameters,
error statuses, slow answers) without ever leaving 127.0.0.1. The server holds an in-memory
list of aggregate trades per symbol and answers the few endpoints ccxt needs:

* ``GET /api/v3/ping``, ``GET /api/v3/time``
* ``GET /api/v3/exchangeInfo`` (realistic spot symbol entries with filters)
* ``GET /api/v3/klines`` (built from the trades)
* ``GET /api/v3/aggTrades`` with Binance's parameter rules: ``fromId`` / ``startTime`` /
  ``endTime`` inclusive, ``limit`` default 500 and max 1000, ``fromId`` may not be combined
  with a time bound (-1128), a time window may span at most one hour (-1127), an unknown
  symbol is -1121. With both ``startTime`` and ``endTime`` and more trades than ``limit`` in
  the window, Binance returns the *last* ``limit`` trades of the window (reported in
  binance/binance-spot-api-docs issue #10); ``window_limit_from_end=False`` returns the first
  ones instead, so a client can be checked under both readings.

Fault injection: :meth:`FakeBinance.script` queues responses for the next requests to one
path (``None`` = answer normally), e.g. ``[None, None, Fault.rate_limited(2)]`` fails the
third call with HTTP 429. Every request is appended to :attr:`FakeBinance.requests`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOUR_MS = 3_600_000
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500

INTERVAL_MS: dict[str, int] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": HOUR_MS,
    "2h": 2 * HOUR_MS,
    "4h": 4 * HOUR_MS,
    "1d": 24 * HOUR_MS,
}


@dataclass(frozen=True)
class AggTrade:
    """One Binance aggregate trade, as the server stores it."""

    id: int
    ts_ms: int
    price: float
    qty: float
    is_buyer_maker: bool

    def to_json(self) -> dict[str, Any]:
        """The wire form of ``GET /api/v3/aggTrades`` (prices and sizes are strings)."""
        first = self.id * 3
        return {
            "a": self.id,
            "p": f"{self.price:.8f}",
            "q": f"{self.qty:.8f}",
            "f": first,
            "l": first + 2,
            "T": self.ts_ms,
            "m": self.is_buyer_maker,
            "M": True,
        }


@dataclass(frozen=True)
class Fault:
    """A scripted answer that replaces (or delays) the normal response to one request."""

    status: int = 0  # 0 = answer normally (after `delay`)
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0

    @classmethod
    def rate_limited(cls, retry_after: int = 1) -> Fault:
        """HTTP 429 with Retry-After, as Binance sends when the request weight is exceeded."""
        body = {
            "code": -1003,
            "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per "
            "minute. Please use the websocket for live updates to avoid polling the API.",
        }
        return cls(429, json.dumps(body), (("Retry-After", str(retry_after)),))

    @classmethod
    def banned(cls, retry_after: int = 2) -> Fault:
        """HTTP 418: the IP is auto-banned for ignoring 429s; Retry-After says for how long."""
        until = int(time.time() * 1000) + retry_after * 1000
        body = {
            "code": -1003,
            "msg": f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use "
            "the websocket for live updates to avoid bans.",
        }
        return cls(418, json.dumps(body), (("Retry-After", str(retry_after)),))

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        """A bare 5xx from the gateway (no Binance JSON body)."""
        return cls(status, f"<html><body><h1>{status} Server Error</h1></body></html>")

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds` (longer than the client's timeout)."""
        return cls(0, "", (), seconds)

    @classmethod
    def binance_error(cls, status: int, code: int, msg: str) -> Fault:
        """An arbitrary Binance error body, e.g. ``(400, -1121, "Invalid symbol.")``."""
        return cls(status, json.dumps({"code": code, "msg": msg}))


@dataclass(frozen=True)
class RequestRecord:
    """One request the server received (query values are single strings)."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int = 0

    @property
    def url(self) -> str:
        """Path plus query string, for grepping in assertions."""
        query = "&".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.path}?{query}" if query else self.path


def symbol_info(symbol: str, base: str, quote: str, tick: str, step: str) -> dict[str, Any]:
    """An exchangeInfo symbol entry shaped like Binance's current spot answer."""
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": tick,
                "maxPrice": "1000000.00000000",
                "tickSize": tick,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": step,
                "maxQty": "9000.00000000",
                "stepSize": step,
            },
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": "1500.00000000",
                "stepSize": "0.00000000",
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


DEFAULT_SYMBOLS: dict[str, dict[str, Any]] = {
    "ETHUSDT": symbol_info("ETHUSDT", "ETH", "USDT", "0.01000000", "0.00010000"),
    "BTCUSDT": symbol_info("BTCUSDT", "BTC", "USDT", "0.01000000", "0.00001000"),
    "XRPETH": symbol_info("XRPETH", "XRP", "ETH", "0.00000001", "1.00000000"),
}


class ApiError(Exception):
    """A Binance-style error answer: HTTP status plus ``{"code", "msg"}`` body."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg


@dataclass
class _Script:
    """Scripted answers for one path; ``None`` entries let the request through."""

    path: str
    queue: deque[Fault | None] = field(default_factory=deque)


class FakeBinance:
    """Threaded local HTTP server speaking the subset of Binance REST that ccxt needs."""

    def __init__(
        self,
        trades: dict[str, Sequence[AggTrade]] | Sequence[AggTrade] | None = None,
        *,
        window_limit_from_end: bool = True,
        symbols: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        if trades is None:
            trades = {}
        if not isinstance(trades, dict):
            trades = {"ETHUSDT": trades}
        self.symbols = dict(symbols or DEFAULT_SYMBOLS)
        self._trades: dict[str, list[AggTrade]] = {
            s: sorted(t, key=lambda x: x.id) for s, t in trades.items()
        }
        self.window_limit_from_end = window_limit_from_end
        self.requests: list[RequestRecord] = []
        self._scripts: list[_Script] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> FakeBinance:
        handler = _make_handler(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-binance"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Base URL (scheme, host, port), e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("FakeBinance is not running; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- test controls -----------------------------------------------------------------------

    def script(self, path: str, answers: Iterable[Fault | None]) -> None:
        """Queue answers for the next requests to `path` (``None`` = answer normally)."""
        with self._lock:
            self._scripts.append(_Script(path, deque(answers)))

    def add_trades(self, symbol: str, trades: Iterable[AggTrade]) -> None:
        """Append newer trades (the market moved on between two downloads)."""
        with self._lock:
            merged = self._trades.setdefault(symbol, []) + list(trades)
            self._trades[symbol] = sorted(merged, key=lambda x: x.id)

    def trades(self, symbol: str = "ETHUSDT") -> list[AggTrade]:
        """The server's full trade list for `symbol`, ordered by id."""
        with self._lock:
            return list(self._trades.get(symbol, []))

    def requests_to(self, path: str) -> list[RequestRecord]:
        """Logged requests whose path is `path`."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        """Forget the request log (e.g. between two downloads)."""
        with self._lock:
            self.requests.clear()

    # -- request handling (called from handler threads) ---------------------------------------

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for script in self._scripts:
                if script.path == path and script.queue:
                    return script.queue.popleft()
        return None

    def _log(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def answer(self, path: str, params: dict[str, str]) -> Any:
        """The JSON body for a normal answer, or raise :class:`ApiError`."""
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": int(time.time() * 1000)}
        if path == "/api/v3/exchangeInfo":
            return self._exchange_info(params)
        if path == "/api/v3/aggTrades":
            return [t.to_json() for t in self._agg_trades(params)]
        if path == "/api/v3/klines":
            return self._klines(params)
        raise ApiError(404, -1, f"unknown path {path}")

    def _exchange_info(self, params: dict[str, str]) -> dict[str, Any]:
        wanted: list[str] | None = None
        if "symbol" in params:
            wanted = [params["symbol"]]
        elif "symbols" in params:
            wanted = json.loads(params["symbols"])
        if wanted is not None:
            for s in wanted:
                if s not in self.symbols:
                    raise ApiError(400, -1121, "Invalid symbol.")
        chosen = [v for k, v in self.symbols.items() if wanted is None or k in wanted]
        return {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5,
                 "limit": 61000},
            ],
            "exchangeFilters": [],
            "symbols": chosen,
        }

    def _symbol_trades(self, params: dict[str, str]) -> list[AggTrade]:
        symbol = params.get("symbol")
        if not symbol:
            raise ApiError(400, -1102, "Mandatory parameter 'symbol' was not sent, was empty/null,"
                           " or malformed.")
        if symbol not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        with self._lock:
            return list(self._trades.get(symbol, []))

    @staticmethod
    def _int_param(params: dict[str, str], name: str) -> int | None:
        raw = params.get(name)
        if raw is None:
            return None
        try:
            return int(raw)
        except ValueError:
            raise ApiError(
                400, -1100, f"Illegal characters found in parameter '{name}'; legal range is "
                "'^[0-9]{1,20}$'."
            ) from None

    def _limit(self, params: dict[str, str]) -> int:
        limit = self._int_param(params, "limit")
        if limit is None:
            return DEFAULT_LIMIT
        if limit < 1:
            raise ApiError(400, -1100, "Illegal characters found in parameter 'limit'.")
        return min(limit, MAX_LIMIT)

    def _agg_trades(self, params: dict[str, str]) -> list[AggTrade]:
        trades = self._symbol_trades(params)
        limit = self._limit(params)
        from_id = self._int_param(params, "fromId")
        start = self._int_param(params, "startTime")
        end = self._int_param(params, "endTime")
        if from_id is not None and (start is not None or end is not None):
            raise ApiError(400, -1128, "Combination of optional parameters invalid.")
        if from_id is not None:
            return [t for t in trades if t.id >= from_id][:limit]
        if start is not None and end is not None:
            if end < start:
                raise ApiError(400, -1128, "Combination of optional parameters invalid.")
            if end - start > HOUR_MS:
                raise ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
            window = [t for t in trades if start <= t.ts_ms <= end]
            return window[-limit:] if self.window_limit_from_end else window[:limit]
        if start is not None:
            return [t for t in trades if t.ts_ms >= start][:limit]
        if end is not None:
            return [t for t in trades if t.ts_ms <= end][-limit:]
        return trades[-limit:]

    def _klines(self, params: dict[str, str]) -> list[list[Any]]:
        trades = self._symbol_trades(params)
        interval = params.get("interval", "")
        if interval not in INTERVAL_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        step = INTERVAL_MS[interval]
        limit = self._limit(params)
        start = self._int_param(params, "startTime")
        end = self._int_param(params, "endTime")
        if not trades:
            return []
        buckets: dict[int, list[AggTrade]] = {}
        for t in trades:
            buckets.setdefault(t.ts_ms - t.ts_ms % step, []).append(t)
        first, last = min(buckets), max(buckets)
        rows: list[list[Any]] = []
        prev_close = buckets[first][0].price
        for open_ms in range(first, last + step, step):
            group = buckets.get(open_ms, [])
            prices = [t.price for t in group] or [prev_close]
            volume = sum(t.qty for t in group)
            quote = sum(t.qty * t.price for t in group)
            taker_buy = [t for t in group if not t.is_buyer_maker]
            rows.append([
                open_ms,
                f"{prices[0]:.8f}",
                f"{max(prices):.8f}",
                f"{min(prices):.8f}",
                f"{prices[-1]:.8f}",
                f"{volume:.8f}",
                open_ms + step - 1,
                f"{quote:.8f}",
                len(group),
                f"{sum(t.qty for t in taker_buy):.8f}",
                f"{sum(t.qty * t.price for t in taker_buy):.8f}",
                "0",
            ])
            prev_close = prices[-1]
        if start is not None:
            rows = [r for r in rows if r[0] >= start]
        if end is not None:
            rows = [r for r in rows if r[0] <= end]
        return rows[:limit] if start is not None else rows[-limit:]


def _make_handler(fake: FakeBinance) -> type[BaseHTTPRequestHandler]:
    """A request-handler class bound to one :class:`FakeBinance`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

        def do_GET(self) -> None:
            """Serve one GET: scripted fault first, else the normal answer."""
            split = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(split.query).items()}
            headers = {k: v for k, v in self.headers.items()}
            fault = fake._next_fault(split.path)
            status, body, extra = 200, "", ()
            if fault is not None and fault.delay:
                time.sleep(fault.delay)
            if fault is not None and fault.status:
                status, body, extra = fault.status, fault.body, fault.headers
            else:
                try:
                    body = json.dumps(fake.answer(split.path, params))
                except ApiError as err:
                    status = err.status
                    body = json.dumps({"code": err.code, "msg": err.msg})
            fake._log(RequestRecord("GET", split.path, params, headers, status))
            self._send(status, body, extra)

        def _send(self, status: int, body: str, extra: Sequence[tuple[str, str]]) -> None:
            data = body.encode()
            try:
                self.send_response(status)
                is_json = body.startswith(("{", "["))
                self.send_header("Content-Type", "application/json;charset=UTF-8" if is_json
                                 else "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("X-MBX-USED-WEIGHT-1M", "4")
                for key, value in extra:
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test); nothing to do

    return Handler
