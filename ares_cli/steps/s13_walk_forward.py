"""Step 13 `walk-forward`: steps 4 to 12 re-run per fold on its own past; test spans traded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult, tables_with_rows
from ares_cli.steps.s04_analyst_features import STEP as ANALYST_FEATURES
from ares_cli.steps.s05_analyst_train import STEP as ANALYST_TRAIN
from ares_cli.steps.s06_analyst_enhance import STEP as ANALYST_ENHANCE
from ares_cli.steps.s07_analyst_ensemble import STEP as ANALYST_ENSEMBLE
from ares_cli.steps.s08_tactician_label import STEP as TACTICIAN_LABEL
from ares_cli.steps.s09_tactician_train import STEP as TACTICIAN_TRAIN
from ares_cli.steps.s10_tactician_ensemble import STEP as TACTICIAN_ENSEMBLE
from ares_cli.steps.s11_calibrate import STEP as CALIBRATE
from ares_cli.steps.s12_optimize import STEP as OPTIMIZE

if TYPE_CHECKING:
    from ares_cli.config import Config
    from ares_cli.config_view import ConfigView
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold

# The steps every fold re-runs, imported from their own modules (not the registry): their code,
# and what it imports, is part of this step's digest, so an edit to any of them re-runs
# walk-forward, and nothing else of the registry is.
REPLAYED: tuple[Step, ...] = (
    ANALYST_FEATURES, ANALYST_TRAIN, ANALYST_ENHANCE, ANALYST_ENSEMBLE, TACTICIAN_LABEL,
    TACTICIAN_TRAIN, TACTICIAN_ENSEMBLE, CALIBRATE, OPTIMIZE,
)


def config_keys(config: Config) -> tuple[str, ...]:
    """What the folds read: every key of the steps they re-run, the regimes (re-fitted per
    fold), the windows' gaps, and the walk-forward section. Not `[compute]`: where the folds
    run is a resource (`StepEnv.compute`), so it is no part of the action key."""
    keys = {"regimes", "split", "bars", "walk_forward"}
    for step in REPLAYED:
        keys.update(step.config_keys(config))
    return tuple(sorted(keys))


def _plan(inputs: Mapping[str, Any], cfg: ConfigView) -> list[Fold]:
    import polars as pl

    from ares_cli.errors import DataError
    from ares_cli.ml.evaluation.walk_forward import plan_folds

    splits = inputs["splits"]
    test_start = int(splits.filter(pl.col("window") == "test")["bar_index"].min())
    gap = cfg.split.purge_bars + cfg.split.embargo_bars
    try:
        return plan_folds(inputs["bars"].height, test_start, cfg.walk_forward, gap)
    except ValueError as exc:
        raise DataError(str(exc)) from None


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.folds import run_folds, stitch
    from ares_cli.util.jsonutil import json_safe

    config = cfg.as_config()
    bars = inputs["bars"]
    folds = _plan(inputs, cfg)
    env.progress(0.02, f"{len(folds)} folds ({cfg.walk_forward.scheme}) on "
                 f"{env.compute.backend if env.compute else 'local'} workers")
    results = run_folds(folds, bars, inputs["bars_fine"], config, REPLAYED,
                        exchange=env.exchange, symbol=env.symbol, compute=env.compute,
                        state_key=env.state_key, progress=env.progress)
    record = stitch(results)
    returns, stitched = record.returns, record.metrics
    warnings = [f"walk-forward fold {res.fold.number} stayed flat on its test span: "
                f"{res.params['why']}" for res in results if res.params["policy"] is None]
    metrics = {
        "data": {"folds": [f.to_dict() for f in folds], "scheme": cfg.walk_forward.scheme,
                 "folds_setting": (cfg.walk_forward.folds or
                                   f"auto: as many as fit, up to "
                                   f"{cfg.walk_forward.max_auto_folds}"),
                 "bars_per_year": record.bars_per_year},
        "walk_forward": {
            "folds": record.per_fold, "sharpe": stitched["sharpe"],
            "max_drawdown": stitched["max_drawdown"],
            "total_return": stitched["total_return"], "trades": stitched["trades"],
            "metrics": stitched, "buy_and_hold": record.buy_and_hold, "trials": record.trials,
            "parameter_stability": record.stability,
        },
    }
    summary = (f"out of sample over {len(folds)} folds ({returns.height} bars): Sharpe "
               f"{stitched['sharpe']:.2f}, max drawdown {stitched['max_drawdown']:.1%}, "
               f"return {stitched['total_return']:+.2%}, {stitched['trades']} trades; "
               f"buy-and-hold Sharpe {record.buy_and_hold['sharpe']:.2f} (intervals: step 14)")
    # no trades table when every fold stayed flat or found nothing to take
    trades = tables_with_rows(walk_forward_trades=record.trades)
    return StepResult({"walk_forward": Artifact.table(returns),
                       "walk_forward_folds": Artifact.json(record.folds_json), **trades},
                      json_safe(metrics), warnings=warnings, summary=summary)


def start_early(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> bool:
    """Begin the folds in the background as soon as the bars and splits exist: they need
    nothing of steps 4-12's outputs, and those steps leave a core idle. `run` takes them."""
    from ares_cli.errors import AresError
    from ares_cli.folds import start_folds_early

    try:
        folds = _plan(inputs, cfg)
    except AresError:
        return False  # the step says so itself when it runs
    return start_folds_early(folds, inputs["bars"], inputs["bars_fine"], cfg.as_config(),
                             REPLAYED, exchange=env.exchange, symbol=env.symbol,
                             compute=env.compute, state_key=env.state_key)


def _warm_workers(compute: ComputeConfig) -> None:
    from ares_cli.folds import warm_workers

    warm_workers(compute)


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
    prepare=_warm_workers,
    start_early=start_early,
)
