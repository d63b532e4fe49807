"""Step 10 `tactician-ensemble`: the tactician members combined by their out-of-fold gains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.stats.edge_intervals import describe
    from ares_cli.ml.tactician.ensemble import combine_tactician

    members = inputs["tactician_models"].table["members"]
    frame, model, metrics = combine_tactician(
        inputs["tactician_predictions"], inputs["tactician_inner"], members, seed=cfg.data.seed)
    validation = metrics["validation"]
    summary = f"{validation['verdict']} on validation: {describe(validation['edge'])}"
    warnings = [] if validation["verdict"] == "edge" else [f"{STEP.name}: {summary}"]
    return StepResult({"tactician_ensemble": Artifact.table(frame),
                       "tactician_ensemble_model": Artifact.json(model)}, metrics, warnings,
                      summary=summary)


STEP = Step(
    number=10,
    name="tactician-ensemble",
    summary="tactician members weighted by their out-of-fold gain, nested",
    inputs=("tactician_predictions", "tactician_inner", "tactician_models"),
    outputs=("tactician_ensemble", "tactician_ensemble_model"),
    config=("data.seed",),
    libraries=("scikit-learn",),
    run=run,
)
