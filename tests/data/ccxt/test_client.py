"""The ccxt client: retries and backoff, errors by kind, symbols, key secrecy, api_url.

Every test talks to a FakeBinance on 127.0.0.1 through a real `ccxt.binance` client; `sleep` is
a recorder, so backoff waits are asserted instead of waited.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from ares_cli.data.ccxt import client
from ares_cli.data.ccxt.client import Credentials
from ares_cli.data.ccxt.download import download_trades
from ares_cli.errors import ConfigError, ExternalServiceError
from tests.data.ccxt.helpers import (
    AGG,
    API_KEY,
    HOUR,
    SECRET,
    T0,
    Sleeps,
    assert_matches,
    fetch,
    in_window,
    ms,
    options,
)
from tests.data.fake_binance import AggTrade, FakeBinance, Fault

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
    assert client._override_urls(urls, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3", "fapi": {"x": "http://127.0.0.1:9/fapi/v1"}}
    assert client._override_urls(urls, "https://mirror.example/base/") == {
        "public": "https://mirror.example/base", "fapi": {"x": "https://mirror.example/base"}}
