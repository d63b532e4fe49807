"""Step 11 `calibrate`: analyst and tactician probabilities calibrated on out-of-fold data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.models.calibration import calibrate_probabilities
    from ares_cli.util.jsonutil import json_safe

    outputs, calibrators = {}, {}
    metrics: dict[str, Any] = {"data": {}, "train_cv": {}, "validation": {}}
    for name, source, column in (("analyst", "analyst_ensemble", "p_up"),
                                 ("tactician", "tactician_ensemble", "p_take")):
        env.progress(0.1 if name == "analyst" else 0.6, f"calibrating the {name}")
        table, calibrator, train_cv, validation = calibrate_probabilities(
            inputs[source], column, cfg=cfg.calibration, embargo=cfg.split.embargo_bars,
            seed=cfg.data.seed, name=name)
        outputs[f"calibrated_{name}"] = Artifact.table(table)
        calibrators[name] = calibrator
        metrics["data"][name] = {"method": calibrator["method"]}
        metrics["train_cv"][name] = train_cv
        metrics["validation"][name] = validation
    outputs["calibrators"] = Artifact.json(calibrators)
    # the before/after figures and reliability tables, for the report (step 16)
    outputs["calibration_report"] = Artifact.json(json_safe(metrics))
    parts, warnings = [], []
    for name in ("analyst", "tactician"):
        v = metrics["validation"][name]
        if v.get("rows"):
            method = calibrators[name]["method"]
            parts.append(f"{name} {method}: validation ECE "
                         f"{v['ece_before']:.3f} -> {v['ece_after']:.3f}, Brier "
                         f"{v['brier_before']:.4f} -> {v['brier_after']:.4f}")
            if v["brier_after"] > v["brier_before"]:
                warnings.append(
                    f"calibrate: the {name}'s {method} calibrator (chosen by purged-CV Brier on "
                    f"the training window) worsens its validation Brier from "
                    f"{v['brier_before']:.4f} to {v['brier_after']:.4f}")
    return StepResult(outputs, json_safe(metrics), warnings, summary="; ".join(parts))


STEP = Step(
    number=11,
    name="calibrate",
    summary="isotonic / sigmoid calibration on out-of-fold data; Brier, ECE, reliability",
    inputs=("analyst_ensemble", "tactician_ensemble"),
    outputs=("calibrated_analyst", "calibrated_tactician", "calibrators", "calibration_report"),
    config=("calibration", "split.embargo_bars", "data.seed"),
    libraries=("scikit-learn",),
    run=run,
)
