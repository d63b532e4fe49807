"""Step 15 `ab-test`: the walk-forward challenger against the baselines and the champion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView

DAY_MS = 24 * 3600 * 1000


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    import polars as pl

    from ares_cli.errors import DataError
    from ares_cli.ml.evaluation.ab_test import (
        compare,
        describe,
        momentum_returns,
        regime_rule_returns,
    )
    from ares_cli.ml.evaluation.monte_carlo import judge_record
    from ares_cli.ml.trading.optimize import buy_and_hold
    from ares_cli.ml.trading.windows import window_bars, window_market
    from ares_cli.util.jsonutil import json_safe

    index = window_bars(inputs["splits"], "test")
    wf = inputs["walk_forward"].filter(pl.col("bar_index").is_in(index.tolist()))
    wf = wf.sort("bar_index")
    if wf["bar_index"].to_list() != index.tolist():
        raise DataError("the walk-forward record does not cover the test window bar for bar "
                        "(walk_forward.test_bars must tile it); re-run walk-forward")
    params = inputs["params"]
    fee, slip, bpy = params["fee"], params["slippage"], float(params["bars_per_year"])
    market = window_market(inputs["bars"], inputs["bars_fine"], index, cfg.bars.base_ms)
    lookback = cfg.ab_test.momentum_bars
    if index[0] < lookback:
        raise DataError(f"the momentum baseline needs {lookback} bars before the test window "
                        "(ab_test.momentum_bars)")
    closes = inputs["bars"]["close"].to_numpy()[index[0] - lookback: index[-1] + 1]
    labels = inputs["bars"].select("timestamp").join(
        inputs["regimes"].select("timestamp", "regime"), on="timestamp", how="left",
        maintain_order="left")["regime"]
    opponents = {
        "buy_and_hold": buy_and_hold(market, fee=fee, slippage=slip, bars_per_year=bpy).returns,
        "momentum": momentum_returns(market, closes, lookback=lookback, fee=fee, slippage=slip,
                                     bars_per_year=bpy),
        "regime_rule": regime_rule_returns(market, labels.gather(index).to_list(), fee=fee,
                                           slippage=slip, bars_per_year=bpy),
    }
    kinds = dict.fromkeys(opponents, "baseline")
    if "champion_bundle" in inputs:  # the promoted run's models and rules on these bars
        from ares_cli.data.bars import bar_length_ms
        from ares_cli.serve.scoring import score_bundle

        env.progress(0.1, "scoring the champion bundle on the test window")
        opponents["champion"] = score_bundle(
            inputs["champion_bundle"], inputs["bars"], inputs["bars_fine"],
            index, base_ms=cfg.bars.base_ms,
            fine_ms=bar_length_ms(inputs["bars_fine"], cfg.bars.fine_ms))
        kinds["champion"] = "champion"
        source = ("baselines, and the promoted champion's bundle (its features, models, "
                  "calibrators and rules) scored on these bars")
    else:
        source = "baselines only: the pair has no promoted champion"
    # step 14's verdict, re-judged with the looks at these test bars counted now
    looks = int((inputs.get("looks") or {"looks": 1})["looks"])
    verdict, why = judge_record(inputs["monte_carlo"], looks)
    env.progress(0.2, "paired block bootstrap of the Sharpe differences")
    m = compare(wf["ret"].to_numpy(), opponents, kinds=kinds, bars_per_year=bpy,
                periods_per_day=DAY_MS / cfg.bars.base_ms, cfg=cfg.ab_test, seed=cfg.data.seed,
                edge_verdict=verdict)
    m.update(opponents_source=source, looks=looks, edge_verdict_reason=why)
    summary = describe(m)
    warnings = [summary] if m["decision"] == "keep" else []
    return StepResult({"ab_test": Artifact.json(json_safe(m))}, json_safe({"test": m}),
                      warnings=warnings, summary=summary)


STEP = Step(
    number=15,
    name="ab-test",
    summary="challenger vs baselines and the champion on the test window: paired bootstrap",
    inputs=("walk_forward", "monte_carlo", "splits", "bars", "bars_fine", "params", "regimes"),
    external_inputs=("champion_bundle", "looks"),
    outputs=("ab_test",),
    config=("ab_test", "bars", "data.seed"),
    run=run,
)
