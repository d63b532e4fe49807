"""Step 3 `regime-split`: train / validation / test windows with purge and embargo gaps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.data.gaps import gap_flags, gaps_in
    from ares_cli.ml.features.regimes import agreement_by_window
    from ares_cli.ml.features.splits import split_bars

    table, summary = split_bars(inputs["regimes"], cfg.split)
    if summary["fallback_regimes"]:
        env.log(f"regimes below {cfg.split.min_regime_rows} training bars: "
                f"{summary['fallback_regimes']} (step 5 decides on labelled rows)")
    gap = gap_flags(inputs["bars"])
    for name in ("train", "validation"):  # outages each window holds (the test window's are
        span = summary["windows"][name]   # counted by walk-forward, per fold)
        span["data_gaps"] = gaps_in(gap, span["start_index"], span["end_index"])
    metrics = {
        "data": {"windows": summary["windows"], "purge_embargo_bars": summary["gap_bars"],
                 "fallback_regimes": summary["fallback_regimes"]},
        "train": {"regime_bars": summary["counts"]["train"]},
        "validation": {"regime_bars": summary["counts"]["validation"]},
    }
    if "true_regimes" in inputs:  # a synthetic market: how well the causal labels track truth
        for window, agreement in agreement_by_window(table, inputs["true_regimes"]).items():
            metrics[window].update(agreement)
    return StepResult(
        {"splits": Artifact.table(table), "split_summary": Artifact.json(summary)}, metrics
    )


STEP = Step(
    number=3,
    name="regime-split",
    summary="chronological train/validation/test windows with purge + embargo",
    inputs=("regimes", "bars"),
    optional_inputs=("true_regimes",),
    outputs=("splits", "split_summary"),
    config=("split",),
    run=run,
)
