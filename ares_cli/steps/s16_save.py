"""Step 16 `save`: the deployable bundle and the self-contained HTML report."""

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
    warnings = []
    if cfg.mlflow.enabled:
        env.progress(0.9, f"logging to MLflow at {cfg.mlflow.tracking_uri}")
        run_id, warning = _log_to_mlflow(cfg, env, bundle, html, inputs)
        metrics["data"]["mlflow_run_id"] = run_id
        if warning:
            warnings.append(warning)
    return StepResult({"bundle": Artifact.modelset(bundle),
                       "report": Artifact("bytes", html.encode())},
                      json_safe(metrics), warnings=warnings, summary=head["headline"])


def _log_to_mlflow(cfg: ConfigView, env: StepEnv, bundle: Any, html: str,
                   inputs: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Parameters (the chosen rules and the spec), key metrics under their windows, the report
    and the bundle; `mlflow.required` decides between failing (exit 4) and a run warning."""
    import tempfile
    from pathlib import Path

    from ares_cli.report.mlflow_log import try_log

    mc, ab = inputs["monte_carlo"], inputs["ab_test"]
    chosen = inputs["params"].get("validation_metrics") or {}
    metrics = {**{f"walk_forward.{k}": mc.get(k) for k in
                  ("sharpe", "max_drawdown", "final_return", "p_loss", "permutation_p", "psr",
                   "dsr", "pbo", "looks", "permutation_p_adjusted")},
               **{f"test.{k}": ab.get(k) for k in ("sharpe_diff", "p_value", "shadow_days")},
               **{f"validation.chosen.{k}": v for k, v in chosen.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        report, packed = Path(tmp) / "report.html", Path(tmp) / "bundle.zip"
        report.write_text(html)
        packed.write_bytes(bundle.to_bytes())
        return try_log(cfg.mlflow, run_name=f"{env.exchange}-{env.symbol}-{env.state_key[:12]}",
                       params={"policy": inputs["params"].get("policy"),
                               "spec": bundle.table["spec"]},
                       metrics=metrics, artifacts={"report.html": report,
                                                   "bundle/bundle.zip": packed},
                       tags={"exchange": env.exchange, "symbol": env.symbol,
                             "verdict": mc.get("verdict", ""),
                             "decision": ab.get("decision", ""),
                             "action_key": env.state_key})


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
    config=(*SPEC_SECTIONS, "mlflow"),
    libraries=("xgboost-cpu", "matplotlib"),
    run=run,
)
