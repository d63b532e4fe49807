"""The ccxt client: construction, market lookup, secret redaction, and calls with retries.

A synchronous ccxt client with its rate limiter on, a timeout and an optional `api_url`
override; ccxt itself is imported inside the functions that need it (it takes about a second).

Errors. Network-type failures (ccxt ``OperationFailed``/``NetworkError`` family: 429 and 418
``DDoSProtection``, ``RequestTimeout``, 5xx ``ExchangeNotAvailable``) are retried up to
``max_retries`` tries, waiting ``backoff_seconds * 2**k`` (capped at 60 s) or the server's
``Retry-After`` when longer; then :class:`ExternalServiceError` (exit 4) names the exchange, the
call, the endpoint and the last error. A 4xx other than 408/418/425/429 is not retried. A
symbol the exchange does not list is a :class:`ConfigError` (exit 2): it is the ``--symbol``
setting that is wrong, not the data. API keys (`Credentials`) are never logged and are redacted
from every message and metric.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from ares_cli.data.ccxt.config import CcxtConfig
from ares_cli.errors import ConfigError, ExternalServiceError

if TYPE_CHECKING:  # ccxt is imported lazily: it takes about a second to import
    import ccxt

__all__ = ["Caller", "Credentials", "Redactor", "close", "make_exchange", "resolve_market"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_BACKOFF_SECONDS = 60.0  # cap of the exponential backoff
MAX_RETRY_AFTER_SECONDS = 600.0  # a longer Retry-After (an IP ban) fails at once
NO_RETRY_4XX_EXCEPT = frozenset({408, 418, 425, 429})


@dataclass(frozen=True)
class Credentials:
    """Optional API key and secret (public data needs none); never logged, never in errors."""

    api_key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)


def make_exchange(
    exchange_id: str, symbol: str, options: CcxtConfig, credentials: Credentials,
    redact: Redactor
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


def resolve_market(exchange: ccxt.Exchange, exchange_id: str, symbol: str) -> dict[str, Any]:
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


def close(exchange: ccxt.Exchange) -> None:
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


class Redactor:
    """Removes the configured key and secret, and any key-like query parameter, from text."""

    def __init__(self, values: Iterable[str]) -> None:
        self._values = sorted({v for v in values if v}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, "***")
        return _SECRET_PARAM.sub(r"\1***", text)


class _RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger handed to ccxt: it logs request headers at DEBUG, which can carry the key."""

    def __init__(self, logger: logging.Logger, redact: Redactor) -> None:
        super().__init__(logger, {})
        self._redact = redact

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Format, redact, then log the message as plain text."""
        if self.isEnabledFor(level):
            text = str(msg) % args if args else str(msg)
            kwargs.pop("extra", None)
            self.logger.log(level, "%s", self._redact(text), **kwargs)


# -- requests with retries --------------------------------------------------------------------


class Caller:
    """Runs one ccxt call with retries, backoff and error translation."""

    def __init__(
        self,
        exchange: ccxt.Exchange,
        exchange_id: str,
        options: CcxtConfig,
        sleep: Callable[[float], None],
        redact: Redactor,
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
