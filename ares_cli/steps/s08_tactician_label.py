"""Step 8 `tactician-label`: the analyst's proposed trades, meta-labelled on the fine path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.data.bars import bar_length_ms
    from ares_cli.ml.tactician.dataset import build_tactician_dataset

    fine = inputs["bars_fine"]
    env.progress(0.1, "proposed trades and their meta-labels")
    frame, metrics = build_tactician_dataset(
        inputs["analyst_ensemble"], inputs["bars"], fine, inputs["regimes"], inputs["splits"],
        cfg.tactician, base_ms=cfg.bars.base_ms, fine_ms=bar_length_ms(fine, cfg.bars.fine_ms),
        cost_per_side=cfg.costs.per_side,
    )
    train = metrics["train"]
    summary = (f"{metrics['data']['events']['train']} training proposals, {train['labelled']} "
               f"labelled, {train['paid_share']:.0%} paid after costs")
    return StepResult({"tactician_dataset": Artifact.table(frame)}, metrics, summary=summary)


STEP = Step(
    number=8,
    name="tactician-label",
    summary="meta-labels: would the analyst's proposed trade have paid, on the fine path",
    inputs=("analyst_ensemble", "bars", "bars_fine", "regimes", "splits"),
    outputs=("tactician_dataset",),
    config=("tactician", "costs", "bars"),
    run=run,
)
