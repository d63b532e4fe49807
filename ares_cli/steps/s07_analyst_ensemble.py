"""Step 7 `analyst-ensemble`: specialists and the global model combined into one probability."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.ml.analyst import MEMBERS
from ares_cli.steps.base import Step, StepContext, StepResult
from ares_cli.steps.s05_analyst_train import load_member_models
from ares_cli.steps.s06_analyst_enhance import ENHANCED_OUTPUT


def run(ctx: StepContext) -> StepResult:
    from ares_cli.ml.analyst_pipeline import ensemble_analyst

    table = ctx.load("analyst_models_enhanced")
    models = load_member_models(ctx, table, ENHANCED_OUTPUT)
    ctx.progress(0.05, "out-of-fold member predictions")
    frame, model, metrics = ensemble_analyst(
        ctx.load("analyst_dataset"), table, models, ctx.config.ensemble,
        n_splits=ctx.config.analyst.n_splits, embargo=ctx.config.split.embargo_bars,
        seed=ctx.seed,
    )
    validation = metrics["validation"]
    ens, prior = validation["ensemble"], validation["class_prior"]
    auc = "n/a" if ens["auc"] is None else f"{ens['auc']:.3f}"
    summary = (f"validation log-loss {ens['log_loss']:.4f} vs prior {prior['log_loss']:.4f}, "
               f"AUC {auc}")
    return StepResult(
        {"analyst_ensemble": Artifact.table(frame), "analyst_ensemble_model": Artifact.json(model)},
        metrics, summary=summary,
    )


STEP = Step(
    number=7,
    name="analyst-ensemble",
    summary="combine specialists (stacked / regime-gated) into one analyst probability",
    inputs=("analyst_dataset", "analyst_models_enhanced"),
    optional_inputs=tuple(ENHANCED_OUTPUT.format(m.lower()) for m in MEMBERS),
    outputs=("analyst_ensemble", "analyst_ensemble_model"),
    config_keys=("ensemble", "analyst.n_splits", "split.embargo_bars", "data.seed"),
    version=1,
    run=run,
)
