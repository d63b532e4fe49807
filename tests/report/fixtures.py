"""Shared data of the report tests: `full_data()` is a synthetic run with every section
filled, `full_page()` its report (rendered once per test process); `tests/report/test_browser.py`
opens that report in a real browser.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ares_cli.report.page import render_report


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def full_data(n_bars: int = 2000) -> dict[str, Any]:
    """A synthetic run with every section of the report filled, from a fixed seed."""
    rng = np.random.default_rng(7)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    times = [_iso(t0 + timedelta(hours=i)) for i in range(n_bars)]
    close = 2000 * np.exp(np.cumsum(rng.normal(0, 0.004, n_bars)))
    regimes: list[str | None] = []
    names = ["BULL", "SIDEWAYS", "BEAR", "VOLATILE"]
    while len(regimes) < n_bars:
        regimes += [names[int(rng.integers(4))]] * int(rng.integers(30, 200))
    regimes = regimes[:n_bars]
    regimes[:24] = [None] * 24  # the warm-up bars have no regime yet
    cut = [0, int(n_bars * 0.6), int(n_bars * 0.8), n_bars - 1]
    oos = list(range(cut[1], n_bars))
    equity = np.cumprod(1 + rng.normal(0.0004, 0.006, len(oos)))
    bench = close[oos] / close[oos[0]]
    fold_edges = np.linspace(0, len(oos) - 1, 5).astype(int)

    def curve(bias: float) -> dict[str, list[float]]:
        p = np.linspace(0.05, 0.95, 10)
        return {"predicted": p.tolist(),
                "observed": np.clip(p + bias * (p - 0.5) + rng.normal(0, 0.02, 10), 0, 1).tolist()}

    dd = rng.uniform(0.05, 0.45, 80)
    sharpe = rng.normal(0.5 + 3 * dd, 0.6)
    feasible = dd < 0.35
    # the front: feasible trials that no other feasible one beats on both counts
    front = [bool(feasible[i] and not np.any(feasible & (dd <= dd[i]) & (sharpe > sharpe[i])))
             for i in range(80)]
    chosen = int(np.flatnonzero(front)[len(np.flatnonzero(front)) // 2])
    trials = [{"sharpe": float(sharpe[i]), "max_drawdown": float(dd[i]),
               "feasible": bool(feasible[i]), "on_front": front[i], "chosen": i == chosen}
              for i in range(80)]
    features = [f"feature_{k:02d}_{w}" for k, w in enumerate(
        ["rsi", "atr", "volume_z", "ret_1", "ret_24", "bb_width", "macd", "obv", "vwap_gap",
         "hour_sin", "hour_cos", "spread", "skew", "kurt", "trend"])]
    return {
        "title": "Research report",
        "exchange": "binance",
        "symbol": "ETHUSDT",
        "run_id": "20240301-120000-abcdef",
        "data_end": "2024-03-01T12:00:00Z",
        "verdict": {"headline": "No edge out of sample", "edge": False,
                    "details": ["permutation p = 0.41", "deflated Sharpe 0.12 < 0.95",
                                "A/B decision: keep"]},
        "price": {"time": times, "close": close.tolist(), "regime": regimes},
        "windows": {"train": [times[cut[0]], times[cut[1] - 1]],
                    "validation": [times[cut[1]], times[cut[2] - 1]],
                    "test": [times[cut[2]], times[cut[3]]]},
        "equity": {"time": [times[i] for i in oos], "equity": equity.tolist(),
                   "benchmark": bench.tolist(),
                   "folds": [{"fold": k + 1, "start": times[oos[fold_edges[k]]],
                              "end": times[oos[fold_edges[k + 1]]]} for k in range(4)]},
        "reliability": {"analyst": {"before": curve(0.5), "after": curve(0.0)},
                        "tactician": {"before": curve(-0.4), "after": curve(0.05)}},
        "pareto": {"trials": trials},
        "monte_carlo": {
            "sharpe": {"observed": 0.8, "replicates": rng.normal(0.7, 0.5, 500).tolist()},
            "max_drawdown": {"observed": -0.12,
                             "replicates": (-rng.gamma(4, 0.03, 500)).tolist()},
            "permutation": {"observed": 0.8, "null": rng.normal(0, 0.6, 500).tolist()}},
        "ab_test": {"decision": "keep",
                    "champions": {"buy_and_hold": {"diff": 0.35, "ci": [-0.2, 0.9]},
                                  "momentum": {"diff": -0.1, "ci": None}}},
        "contributions": {regime: {f: float(abs(rng.normal(0, 0.1))) for f in features}
                          for regime in ("BULL", "BEAR", "SIDEWAYS", "VOLATILE")},
        "tables": [
            {"title": "Out-of-sample performance", "window": "walk-forward",
             "rows": [["Sharpe", 0.8123], ["max drawdown", -0.1234], ["trades", 412],
                      ["final equity", 12345.678], ["profit factor", None]]},
            {"title": "Validation", "window": "validation",
             "rows": [["Sharpe (selected)", 2.1], ["Brier before", 0.2512],
                      ["Brier after", 0.2401]]},
        ],
    }


@functools.cache
def full_page() -> str:
    """The report of `full_data()`, rendered once per test process (it takes about a second)."""
    return render_report(full_data())


def figure_html(page: str, name: str) -> str:
    """The `<figure id="plot-NAME">` element's markup."""
    match = re.search(rf'<figure id="plot-{name}">(.*?)</figure>', page, flags=re.S)
    assert match, f"no figure plot-{name}"
    return match.group(1)
