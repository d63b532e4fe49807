"""Step 12 `optimize`: the trading rules chosen on the validation window (NSGA-II, two goals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult, tables_with_rows

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView

FLAT_SPREAD = 0.01  # a model whose probabilities span less than this learned nothing


def _learned_nothing(frame: Any) -> list[str]:
    """A warning, by name, for a model whose calibrated probabilities over the validation
    proposals are (nearly) one value: its threshold cannot tell one proposal from another."""
    import numpy as np

    proposal = frame.side != 0
    out = []
    for name, values in (("analyst", frame.p_up[proposal]), ("tactician", frame.p_take[proposal])):
        values = values[np.isfinite(values)]
        if values.size > 1 and np.ptp(values) < FLAT_SPREAD:
            out.append(f"the {name} learned nothing: its calibrated probability over the "
                       f"{values.size} validation proposals spans only {values.min():.4f} to "
                       f"{values.max():.4f}" + (" (the search may turn it off: use_tactician)"
                                                 if name == "tactician" else ""))
    return out


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:

    from ares_cli.data.bars import bar_length_ms
    from ares_cli.ml.trading.engine import YEAR_MS
    from ares_cli.ml.trading.optimize import Problem, Thresholds, rule_choice, search
    from ares_cli.ml.trading.windows import window_bars, window_market, window_signals
    from ares_cli.util.fsutil import safe_name
    from ares_cli.util.jsonutil import json_safe

    opt = cfg.optimize
    base_ms = cfg.bars.base_ms
    fine_ms = bar_length_ms(inputs["bars_fine"], cfg.bars.fine_ms)
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
    # Thresholds are searched as quantiles of the probabilities the rules will meet: those of
    # the final models on this window (predictions only, no outcome). The training window's
    # out-of-fold probabilities have another spread and centre (measured on a random walk:
    # |P(up) - centre| up to 0.042 there, 0.012 here), so quantiles of them blocked every
    # proposal; the test window is scored by the same final models as this one.
    thresholds = Thresholds.of(frame)
    max_delay = min(opt.entry_delay_max, max(0, base_ms // fine_ms - 1))
    problem = Problem(market, frame, opt, YEAR_MS / base_ms, max_delay, fee=cfg.costs.fee,
                      slippage=cfg.costs.slippage, thresholds=thresholds, workers=env.workers,
                      hold_anchor=cfg.labels.horizon)
    result = search(problem, seed=cfg.data.seed, work_dir=env.work_dir, progress=env.progress,
                    study_name=(f"ares-{safe_name(env.exchange)}-{safe_name(env.symbol)}-"
                                f"optimize-{env.state_key[:16]}"))
    enhanced = inputs["analyst_models_enhanced"].table
    step6 = int(enhanced.get("configurations_tried") or enhanced.get("trials_total") or 0)
    choice = rule_choice(problem, result, index, trials_before=step6)

    notes = list(result.notes)
    if env.workers > 1:
        notes.append(f"{env.workers} workers: which points NSGA-II proposes depends on the "
                     "order trials finish in, so this result is not reproducible bit for bit; "
                     "one worker is")
    trials = choice.data["trials"]
    metrics = {
        "data": {**choice.data, "notes": notes},
        "validation": {**choice.validation,
                       "note": ("selected on these validation bars among "
                                f"{trials} trials: optimistic by construction; step 13 "
                                "walk-forward gives the out-of-sample figures")},
    }
    warnings = [] if result.chosen is not None else [f"no edge to trade: {result.why}"]
    warnings += _learned_nothing(frame)
    near = result.neighbours
    if near.get("fragile"):
        warnings.append(f"optimize: the chosen rule is fragile: its {near['count']} neighbours' "
                        f"median validation Sharpe {near['median_sharpe']:.2f} is below half its "
                        f"own {near['chosen_sharpe']:.2f}")
    hold = choice.validation["baselines"]["buy_and_hold"]["sharpe"]
    if result.chosen is None:
        summary = f"{result.why}; buy-and-hold Sharpe {hold:.2f}"
    else:
        chosen = choice.validation["chosen"]
        deflated = ("" if chosen.get("dsr") is None else
                    f", deflated over the {chosen['dsr_trials']} trials: DSR "
                    f"{chosen['dsr']:.2f} (PSR {chosen['psr']:.2f})")
        summary = (f"chosen trial {result.chosen} of {trials} ({result.why}): "
                   f"validation Sharpe {chosen['sharpe']:.2f}, max drawdown "
                   f"{chosen['max_drawdown']:.1%}, {chosen['trades']} trades{deflated} — "
                   "selected on validation, optimistic (step 13 gives out-of-sample); "
                   f"buy-and-hold Sharpe {hold:.2f}")
    outputs = {
        "params": Artifact.json(choice.params),
        "trials": Artifact.table(choice.trials),
        "trial_returns": Artifact.table(choice.returns),
        # none when no trial was feasible (the rule is then to stay flat)
        **tables_with_rows(pareto=choice.pareto, validation_trades=choice.trades),
    }
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
    config=("optimize", "costs", "bars", "data.seed", "labels.horizon"),
    libraries=("optuna", "numba"),
    run=run,
)
