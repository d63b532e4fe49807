"""Step 5 `analyst-train`: one XGBoost direction specialist per regime plus a global model."""

from __future__ import annotations

from ares_cli.artifacts import Artifact
from ares_cli.ml.regimes import REGIMES
from ares_cli.steps.base import Step, StepContext, StepResult

MODEL_OUTPUT = "analyst_model_{}"


def load_member_models(ctx: StepContext, table: dict, pattern: str) -> dict[str, bytes]:
    """The model bytes of every member that has its own model (fallbacks share GLOBAL's)."""
    return {
        name: ctx.load(pattern.format(name.lower()))
        for name, member in table["members"].items() if not member["fallback"]
    }


def run(ctx: StepContext) -> StepResult:
    from ares_cli.ml.analyst_pipeline import train_analyst

    ctx.progress(0.05, "purged CV per regime")
    table, models, metrics = train_analyst(
        ctx.load("analyst_dataset"), ctx.config.analyst,
        embargo=ctx.config.split.embargo_bars, seed=ctx.seed,
        min_rows=ctx.config.split.min_regime_rows,
    )
    outputs = {"analyst_models": Artifact.json(table)}
    outputs.update({MODEL_OUTPUT.format(m.lower()): Artifact.xgboost(b) for m, b in models.items()})
    fallback = metrics["fallback_regimes"]
    summary = ("global model serves " + "; ".join(f"{r} ({why})" for r, why in fallback.items())
               if fallback else "every regime has its own specialist")
    return StepResult(outputs, metrics, summary=summary)


STEP = Step(
    number=5,
    name="analyst-train",
    summary="one XGBoost specialist per regime (+ global fallback), purged CV",
    inputs=("analyst_dataset",),
    outputs=("analyst_models", MODEL_OUTPUT.format("global")),
    optional_outputs=tuple(MODEL_OUTPUT.format(r.lower()) for r in REGIMES),
    config_keys=("analyst", "split.embargo_bars", "split.min_regime_rows", "data.seed"),
    version=1,
    run=run,
)
