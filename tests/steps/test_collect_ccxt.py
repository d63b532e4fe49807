"""`ares run-all --source ccxt` end to end against the local fake Binance on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from ares_cli.cli import app
from tests.data.ccxt.helpers import HOUR, T0, make_trades
from tests.data.fake_binance import FakeBinance, Fault

DAYS = 4  # 384 bars of 15m: step 2 needs 363 for the regime fit and the split
WINDOW = [
    "--set", f"data.start={datetime.fromtimestamp(T0 / 1000, UTC).isoformat()}",
    "--set", f"data.end={datetime.fromtimestamp((T0 + DAYS * 24 * HOUR) / 1000, UTC).isoformat()}",
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    return tmp_path


def run(server: FakeBinance, *extra: str) -> tuple[int, dict]:
    args = ["run-all", "--source", "ccxt", "--exchange", "binance", "--symbol", "ETHUSDT",
            "--set", f"ccxt.api_url={json.dumps(server.url)}", *WINDOW, "--to", "2", "--json",
            "--set", "bars.base=15m", *extra]
    result = CliRunner().invoke(app, args)
    return result.exit_code, json.loads(result.stdout)


def test_download_then_incremental_rerun_is_cached_downstream(env):
    trades = make_trades(T0, T0 + DAYS * 24 * HOUR, every_ms=30_000,
                         quiet=(T0 + 30 * HOUR, T0 + 31 * HOUR))
    with FakeBinance(trades) as server:
        code, first = run(server)
        assert code == 0, first
        collect = first["steps"][0]
        assert collect["status"] == "ok"
        assert collect["metrics"]["data"]["trades_rows"] == len(trades)
        assert collect["metrics"]["data"]["missing_trade_ids"]["ids"] == 0
        requests = len(server.requests_to("/api/v3/aggTrades"))
        code, second = run(server)
        assert code == 0
        assert second["steps"][0]["status"] == "ok"  # an exchange source is always asked again
        assert second["steps"][0]["outputs"] == collect["outputs"]
        assert second["steps"][1]["status"] == "cached"  # same trades, so no new bars
        # Only the tail after the newest stored trade is asked again, never the whole window.
        assert len(server.requests_to("/api/v3/aggTrades")) <= requests + 1


def test_exchange_failure_exits_4_naming_exchange_and_endpoint(env):
    with FakeBinance(make_trades(T0, T0 + HOUR)) as server:
        server.script("/api/v3/aggTrades", [Fault.server_error(500)] * 10)
        code, summary = run(server, "--set", "ccxt.max_retries=2", "--set",
                            "ccxt.backoff_seconds=0.0")
    assert code == 4
    message = summary["steps"][0]["message"]
    assert "binance" in message and "aggTrades" in message
    assert summary["resume_command"].startswith("ares resume")
