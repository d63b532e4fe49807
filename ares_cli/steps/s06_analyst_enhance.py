"""Step 6 `analyst-enhance`: Optuna tuning and feature selection per specialist."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.ml.analyst import MEMBERS
from ares_cli.ml.regimes import REGIMES
from ares_cli.steps.base import Step, StepContext, StepResult
from ares_cli.steps.s05_analyst_train import MODEL_OUTPUT, load_member_models

ENHANCED_OUTPUT = "analyst_enhanced_{}"


def run(ctx: StepContext) -> StepResult:
    from ares_cli.ml.analyst_pipeline import enhance_analyst
    from ares_cli.store import safe_name

    table = ctx.load("analyst_models")
    models = load_member_models(ctx, table, MODEL_OUTPUT)
    enhanced, enhanced_models, metrics = enhance_analyst(
        ctx.load("analyst_dataset"), table, models, ctx.config.enhance, seed=ctx.seed,
        study_name=f"ares-{safe_name(ctx.options.exchange)}-{safe_name(ctx.options.symbol)}",
        study_key=ctx.action_key[:16], progress=ctx.progress,
    )
    outputs = {"analyst_models_enhanced": Artifact.json(enhanced)}
    outputs.update({ENHANCED_OUTPUT.format(m.lower()): Artifact.xgboost(b)
                    for m, b in enhanced_models.items()})
    accepted = [m for m, v in metrics["per_member"].items() if v["accepted"]]
    summary = (f"enhanced: {', '.join(accepted) or 'none'} of {len(enhanced_models)}; "
               f"{metrics['trials_total']} trials")
    return StepResult(outputs, metrics, summary=summary)


STEP = Step(
    number=6,
    name="analyst-enhance",
    summary="Optuna tuning + feature selection per specialist; kept only if CV improves",
    inputs=("analyst_dataset", "analyst_models"),
    optional_inputs=tuple(MODEL_OUTPUT.format(m.lower()) for m in MEMBERS),
    outputs=("analyst_models_enhanced", ENHANCED_OUTPUT.format("global")),
    optional_outputs=tuple(ENHANCED_OUTPUT.format(r.lower()) for r in REGIMES),
    config_keys=("enhance", "data.seed"),
    version=1,
    run=run,
)
