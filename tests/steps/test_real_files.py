"""Every price-series file in ../shared/data, run as a new user would (defaults, `--source files
--path FILE`): the ones expected to run all 16 steps do, with a verdict that is "edge", "no
edge" or "not tested" naming its gate; the others stop with exit 3 and the reason listed here,
and a suggestion in the message, when there is one, passes the gate that failed."""

from __future__ import annotations

import json
import re
import shlex

import pytest
from typer.testing import CliRunner

from ares_cli.cli import app
from tests.conftest import shared_file

pytestmark = pytest.mark.slow

ALT_5M = ("DASH", "ETC", "ETH", "TRX", "XLM", "XMR")

# file -> why it trades with defaults
RUNS = {
    **{f"real/freqtrade/{a}_BTC-5m.feather": "20 days of 5m candles: 480 1h bars" for a in ALT_5M},
    "real/freqtrade/UNITTEST_BTC-30m.feather": "40 days of 30m candles: 960 1h bars",
    "real/long/binance_ETH_USDT_1m_20240726-20240825.feather": "a month of 1m candles",
}
# the 6.7-year hourly history with its 28 outages runs in test_long_hourly_history_with_outages

# file -> (why it stops, a fragment of the message)
STOPS = {
    "real/backtesting/BTCUSD.csv":
        ("monthly bars: 153 over 12.9 years, fewer than the 363 any base bar needs",
         "no bar size can make that many"),
    "real/binance/ADABTC-1m-2021-11-27.csv": ("10 minutes of candles", "no bar size can"),
    "real/binance/ADABTC-1m-2021-11-28.csv": ("11 minutes of candles", "no bar size can"),
    "real/binance/derived_from_freqtrade/XRPETH-aggTrades-2019-10-11_2019-10-13.csv":
        ("59 h of trades: 60 1h bars", "a shorter base bar makes enough"),
    "real/freqtrade/UNITTEST_BTC-1m.feather":
        ("10 days: 240 1h bars", "a shorter base bar makes enough"),
    "real/freqtrade/XRP_ETH-1m.feather": ("59 h of candles", "a shorter base bar makes enough"),
    "real/freqtrade/XRP_ETH-5m.feather": ("59 h of candles", "a shorter base bar makes enough"),
    "real/freqtrade/XRP_ETH-trades.feather": ("59 h of trades", "a shorter base bar"),
    "real/freqtrade/XRP_ETH-trades.json.gz": ("59 h of trades", "a shorter base bar"),
    "real/freqtrade/XRP_ETH-trades.parquet": ("59 h of trades", "a shorter base bar"),
    "real/freqtrade/XRP_OLD-trades.json.gz": ("59 h of trades", "a shorter base bar"),
    "real/freqtrade/history_65a516e2/ETH_BTC-1m.json": ("10 days", "a shorter base bar"),
    "real/freqtrade/futures/XRP_USDT_USDT-1h-futures.feather":
        ("4.1 days of 1h candles", "no bar size can"),
    "real/freqtrade/futures/XRP_USDT_USDT-1h-futures.json.gz":
        ("4.1 days of 1h candles", "no bar size can"),
    "real/freqtrade/futures/XRP_USDT_USDT-5m-futures.feather":
        ("6.9 days of 5m candles", "a shorter base bar"),
    "real/freqtrade/futures/XRP_USDT_USDT-1h-mark.feather":
        ("a mark price: no volume in any row", "none of the 100 candles rows is usable"),
    "real/freqtrade/futures/XRP_USDT_USDT-8h-mark.feather":
        ("a mark price, 30 days of 8h candles", "no bar size can"),
    "real/freqtrade/futures/XRP_USDT_USDT-8h-funding_rate.feather":
        ("a funding rate: high, low and close are 0", "none of the 91 candles rows is usable"),
    "real/freqtrade/kraken/trades_csv/BCHEUR.csv":
        ("three columns, no trade id or side", "no mapping can"),
    "real/freqtrade/kraken/trades_csv/incremental_q2/BCHEUR.csv":
        ("three columns, no trade id or side", "no mapping can"),
    "real/freqtrade/orderflow/populate_dataframe_with_trades_DF.feather":
        ("3.5 days of 5m candles", "a shorter base bar"),
    "real/freqtrade/orderflow/public_trades_list.csv": ("207 s of trades", "no bar size can"),
    "reference/ta/cs-atr.csv": ("an indicator reference table", "no column for open"),
    "reference/ta/cs-rsi.csv": ("an indicator reference table", "cannot tell trades"),
    "reference/stats/pbo_tiny_T8_N4.csv": ("a statistics reference table", "no mapping can"),
}

# file -> what kept walk-forward's first fold from training. Twenty days of 5m candles pass
# step 2's gate (480 bars of 1h), but the first fold trains on about a quarter of them, and on
# these files that holds just too few labelled rows or proposals: the fold stays flat on its
# test span, saying why, and any later folds trade (ADA has only the one: "not tested").
FIRST_FOLD_UNTRAINED = {
    "real/freqtrade/ADA_BTC-5m.feather": "analyst-train's purged 5-fold CV needs at least 100",
    "real/freqtrade/LTC_BTC-5m.feather": "needs at least 50 (tactician.min_events)",
    "real/freqtrade/NXT_BTC-5m.feather": "needs at least 50 (tactician.min_events)",
    "real/freqtrade/ZEC_BTC-5m.feather": "needs at least 50 (tactician.min_events)",
}

