"""Steps 14 `monte-carlo` and 15 `ab-test` on the SMALL market, and `ares promote`."""

from __future__ import annotations

import pytest

# slow; and in one xdist group, so only one worker builds the SMALL pipeline
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(name="small_pipeline")]


def test_monte_carlo_metrics_carry_the_names_and_a_verdict_in_words(small_pipeline) -> None:
    step = small_pipeline.steps[14]
    m = step.metrics["walk_forward"]
    for key in ("sharpe_ci95", "max_drawdown_ci95", "p_loss", "permutation_p", "psr", "dsr",
                "pbo", "trials"):
        assert key in m, key
    assert m["verdict"] in ("edge", "no edge")
    wf_trials = small_pipeline.catalog["walk_forward_folds"]["trials"]
    assert m["trials"] == small_pipeline.catalog["params"]["trials_search_total"] + wf_trials
    assert step.summary.startswith(m["verdict"] + " out of sample: permutation p = ")
    if m["verdict"] == "no edge":
        assert step.warnings == [step.summary]


def test_ab_test_metrics_carry_the_names_and_a_decision(small_pipeline) -> None:
    step = small_pipeline.steps[15]
    m = step.metrics["test"]
    for key in ("decision", "champion", "sharpe_diff", "ci95", "p_value", "shadow_days"):
        assert key in m, key
    assert m["decision"] in ("promote", "keep")
    assert m["champion"] in ("buy_and_hold", "momentum")
    splits = small_pipeline.catalog["splits"]
    assert m["bars"] == splits.filter(splits["window"] == "test").height
