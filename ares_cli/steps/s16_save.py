"""Step 16 `save`: the deployable bundle and the self-contained HTML report. (MLflow logging
is a post-run hook, `commands/mlflow_post.py`: nothing about it enters this step's key.)"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView

# The config the features, labels, regimes and trades were built with: a bundle's spec.
SPEC_SECTIONS = ("bars", "features", "labels", "regimes", "tactician", "optimize", "costs")


def _digest(artifact: Artifact) -> str:
    from ares_cli.artifacts import encode

    return hashlib.sha256(encode(artifact)[0]).hexdigest()


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    from ares_cli.ml.analyst.contributions import regime_contributions
    from ares_cli.ml.models.members import MemberTable
    from ares_cli.ml.tactician.dataset import proposal_thresholds
    from ares_cli.report.gather import report_data, verdict
    from ares_cli.report.page import render_report
    from ares_cli.serve.bundle import build_bundle
    from ares_cli.util.jsonutil import json_safe

    analyst = inputs["analyst_models_enhanced"]
    spec = {name: getattr(cfg, name).model_dump(mode="json") for name in SPEC_SECTIONS}
    spec["analyst_features"] = list(analyst.table["features"])
    upper, lower = proposal_thresholds(inputs["analyst_ensemble"], cfg.tactician)
    spec["proposal_thresholds"] = {"long_at_or_above": upper, "short_at_or_below": lower}
    parts = {name: _digest(Artifact(kind, inputs[name])) for name, kind in (
        ("analyst_models_enhanced", "modelset"), ("analyst_ensemble_model", "json"),
        ("tactician_models", "modelset"), ("tactician_ensemble_model", "json"),
        ("calibrators", "json"), ("params", "json"), ("regime_model", "json"))}
    env.progress(0.1, "bundle")
    bundle = build_bundle(
        exchange=env.exchange, symbol=env.symbol, spec=spec, analyst=analyst,
        analyst_ensemble=inputs["analyst_ensemble_model"], tactician=inputs["tactician_models"],
        tactician_ensemble=inputs["tactician_ensemble_model"],
        calibrators=inputs["calibrators"], params=inputs["params"],
        regime_model=inputs["regime_model"], parts=parts)
    env.progress(0.3, "feature contributions (pred_contribs) per regime")
    contributions = regime_contributions(inputs["analyst_dataset"],
                                         MemberTable.from_dict(analyst.table),
                                         dict(analyst.models), inputs["analyst_ensemble_model"])
    env.progress(0.5, "report")
    wf = inputs["walk_forward"]
    data_end = wf["timestamp"].max().isoformat()  # not a clock: the report is reproducible
    data = report_data(
        exchange=env.exchange, symbol=env.symbol, key=f"action key {env.state_key[:12]}",
        bars=inputs["bars"], splits=inputs["splits"], walk_forward=wf,
        walk_forward_folds=inputs["walk_forward_folds"],
        calibration=inputs["calibration_report"], trials=inputs["trials"],
        params=inputs["params"], monte_carlo=inputs["monte_carlo"],
        ab_test=inputs["ab_test"], contributions=contributions, data_end=data_end)
    html = render_report(json_safe(data))
    head = verdict(inputs["monte_carlo"], inputs["ab_test"])
    metrics = {
        "data": {"bundle_models": len(bundle.models), "report_bytes": len(html.encode()),
                 "verdict": head["headline"]},
        "validation": {"contributions": contributions},
    }
    return StepResult({"bundle": Artifact.modelset(bundle),
                       "report": Artifact("bytes", html.encode())},
                      json_safe(metrics), summary=head["headline"])


STEP = Step(
    number=16,
    name="save",
    summary="deployable bundle and self-contained HTML report",
    inputs=("analyst_dataset", "analyst_ensemble", "analyst_models_enhanced",
            "analyst_ensemble_model",
            "tactician_models", "tactician_ensemble_model", "calibrators", "params",
            "regime_model", "bars", "splits", "walk_forward", "walk_forward_folds",
            "calibration_report", "trials", "monte_carlo", "ab_test"),
    outputs=("bundle", "report"),
    config=SPEC_SECTIONS,  # MLflow logs after the run (commands/mlflow_post.py), keyed by nothing
    libraries=("xgboost-cpu", "matplotlib"),
    run=run,
)