FOLLOWABLE = re.compile(r"e\.g\. ((?:--set (?:'[^']*'|\S+) ?)+)")


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ARES_STORE", str(tmp_path / "store"))
    return tmp_path


def run(path: str, *extra: str) -> tuple[int, dict]:
    result = CliRunner().invoke(app, ["run-all", "--source", "files", "--path",
                                      str(shared_file(path)), *extra, "--json"])
    return result.exit_code, json.loads(result.stdout)


def failure(summary: dict) -> dict:
    return next(s for s in summary["steps"] if s["status"] == "failed")


@pytest.mark.parametrize("path", sorted(STOPS))
def test_files_that_cannot_trade_stop_with_exit_3_and_a_suggestion_that_works(env, path):
    code, summary = run(path, "--to", "3")
    failed = failure(summary) if code else None
    assert code == 3, f"{path}: exit {code}, expected 3 ({STOPS[path][0]})"
    assert STOPS[path][1] in failed["message"], failed["message"]
    suggestion = FOLLOWABLE.search(failed["message"])
    if suggestion is None:  # then the message says plainly that nothing can
        assert " can" in failed["message"] or "<its column>" in failed["message"]
        return
    followed_code, followed = run(path, "--to", "3", *shlex.split(suggestion.group(1)))
    if followed_code:
        again = failure(followed)
        assert (again["number"], again["message"][:60]) != (failed["number"],
                                                            failed["message"][:60])


@pytest.mark.parametrize("path", sorted(RUNS))
def test_files_that_can_trade_run_all_sixteen_steps_with_defaults(env, path):
    code, summary = run(path)
    assert code == 0, (path, failure(summary)["message"] if code else None)
    walk_forward = summary["steps"][13]["metrics"]["walk_forward"]
    assert walk_forward["verdict"] in ("edge", "no edge", "not tested")
    if walk_forward["verdict"] == "not tested":
        assert "fold" in walk_forward["verdict_reason"], walk_forward["verdict_reason"]


@pytest.mark.parametrize("path", sorted(FIRST_FOLD_UNTRAINED))
def test_a_fold_too_short_to_train_stays_flat_and_says_why(env, path):
    code, summary = run(path)
    assert code == 0, (path, failure(summary)["message"] if code else None)
    flat = [w for w in summary["warnings"] if w.startswith("walk-forward fold 1 stayed flat")]
    assert flat and "its past was too short to train on" in flat[0], summary["warnings"]
    assert FIRST_FOLD_UNTRAINED[path] in flat[0], flat[0]
    assert summary["steps"][12]["metrics"]["walk_forward"]["folds"][0]["trades"] == 0
    verdict = summary["steps"][13]["metrics"]["walk_forward"]
    assert verdict["verdict"] in ("edge", "no edge", "not tested")
    if verdict["verdict"] == "not tested":
        assert "fold 1 stayed flat: its past was too short" in verdict["verdict_reason"]


BTC_1H = "real/long/binance_BTC_USDT_1h_20170817-20240421.feather"


def test_long_hourly_history_with_outages_runs_with_defaults_and_nothing_spans_a_gap():
    """6.7 years of hourly candles with 28 real exchange outages, all 16 steps with defaults:
    the outages are reported, no label and no walk-forward trade spans one."""
    import numpy as np
    import polars as pl

    from ares_cli.config import build_config
    from ares_cli.pipeline import run_steps
    from ares_cli.steps import STEPS

    config = build_config({"data": {"source": "files", "paths": [str(shared_file(BTC_1H))]}})
    result = run_steps(STEPS, {}, config)
    data = result.steps[2].metrics["data"]
    assert data["gaps"] == 28 and data["longest_gap"]["bars"] == 33  # 34 h between candles
    bars = result.catalog["bars"]
    gap = bars["gap"].to_numpy()
    gap_before = np.concatenate([[0], np.cumsum(gap)])  # gap bars in [0, i)

    dataset = result.catalog["analyst_dataset"].filter(pl.col("y").is_not_null())
    t0 = dataset["bar_index"].to_numpy()
    t1 = dataset["t1_index"].to_numpy()
    assert len(t0) and not (gap_before[t1 + 1] - gap_before[t0]).any()

    trades = result.catalog.get("walk_forward_trades")
    if trades is not None and trades.height:
        times = bars["timestamp"]
        gap_times = times.filter(pl.Series(gap))
        for entry, exit_ in trades.select("entry_time", "exit_time").iter_rows():
            assert not ((gap_times >= entry) & (gap_times <= exit_)).any(), (entry, exit_)
    walk_forward = result.steps[14].metrics["walk_forward"]
    assert walk_forward["verdict"] in ("edge", "no edge", "not tested")
