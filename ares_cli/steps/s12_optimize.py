"""Step 12 `optimize`: the trading rules chosen on the validation window (NSGA-II, two goals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView

YEAR_MS = 365 * 24 * 3600 * 1000


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.data.bars import bar_length_ms
    from ares_cli.ml.trading.optimize import (
        Problem,
        baselines,
        policy_from_params,
        search,
        trial_tables,
    )
    from ares_cli.ml.trading.windows import window_bars, window_market, window_signals
    from ares_cli.util.fsutil import safe_name
    from ares_cli.util.jsonutil import json_safe

    opt = cfg.optimize
    base_ms = cfg.bars.base_ms
    fine_ms = bar_length_ms(inputs["bars_fine"], cfg.bars.fine_ms)
    bars_per_year = YEAR_MS / base_ms
    index = window_bars(inputs["splits"], "validation")
    env.progress(0.02, "validation market and signals")
    market = window_market(inputs["bars"], inputs["bars_fine"], index, base_ms)
    members = tuple(inputs["tactician_models"].table["members"])
    frame = window_signals(
        index, bars=inputs["bars"], splits=inputs["splits"],
        calibrated_analyst=inputs["calibrated_analyst"],
        calibrated_tactician=inputs["calibrated_tactician"],
        tactician_predictions=inputs["tactician_predictions"],
        member_names=members if opt.search_member_weights else (),
        tactician_calibrator=inputs["calibrators"]["tactician"], atr_window=opt.atr_window)
    max_delay = min(opt.entry_delay_max, max(0, base_ms // fine_ms - 1))
    problem = Problem(market, frame, opt, bars_per_year, max_delay, workers=env.workers)
    result = search(problem, seed=cfg.data.seed, work_dir=env.work_dir, progress=env.progress,
                    study_name=(f"ares-{safe_name(env.exchange)}-{safe_name(env.symbol)}-"
                                f"optimize-{env.state_key[:16]}"))
    enhanced = inputs["analyst_models_enhanced"].table
    step6 = int(enhanced.get("configurations_tried") or enhanced.get("trials_total") or 0)
    fee, slip = opt.fee_bps / 1e4, opt.slippage_bps / 1e4
    chosen = result.chosen_backtest.metrics()
    base = baselines(market, fee=fee, slippage=slip, bars_per_year=bars_per_year)
    trials, pareto, returns = trial_tables(result, index)
    chosen_policy = None
    warnings = []
    if result.chosen is not None:
        trial = next(t for t in result.trials if t["number"] == result.chosen)
        chosen_policy = policy_from_params(trial["params"], frame.member_names).to_dict()
    else:
        warnings.append(f"no edge to trade: {result.why}")
    params = {
        "policy": chosen_policy,
        "fee": fee, "slippage": slip, "atr_window": opt.atr_window,
        "bars_per_year": bars_per_year, "member_names": list(frame.member_names),
        "trial": result.chosen, "why": result.why,
        "trials": len(result.trials), "trials_step6": step6,
        "trials_search_total": step6 + len(result.trials),
        "validation_metrics": {k: chosen[k] for k in ("sharpe", "max_drawdown", "total_return",
                                                       "trades")},
    }
    metrics = {
        "data": {"trials": len(result.trials), "pareto_size": len(result.front),
                 "feasible": int(sum(t["feasible"] for t in result.trials)),
                 "min_trades": opt.min_trades, "trials_step6": step6,
                 "trials_search_total": step6 + len(result.trials),
                 "chosen_trial": result.chosen, "pick": result.why,
                 "bars_per_year": bars_per_year, "workers": env.workers,
                 "notes": result.notes + (
                     [f"{env.workers} workers: which points NSGA-II proposes depends on the "
                      "order trials finish in, so this result is not reproducible bit for bit; "
                      "one worker is"] if env.workers > 1 else [])},
        "validation": {
            "chosen": chosen, "baselines": base, "bars": int(index.size),
            "note": ("selected on these validation bars among "
                     f"{len(result.trials)} trials: optimistic by construction; step 13 "
                     "walk-forward gives the out-of-sample figures"),
        },
    }
    if result.chosen is None:
        summary = f"{result.why}; buy-and-hold Sharpe {base['buy_and_hold']['sharpe']:.2f}"
    else:
        summary = (f"chosen trial {result.chosen} of {len(result.trials)} ({result.why}): "
                   f"validation Sharpe {chosen['sharpe']:.2f}, max drawdown "
                   f"{chosen['max_drawdown']:.1%}, {chosen['trades']} trades — selected on "
                   "validation, optimistic (step 13 gives out-of-sample); buy-and-hold Sharpe "
                   f"{base['buy_and_hold']['sharpe']:.2f}")
    outputs = {
        "params": Artifact.json(params),
        "trials": Artifact.table(trials),
        "trial_returns": Artifact.table(returns),
    }
    # Both are empty when no trial was feasible (the rule is then to stay flat).
    if pareto.height:
        outputs["pareto"] = Artifact.table(pareto)
    if result.chosen_backtest.n_trades:
        outputs["validation_trades"] = Artifact.table(
            result.chosen_backtest.trade_table(market))
    return StepResult(outputs, json_safe(metrics), warnings=warnings, summary=summary)


STEP = Step(
    number=12,
    name="optimize",
    summary="multi-objective (NSGA-II) trading rules on the validation window",
    inputs=("bars", "bars_fine", "splits", "calibrated_analyst", "calibrated_tactician",
            "tactician_predictions", "tactician_models", "calibrators",
            "analyst_models_enhanced"),
    outputs=("params", "trials", "trial_returns"),
    optional_outputs=("pareto", "validation_trades"),
    config=("optimize", "bars", "data.seed"),
    libraries=("optuna", "numba"),
    run=run,
)
