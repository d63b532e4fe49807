"""The report's sentences for sections with nothing to show, from the run's own records."""

from __future__ import annotations

import polars as pl

from ares_cli.report.gather import _empty_sections


def _fold(number: int, policy: dict | None, trades: int, why: str = "") -> dict:
    return {"fold": number, "params": {"policy": policy, "why": why},
            "metrics": {"rules": {"trades": trades},
                        "gates": {"proposals": 9, "analyst margin": 9, "passed": 0}}}


def test_each_empty_section_gets_the_runs_own_reason():
    folds = {"folds": [_fold(1, None, 0, "flat rule: the rule picked lost"),
                       _fold(2, {"k_stop": 1}, 0)]}
    trials = pl.DataFrame({"feasible": [False, False, True]})
    params = {"trial": None, "why": "minimum trades: no trial traded 12 times"}
    mc = {"verdict": "not tested", "verdict_reason": "0 out-of-sample trade(s)"}
    ab = {"per_opponent": {"buy_and_hold": {"ci95": None, "note": "no interval and no p: the "
                                            "challenger never traded on these bars"}}}
    out = _empty_sections(folds, params, mc, ab, trials)
    assert out["equity"].startswith("no walk-forward trade")
    assert "fold 1 stayed flat: flat rule" in out["equity"]
    assert "fold 2: 0 trade(s) from 9 test proposals; the gates stopped analyst margin 9" in (
        out["equity"])
    assert out["pareto"] == ("3 trials, 1 feasible; the rule chosen is to stay flat: minimum "
                             "trades: no trial traded 12 times")
    assert out["monte_carlo"] == "not tested: 0 out-of-sample trade(s)"
    assert out["ab_test"].startswith("against buy_and_hold: no interval and no p")
    traded = {"folds": [_fold(1, {"k_stop": 1}, 4)]}
    assert _empty_sections(traded, {"trial": 3}, {"verdict": "no edge"}, {}, trials) == {}
