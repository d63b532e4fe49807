"""Step 7 `analyst-ensemble`: specialists and the global model combined into one probability."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.analyst.specialists import ensemble_analyst
    from ares_cli.ml.features.causal import lookback
    from ares_cli.ml.stats.edge_intervals import describe

    env.progress(0.05, "out-of-fold member predictions")
    frame, model, metrics = ensemble_analyst(
        inputs["analyst_dataset"], inputs["analyst_models_enhanced"], cfg.ensemble,
        n_splits=cfg.analyst.n_splits, embargo=cfg.split.embargo_bars, seed=cfg.data.seed,
        horizon=cfg.labels.horizon, lookback=lookback(cfg.features),
    )
    validation = metrics["validation"]
    summary = (f"{validation['verdict']} on validation: "
               f"{describe(validation['edge']['log_loss'])}, {describe(validation['edge']['auc'])}")
    warnings = [] if validation["verdict"] == "edge" else [f"{STEP.name}: {summary}"]
    return StepResult(
        {"analyst_ensemble": Artifact.table(frame), "analyst_ensemble_model": Artifact.json(model)},
        metrics, warnings, summary=summary,
    )


STEP = Step(
    number=7,
    name="analyst-ensemble",
    summary="combine specialists (stacked / regime-gated) into one analyst probability",
    inputs=("analyst_dataset", "analyst_models_enhanced"),
    outputs=("analyst_ensemble", "analyst_ensemble_model"),
    config=("ensemble", "analyst.n_splits", "split.embargo_bars", "data.seed", "labels.horizon",
            "features"),
    libraries=("xgboost-cpu", "scikit-learn"),
    run=run,
)
