"""Step 15 `ab-test`: the walk-forward challenger against champions on the test window."""

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
    from ares_cli.ml.evaluation.ab_test import compare, describe, momentum_returns
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
        raise DataError(f"the momentum champion needs {lookback} bars before the test window "
                        "(ab_test.momentum_bars)")
    closes = inputs["bars"]["close"].to_numpy()[index[0] - lookback: index[-1] + 1]
    if "champion_bundle" in inputs:  # the promoted run's models and rules on these bars
        from ares_cli.data.bars import bar_length_ms
        from ares_cli.serve.scoring import score_bundle

        env.progress(0.1, "scoring the champion bundle on the test window")
        champions = {"champion": score_bundle(
            inputs["champion_bundle"], inputs["bars"], inputs["bars_fine"],
            index, base_ms=cfg.bars.base_ms,
            fine_ms=bar_length_ms(inputs["bars_fine"], cfg.bars.fine_ms))}
        source = ("the promoted champion's bundle (its features, models, calibrators and "
                  "rules) scored on these bars")
    else:
        champions = {
            "buy_and_hold": buy_and_hold(market, fee=fee, slippage=slip,
                                         bars_per_year=bpy).returns,
            "momentum": momentum_returns(market, closes, lookback=lookback, fee=fee,
                                         slippage=slip, bars_per_year=bpy),
        }
        source = "no promoted bundle for the pair: buy-and-hold and a momentum rule"
    env.progress(0.2, "paired block bootstrap of the Sharpe differences")
    m = compare(wf["ret"].to_numpy(), champions, bars_per_year=bpy,
                periods_per_day=DAY_MS / cfg.bars.base_ms, cfg=cfg.ab_test, seed=cfg.data.seed,
                edge_verdict=inputs["monte_carlo"]["verdict"])
    m["champion_source"] = source
    summary = describe(m)
    warnings = [summary] if m["decision"] == "keep" else []
    return StepResult({"ab_test": Artifact.json(json_safe(m))}, json_safe({"test": m}),
                      warnings=warnings, summary=summary)


STEP = Step(
    number=15,
    name="ab-test",
    summary="challenger vs champions on the test window: paired bootstrap, decision, shadow plan",
    inputs=("walk_forward", "monte_carlo", "splits", "bars", "bars_fine", "params"),
    external_inputs=("champion_bundle",),
    outputs=("ab_test",),
    config=("ab_test", "bars", "data.seed"),
    run=run,
)
