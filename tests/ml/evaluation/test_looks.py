"""Looks at the same test bars: which ledger entries count against a run, and what K does to
step 14's verdict (the resolver and the assessment together)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from ares_cli.ml.evaluation.looks import bar_fingerprint, other_looks, same_bars
from ares_cli.ml.evaluation.monte_carlo import MonteCarloConfig, assess
from ares_cli.store.looks import LookLedger


def _bars(days: int, start_day: int = 0, seed: int = 0, bump: int | None = None) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = 24 * (days + start_day)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    if bump is not None:
        close[bump] *= 1.01  # one bar differs: other data
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame({"timestamp": [t0 + timedelta(hours=h) for h in range(n)],
                          "open": np.r_[100.0, close[:-1]], "high": close * 1.001,
                          "low": close * 0.999, "close": close, "volume": np.ones(n)})
    return frame.slice(24 * start_day)


SPANS = [["2024-01-20 00:00:00+00:00", "2024-01-29 23:00:00+00:00"]]


def _entry(setting: str, bars: pl.DataFrame, *, step: int = 13, sharpe: float | None = 1.0,
           spans: list[list[str]] = SPANS, run: str = "r1") -> dict:
    return {"setting": setting, "config": {"optimize": {"trials": ord(setting)}}, "step": step,
            "fingerprint": bar_fingerprint(bars), "spans": spans, "sharpe": sharpe,
            "run_id": run, "code": "c"}


def _mine(setting: str, bars: pl.DataFrame) -> dict:
    e = _entry(setting, bars)
    return {k: e[k] for k in ("setting", "config", "fingerprint", "spans")}


def test_fingerprints_agree_where_bars_overlap_and_only_there() -> None:
    month = _bars(30)
    assert same_bars(bar_fingerprint(month), bar_fingerprint(_bars(40)))  # grown at its end
    assert same_bars(bar_fingerprint(month), bar_fingerprint(_bars(25, start_day=5)))
    assert not same_bars(bar_fingerprint(month), bar_fingerprint(_bars(30, bump=24 * 10 + 23)))
    # another bar size of the same prices is on the same bars (daily OHLCV agree)
    hourly = _bars(30)
    four = (hourly.group_by_dynamic("timestamp", every="4h")
            .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
                 pl.col("close").last(), pl.col("volume").sum()))
    assert same_bars(bar_fingerprint(hourly), bar_fingerprint(four))
    assert not same_bars(bar_fingerprint(month), bar_fingerprint(_bars(30, seed=1)))


def test_other_settings_on_the_same_test_bars_are_counted_once_each() -> None:
    month = _bars(30)
    entries = [
        _entry("A", month),  # this run's own setting: not another look
        _entry("A", _bars(40), run="r9"),  # the same setting on more data: this run trimmed it
        _entry("B", month, step=12, sharpe=None, run="r2"),  # another setting, step 12 only
        _entry("B", month, sharpe=2.5, run="r2"),  # ... and its walk-forward: one look
        _entry("C", _bars(30, bump=24 * 10 + 23), run="r3"),  # other bars: not these test bars
        _entry("D", month, spans=[["2024-01-02 00:00:00+00:00", "2024-01-05 00:00:00+00:00"]],
               run="r4"),  # scored bars before these test spans: not a look at them
        _entry("E", _bars(25, start_day=5), run="r5"),  # a new window: a new look
    ]
    looks = other_looks(entries, _mine("A", month))
    assert looks["looks"] == 4
    by_setting = {o["setting"]: o for o in looks["others"]}
    assert set(by_setting) == {"A", "B", "E"}  # A: the 40-day look, its end trimmed here
    # from the longer run's side, the month is the same question asked of less data
    grown = other_looks(entries, _mine("A", _bars(40)))
    assert {o["setting"] for o in grown["others"]} == {"B", "E"}
    assert by_setting["B"]["sharpe"] == 2.5 and by_setting["B"]["steps"] == [12, 13]
    assert by_setting["B"]["differs"] == ["optimize.trials = 66 (here 65)"]
    assert by_setting["B"]["first_run"] == "r2"
    assert other_looks(entries, _mine("A", month)) == looks  # deterministic


def test_the_ledger_appends_once_per_look_and_survives_a_torn_line(tmp_path) -> None:
    ledger = LookLedger(tmp_path)
    entry = _entry("A", _bars(30))
    same = ("setting", "step", "code", "spans", "fingerprint")
    assert ledger.append(entry, same=same)
    assert not ledger.append({**entry, "run_id": "r2"}, same=same)  # a re-run adds nothing
    with ledger.path.open("a") as f:
        f.write('{"setting": "torn')  # a crash mid-write
    assert ledger.append({**entry, "setting": "B"}, same=same)
    assert [e["setting"] for e in ledger.entries()] == ["A", "B"]


def test_a_second_setting_on_these_bars_halves_what_the_test_can_claim() -> None:
    """The resolver's K enters step 14: the same record judged after another setting was
    tried on its test bars has its permutation p doubled (mutation: ignoring the looks)."""
    rng = np.random.default_rng(6)
    market = rng.normal(0, 0.01, 2000)
    entries_bar = np.arange(0, 2000, 20)
    market[entries_bar] += 0.003
    returns = np.zeros(2000)
    returns[entries_bar] = market[entries_bar]
    trades = {"entry": entries_bar, "duration": np.ones(entries_bar.size, dtype=np.int64),
              "side": np.ones(entries_bar.size), "size": np.ones(entries_bar.size),
              "equity_return": market[entries_bar]}
    month = _bars(30)
    cfg = MonteCarloConfig(n_boot=200, n_perm=200, n_shuffle=200)
    judged = {}
    for ledger in ([_entry("A", month)], [_entry("A", month), _entry("B", month, run="r2")]):
        looks = other_looks(ledger, _mine("A", month))
        judged[looks["looks"]] = assess(
            returns, trades, market, trial_returns=np.zeros((2000, 3)), looks=looks["looks"],
            look_sharpes=[o["sharpe"] for o in looks["others"]], bars_per_year=8760,
            cost_per_trade=0.0, cfg=cfg, seed=1)
    assert set(judged) == {1, 2}
    assert judged[2]["permutation_p_adjusted"] == min(1.0, 2 * judged[2]["permutation_p"])
    assert judged[1]["permutation_p_adjusted"] == judged[1]["permutation_p"]
    assert judged[2]["looks"] == 2 and "2 look(s)" in judged[2]["verdict_reason"]
