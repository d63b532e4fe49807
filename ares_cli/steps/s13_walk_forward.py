"""Step 13 `walk-forward`: steps 4 to 12 re-run per fold on its own past; test spans traded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config import Config
    from ares_cli.config_view import ConfigView

REPLAYED = range(4, 13)  # the steps every fold re-runs


def _replayed_code() -> None:
    """The folds run these steps through the pipeline (by registry lookup, which code digests
    do not follow): importing them here puts their code, and what they import, in this step's
    digest, so an edit to any of them re-runs walk-forward."""
    from ares_cli.steps import (  # noqa: F401
        s04_analyst_features,
        s05_analyst_train,
        s06_analyst_enhance,
        s07_analyst_ensemble,
        s08_tactician_label,
        s09_tactician_train,
        s10_tactician_ensemble,
        s11_calibrate,
        s12_optimize,
    )


def config_keys(config: Config) -> tuple[str, ...]:
    """What the folds read: every key of the steps they re-run, the regimes (re-fitted per
    fold), the windows' gaps, and the walk-forward and compute sections."""
    from ares_cli.steps import BY_NUMBER

    keys = {"regimes", "split", "bars", "walk_forward", "compute"}
    for number in REPLAYED:
        keys.update(BY_NUMBER[number].config_keys(config))
    return tuple(sorted(keys))


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    import numpy as np
    import polars as pl

    from ares_cli.errors import DataError
    from ares_cli.folds import run_folds
    from ares_cli.ml.evaluation.walk_forward import parameter_stability, plan_folds
    from ares_cli.ml.trading.backtest import metrics as bt_metrics
    from ares_cli.util.jsonutil import json_safe

    config = cfg.as_config()
    splits = inputs["splits"]
    bars = inputs["bars"]
    test_start = int(splits.filter(pl.col("window") == "test")["bar_index"].min())
    gap = cfg.split.purge_bars + cfg.split.embargo_bars
    try:
        folds = plan_folds(bars.height, test_start, cfg.walk_forward, gap)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    env.progress(0.02, f"{len(folds)} folds ({cfg.walk_forward.scheme}) on "
                 f"{cfg.compute.backend} workers")
    results = run_folds(folds, bars, inputs["bars_fine"], config, exchange=env.exchange,
                        symbol=env.symbol, state_key=env.state_key, progress=env.progress)
    returns = pl.concat([r.returns for r in results]).sort("bar_index")
    returns = returns.with_columns(equity=(1 + pl.col("ret")).cum_prod(),
                                   benchmark_equity=(1 + pl.col("benchmark_ret")).cum_prod())
    trades = pl.concat([r.trades for r in results], how="vertical_relaxed")
    bars_per_year = float(results[0].params["bars_per_year"])
    r = returns["ret"].to_numpy()
    # metrics() reads only the trades' pnl here (no fine bars: exposure is set from positions)
    stitched = bt_metrics(r, np.cumprod(1 + r), {"pnl": trades["pnl"].to_numpy()},
                          bars_per_year)
    bench = returns["benchmark_ret"].to_numpy()
    stitched_bench = bt_metrics(bench, np.cumprod(1 + bench), {"pnl": np.zeros(0)},
                                bars_per_year)
    stitched["exposure"] = float(np.mean(returns["position"].to_numpy() != 0))
    per_fold = []
    for res in results:
        f = res.fold
        rules = res.metrics["rules"]
        per_fold.append({
            **f.to_dict(),
            "test_start": str(res.returns["timestamp"][0]),
            "test_end": str(res.returns["timestamp"][-1]),
            "sharpe": rules["sharpe"], "max_drawdown": rules["max_drawdown"],
            "total_return": rules["total_return"], "trades": rules["trades"],
            "buy_and_hold_sharpe": res.metrics["buy_and_hold"]["sharpe"],
            "buy_and_hold_return": res.metrics["buy_and_hold"]["total_return"],
            "validation_sharpe_selected": res.validation["sharpe"],
            "trials": res.trials, "chosen_trial": res.params["trial"],
        })
    stability = parameter_stability([{**(res.params["policy"] or {}),
                                      "flat": res.params["policy"] is None} for res in results])
    warnings = [f"walk-forward fold {res.fold.number} stayed flat on its test span: "
                f"{res.params['why']}" for res in results if res.params["policy"] is None]
    trials = int(sum(res.trials for res in results))
    metrics = {
        "data": {"folds": [f.to_dict() for f in folds], "scheme": cfg.walk_forward.scheme,
                 "folds_setting": (cfg.walk_forward.folds or
                                   f"auto: as many as fit, up to "
                                   f"{cfg.walk_forward.max_auto_folds}"),
                 "backend": cfg.compute.backend, "bars_per_year": bars_per_year},
        "walk_forward": {
            "folds": per_fold, "sharpe": stitched["sharpe"],
            "max_drawdown": stitched["max_drawdown"],
            "total_return": stitched["total_return"], "trades": stitched["trades"],
            "metrics": stitched, "buy_and_hold": stitched_bench, "trials": trials,
            "parameter_stability": stability,
        },
    }
    folds_json = {"folds": [{**res.fold.to_dict(), "params": res.params,
                             "metrics": res.metrics, "validation_selected": res.validation,
                             "trials": res.trials, "choices": res.choices}
                            for res in results],
                  "stability": stability, "trials": trials}
    summary = (f"out of sample over {len(folds)} folds ({returns.height} bars): Sharpe "
               f"{stitched['sharpe']:.2f}, max drawdown {stitched['max_drawdown']:.1%}, "
               f"return {stitched['total_return']:+.2%}, {stitched['trades']} trades; "
               f"buy-and-hold Sharpe {stitched_bench['sharpe']:.2f} (intervals: step 14)")
    outputs = {"walk_forward": Artifact.table(returns),
               "walk_forward_folds": Artifact.json(folds_json)}
    if trades.height:  # none when every fold stayed flat or found nothing to take
        outputs["walk_forward_trades"] = Artifact.table(trades)
    return StepResult(outputs, json_safe(metrics), warnings=warnings, summary=summary)


STEP = Step(
    number=13,
    name="walk-forward",
    summary="steps 4-12 re-run per fold on its own past; test spans traded and stitched",
    inputs=("bars", "bars_fine", "splits"),
    outputs=("walk_forward", "walk_forward_folds"),
    optional_outputs=("walk_forward_trades",),
    config=config_keys,
    libraries=("xgboost-cpu", "scikit-learn", "optuna", "numba"),
    run=run,
)
