"""Step 4 `analyst-features`: causal features and triple-barrier labels with end times t1."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepContext, StepResult


def run(ctx: StepContext) -> StepResult:
    from ares_cli.config import timeframe_ms
    from ares_cli.errors import DataError
    from ares_cli.ml.dataset import DatasetSpec, build_dataset

    bars, fine = ctx.load("bars"), ctx.load("bars_fine")
    fine_ms = timeframe_ms(ctx.config.bars.fine)
    fine_steps = fine["timestamp"].dt.epoch("ms").diff().drop_nulls()
    if fine_steps.len():
        fine_ms = int(fine_steps.min())  # candle-only input may carry a coarser fine series
    spec = DatasetSpec(ctx.config.features, ctx.config.labels,
                       timeframe_ms(ctx.config.bars.base), fine_ms)
    ctx.progress(0.2, "features and labels")
    dataset, metrics = build_dataset(bars, fine, ctx.load("regimes"), ctx.load("splits"), spec)
    for window in ("train", "validation"):
        if metrics["windows"][window]["labelled"] == 0:
            raise DataError(
                f"no labelled rows in the {window} window: it is shorter than the warm-up plus "
                "the label horizon, or every label timed out (labels.vertical = 'drop'); "
                "collect more data, widen split fractions or narrow the barriers"
            )
    return StepResult({"analyst_dataset": Artifact.table(dataset)}, metrics)


STEP = Step(
    number=4,
    name="analyst-features",
    summary="causal features on the full series; triple-barrier labels with end times t1",
    inputs=("bars", "bars_fine", "regimes", "splits"),
    outputs=("analyst_dataset",),
    config_keys=("features", "labels", "bars"),
    version=1,
    run=run,
)
