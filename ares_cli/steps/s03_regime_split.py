"""Step 3 `regime-split`: train / validation / test windows with purge and embargo gaps."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    from ares_cli.errors import DataError
    from ares_cli.ml.splits import assign, plan_windows, summarise

    cfg = ctx.config.split
    regimes = ctx.load("regimes")
    try:
        plan = plan_windows(regimes.height, cfg.train, cfg.validation, cfg.purge_bars,
                            cfg.embargo_bars, min_window=cfg.purge_bars + cfg.embargo_bars + 1)
    except ValueError as exc:
        raise DataError(f"cannot split {regimes.height} base bars: {exc}") from None
    table = assign(regimes["timestamp"], regimes["regime"], plan)
    summary = summarise(table, plan, cfg.min_regime_rows)
    if summary["fallback_regimes"]:
        ctx.log(f"regimes below {cfg.min_regime_rows} training bars: "
                f"{summary['fallback_regimes']} (step 5 decides on labelled rows)")
    return StepResult(
        {"splits": Artifact.table(table), "split_summary": Artifact.json(summary)},
        metrics={"windows": summary["windows"], "counts": summary["counts"],
                 "fallback_regimes": summary["fallback_regimes"]},
    )


STEP = Step(
    number=3,
    name="regime-split",
    summary="chronological train/validation/test windows with purge + embargo",
    inputs=("regimes",),
    outputs=("splits", "split_summary"),
    config_keys=("split",),
    version=1,
    run=run,
)
