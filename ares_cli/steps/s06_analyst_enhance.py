"""Step 6 `analyst-enhance`: Optuna tuning and feature selection per specialist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.analyst.specialists import enhance_analyst
    from ares_cli.util.fsutil import safe_name

    models, metrics = enhance_analyst(
        inputs["analyst_dataset"], inputs["analyst_models"], cfg.enhance, seed=cfg.data.seed,
        study_name=f"ares-{safe_name(env.exchange)}-{safe_name(env.symbol)}",
        study_key=env.state_key[:16], progress=env.progress, workers=env.workers,
        work_dir=env.work_dir,
    )
    per_member = metrics["train_cv"]["per_member"]
    accepted = [m for m, v in per_member.items() if v["accepted"]]
    constant = [m for m, v in per_member.items() if v["baseline_constant"]]
    summary = (f"enhanced: {', '.join(accepted) or 'none'} of {len(per_member)}; "
               f"{metrics['data']['trials_total']} trials")
    if constant:
        summary += f"; untuned {', '.join(constant)} predicted one value (learned nothing)"
    return StepResult({"analyst_models_enhanced": Artifact.modelset(models)}, metrics,
                      summary=summary)


STEP = Step(
    number=6,
    name="analyst-enhance",
    summary="Optuna tuning + feature selection per specialist; kept only if CV improves",
    inputs=("analyst_dataset", "analyst_models"),
    outputs=("analyst_models_enhanced",),
    config=("enhance", "data.seed"),
    libraries=("xgboost-cpu", "scikit-learn", "optuna"),
    run=run,
)
