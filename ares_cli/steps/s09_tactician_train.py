"""Step 9 `tactician-train`: take/skip models (bagged boosters and a linear baseline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.stats.edge_intervals import describe
    from ares_cli.ml.tactician.models import train_tactician

    env.progress(0.05, "purged CV of the tactician members")
    models, frame, inner, metrics = train_tactician(
        inputs["tactician_dataset"], cfg.tactician_model, embargo=cfg.split.embargo_bars,
        seed=cfg.data.seed)
    edges = metrics["train_cv"]["per_member"]
    best = min(edges, key=lambda m: edges[m]["logloss"])
    summary = (f"{metrics['data']['train_proposals']} training proposals; best of "
               f"{len(edges)} members out of fold (chosen on these folds, optimistic): {best}, "
               f"{describe(edges[best]['edge'])}")
    return StepResult({"tactician_models": Artifact.modelset(models),
                       "tactician_predictions": Artifact.table(frame),
                       "tactician_inner": Artifact.table(inner)}, metrics, summary=summary)


STEP = Step(
    number=9,
    name="tactician-train",
    summary="tactician take/skip models: bagged purged-CV boosters and a linear baseline",
    inputs=("tactician_dataset",),
    outputs=("tactician_models", "tactician_predictions", "tactician_inner"),
    config=("tactician_model", "split.embargo_bars", "data.seed"),
    libraries=("xgboost-cpu", "scikit-learn"),
    run=run,
)
