"""Steps 14 `monte-carlo` and 15 `ab-test` on the SMALL market, and `ares promote`."""

from __future__ import annotations

import pytest

from ares_cli.steps.s15_ab_test import STEP as AB_TEST

pytestmark = pytest.mark.slow


def test_monte_carlo_metrics_carry_the_names_and_a_verdict_in_words(small_pipeline) -> None:
    step = small_pipeline.steps[14]
    m = step.metrics["walk_forward"]
    for key in ("sharpe_ci", "max_drawdown_ci", "p_loss", "permutation_p", "psr", "dsr",
                "pbo", "looks", "min_trades", "verdict_reason", "per_regime"):
        assert key in m, key
    assert m["verdict"] in ("edge", "no edge", "not tested")
    assert m["looks"] == 1  # in memory: the only look
    assert step.summary.startswith(m["verdict"] + " out of sample (1 look at these test bars)")
    if m["verdict"] != "edge":
        assert step.warnings == [step.summary]


def test_ab_test_metrics_carry_the_names_and_a_decision(small_pipeline) -> None:
    step = small_pipeline.steps[15]
    m = step.metrics["test"]
    for key in ("decision", "strongest", "sharpe_diff", "ci95", "p_value", "shadow_days",
                "per_opponent", "edge_verdict"):
        assert key in m, key
    assert m["decision"] in ("promote", "keep")
    assert set(m["per_opponent"]) == {"buy_and_hold", "momentum", "regime_rule"}
    assert {v["kind"] for v in m["per_opponent"].values()} == {"baseline"}
    splits = small_pipeline.catalog["splits"]
    assert m["bars"] == splits.filter(splits["window"] == "test").height


def test_a_promoted_bundle_is_the_champion_scored_on_the_same_bars(small_pipeline,
                                                                   small_config) -> None:
    """With a champion bundle (here: this run's own, as if promoted earlier) step 15 scores its
    models and rules on the test window in addition to the baselines."""
    from ares_cli.pipeline import run_steps

    catalog = dict(small_pipeline.catalog)
    catalog["champion_bundle"] = small_pipeline.catalog["bundle"]
    m = run_steps([AB_TEST], catalog, small_config).steps[15].metrics["test"]
    assert set(m["per_opponent"]) == {"buy_and_hold", "momentum", "regime_rule", "champion"}
    assert m["per_opponent"]["champion"]["kind"] == "champion"
    assert "bundle" in m["opponents_source"]
    baseline = small_pipeline.steps[15].metrics["test"]
    assert set(baseline["per_opponent"]) == {"buy_and_hold", "momentum", "regime_rule"}
    assert "no promoted champion" in baseline["opponents_source"]


def test_save_writes_a_bundle_with_every_model_and_a_report(small_pipeline) -> None:
    bundle = small_pipeline.catalog["bundle"]
    table = bundle.table
    assert table["format"] == "ares-bundle/1"
    assert set(table["models"]) == set(bundle.models)
    assert any(n.startswith("analyst-") for n in bundle.models)
    assert any(n.startswith("tactician-") for n in bundle.models)
    assert {"features", "proposal_thresholds", "analyst_features"} <= set(table["spec"])
    assert table["params"] == small_pipeline.catalog["params"]
    html = small_pipeline.catalog["report"].decode()
    assert html.startswith("<!DOCTYPE html>")
    assert small_pipeline.steps[16].summary in html or "out of sample" in html


# MLflow is logged after the run, not by step 16: tests/commands/test_mlflow_post.py.


def test_the_live_decision_equals_the_batch_scoring_and_ignores_later_bars(small_pipeline,
                                                                            small_config):
    """`ares signal` on data cut at bar i decides what step 15's batch scoring of the bundle
    decides for bar i with the whole history present: the live path is causal and the same.
    (Mutation: the batch scoring reading each bar's next-bar features fails this.)"""
    from datetime import timedelta

    import numpy as np
    import polars as pl

    from ares_cli.serve.scoring import bundle_signals, decide

    cat = small_pipeline.catalog
    bundle, bars, fine = cat["bundle"], cat["bars"], cat["bars_fine"]
    base_ms = small_config.bars.base_ms
    test = cat["splits"].filter(pl.col("window") == "test")["bar_index"].to_numpy()
    batch = bundle_signals(bundle, bars, fine, test, base_ms=base_ms, fine_ms=60_000)
    proposals = np.flatnonzero(batch.side != 0)
    picks = [int(test[proposals[0]])] if proposals.size else []
    picks.append(int(test[len(test) // 2]))
    for i in picks:
        end = bars["timestamp"][i] + timedelta(milliseconds=base_ms)
        live = decide(bundle, bars.head(i + 1), fine.filter(pl.col("timestamp") < end),
                      base_ms=base_ms, fine_ms=60_000)
        k = int(np.flatnonzero(test == i)[0])
        assert live["analyst_p_up"] == pytest.approx(batch.p_up[k], abs=1e-12)
        assert {"long": 1, "short": -1, "none": 0}[live["proposal"]] == batch.side[k]
        if batch.side[k]:
            assert live["tactician_p_take_shipped"] == pytest.approx(batch.p_take[k],
                                                                     abs=1e-12)
        # the bundle's own regime thresholds: the history's start does not change the decision
        later_start = decide(bundle, bars.slice(400, i + 1 - 400),
                             fine.filter((pl.col("timestamp") < end)
                                         & (pl.col("timestamp") >= bars["timestamp"][400])),
                             base_ms=base_ms, fine_ms=60_000)
        assert later_start["analyst_p_up"] == pytest.approx(live["analyst_p_up"], abs=1e-12)
        assert later_start["regime"] == live["regime"]


def test_feature_contributions_add_up_to_the_analysts_log_odds(small_pipeline) -> None:
    """Through the stacker, the per-feature contributions plus the context terms move exactly
    as the analyst's log-odds do from bar to bar (the member biases are one constant).
    (Mutation: one member's contributions without its stacker weight fails this.)"""
    import numpy as np
    import polars as pl

    from ares_cli.ml.analyst.contributions import analyst_contributions
    from ares_cli.ml.analyst.specialists import SCORE_FEATURES
    from ares_cli.ml.models.ensemble import StackedEnsemble
    from ares_cli.ml.models.members import MemberTable, member_predictions

    cat = small_pipeline.catalog
    models, ensemble = cat["analyst_models_enhanced"], cat["analyst_ensemble_model"]
    if ensemble.get("method") != "stacked":
        pytest.skip("the gated ensemble's contributions are an approximation")
    table = MemberTable.from_dict(models.table)
    rows = cat["analyst_dataset"].filter(pl.col("window") == "validation").head(60)
    x = rows.select(table.features).to_numpy().astype(np.float64)
    scores = rows.select(SCORE_FEATURES).to_numpy().astype(np.float64)
    scores /= scores.sum(axis=1, keepdims=True)
    contribs = analyst_contributions(table, dict(models.models), ensemble, x, scores)
    stacker = StackedEnsemble.from_dict(ensemble["stacker"])
    log_odds = stacker.decision_function(
        member_predictions(x, table, dict(models.models), ensemble["members"]), scores)
    coef = dict(zip(ensemble["stacker"]["features"], ensemble["stacker"]["coef"], strict=True))
    context = scores @ np.array([coef[f"score_{r}"] for r in
                                 ("bull", "bear", "sideways", "volatile")])
    gap = contribs.sum(axis=1) + context - log_odds
    assert np.ptp(gap) < 1e-5
