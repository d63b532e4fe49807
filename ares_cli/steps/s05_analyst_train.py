"""Step 5 `analyst-train`: one XGBoost direction specialist per regime plus a global model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.analyst.specialists import train_analyst

    env.progress(0.05, "purged CV per regime")
    models, metrics = train_analyst(
        inputs["analyst_dataset"], cfg.analyst, embargo=cfg.split.embargo_bars,
        seed=cfg.data.seed, min_rows=cfg.split.min_regime_rows,
    )
    fallback = metrics["data"]["fallback_regimes"]
    summary = ("global model serves " + "; ".join(f"{r} ({why})" for r, why in fallback.items())
               if fallback else "every regime has its own specialist")
    return StepResult({"analyst_models": Artifact.modelset(models)}, metrics, summary=summary)


STEP = Step(
    number=5,
    name="analyst-train",
    summary="one XGBoost specialist per regime (+ global fallback), purged CV",
    inputs=("analyst_dataset",),
    outputs=("analyst_models",),
    config=("analyst", "split.embargo_bars", "split.min_regime_rows", "data.seed"),
    libraries=("xgboost-cpu", "scikit-learn"),
    run=run,
)
