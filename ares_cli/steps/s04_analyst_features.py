"""Step 4 `analyst-features`: causal features and triple-barrier labels with end times t1."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.features.dataset import build_dataset

    env.progress(0.2, "features and labels")
    dataset, metrics = build_dataset(inputs["bars"], inputs["bars_fine"], inputs["regimes"],
                                     inputs["splits"], cfg.features, cfg.labels, cfg.bars)
    warnings = [f"analyst-features: {metrics['data']['note']}"] if "note" in metrics["data"] else []
    return StepResult({"analyst_dataset": Artifact.table(dataset)}, metrics, warnings)


STEP = Step(
    number=4,
    name="analyst-features",
    summary="causal features on the full series; triple-barrier labels with end times t1",
    inputs=("bars", "bars_fine", "regimes", "splits"),
    outputs=("analyst_dataset",),
    config=("features", "labels", "bars"),
    run=run,
)
