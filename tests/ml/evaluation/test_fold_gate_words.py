"""Why a fold traded little (step 14's "not tested" reason, the report's sentence), in the
shared gate names (step 12's flat rule, or the test span's proposals and what each gate
stopped)."""

from __future__ import annotations

from ares_cli.ml.evaluation.walk_forward import fold_gate_words
from ares_cli.ml.trading.policy import GATES


def _fold(policy: dict | None, gates: dict | None, trades: int, why: str = "") -> dict:
    metrics = {"rules": {"trades": trades}}
    if gates is not None:
        metrics["gates"] = gates
    return {"fold": 2, "params": {"policy": policy, "why": why}, "metrics": metrics}


def test_a_flat_fold_says_which_step_12_gate_kept_it_flat() -> None:
    words = fold_gate_words(_fold(None, {"proposals": 40}, 0, "flat rule: the rule picked ..."))
    assert words == "fold 2 stayed flat: flat rule: the rule picked ..."


def test_a_fold_that_traded_little_names_each_gate_with_its_count() -> None:
    gates = {"proposals": 61, "analyst margin": 30, "tactician threshold": 20,
             "regime switch": 6, "passed": 5}
    words = fold_gate_words(_fold({"k_stop": 1.0}, gates, 5))
    assert words.startswith("fold 2: 5 trade(s) from 61 test proposals")
    assert "analyst margin 30, tactician threshold 20, regime switch 6" in words
    assert "5 passed" in words
    assert all(g in GATES for g in ("analyst margin", "tactician threshold", "regime switch"))
    none = fold_gate_words(_fold({"k_stop": 1.0}, {"proposals": 0, "passed": 0}, 0))
    assert none == "fold 2: no proposal on its test span"
