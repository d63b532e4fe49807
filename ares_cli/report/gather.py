"""The report's content (step 16): every figure and table of `report.html`, from step outputs.

Each number carries the window it was measured on; the verdict at the top is step 14's on the
walk-forward record and step 15's decision, in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

__all__ = ["report_data", "verdict"]


def _iso(series: pl.Series) -> list[str]:
    return [t.isoformat() for t in series.to_list()]


def verdict(monte_carlo: Mapping[str, Any], ab_test: Mapping[str, Any]) -> dict[str, Any]:
    """The headline: the out-of-sample verdict in its three words, and the A/B decision."""
    from ares_cli.ml.evaluation.ab_test import describe as describe_ab
    from ares_cli.ml.evaluation.monte_carlo import MonteCarloConfig
    from ares_cli.ml.evaluation.monte_carlo import describe as describe_mc

    word = monte_carlo.get("verdict") or "not tested"
    edge = word == "edge"
    keep = ("keep the champion" if "champion" in (ab_test.get("per_opponent") or {})
            else "keep the baselines")
    act = "promote this run" if ab_test.get("decision") == "promote" else keep
    looks = monte_carlo.get("looks") or 1
    head = (f"{word[0].upper()}{word[1:]} out of sample — {act}. These test bars have been "
            f"looked at {looks} time{'s' if looks != 1 else ''} in this store.")
    alpha = monte_carlo.get("alpha")
    if alpha is not None and alpha != MonteCarloConfig.model_fields["alpha"].default:
        head += f" The test's level is monte_carlo.alpha = {alpha:g}, not the default."
    return {"headline": head, "edge": edge,
            "details": [describe_mc(dict(monte_carlo)), describe_ab(dict(ab_test))]}


def _windows(splits: pl.DataFrame) -> dict[str, list[str]]:
    out = {}
    for name in ("train", "validation", "test"):
        part = splits.filter(pl.col("window") == name)
        if part.height:
            out[name] = [part["timestamp"].min().isoformat(), part["timestamp"].max().isoformat()]
    return out


def _reliability(report: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for model in ("analyst", "tactician"):
        v = report.get("validation", {}).get(model) or {}
        if v.get("reliability_before"):
            out[model] = {"before": v["reliability_before"], "after": v["reliability_after"]}
    return out


def _tables(params: Mapping[str, Any], wf: Mapping[str, Any], mc: Mapping[str, Any],
            ab: Mapping[str, Any], calibration: Mapping[str, Any]) -> list[dict[str, Any]]:
    def fmt(v: Any, spec: str | None = None) -> Any:
        """Percentages and signs formatted here; plain numbers passed on for the renderer to
        show with four significant digits (so 0.9997 is not rounded to 1)."""
        if v is None:
            return "n/a"
        if isinstance(v, list):
            return "[" + ", ".join(str(fmt(x, spec or ".3g")) for x in v) + "]"
        if isinstance(v, int | float) and not isinstance(v, bool):
            return format(v, spec) if spec else v
        return str(v)

    tables = [{
        "title": "Out of sample (stitched walk-forward test spans)", "window": "walk_forward",
        "rows": [["Sharpe (annualised)", fmt(mc.get("sharpe"), ".2f")],
                 [f"Sharpe {fmt(mc.get('sharpe_ci_level'), '.0%')} interval",
                  fmt(mc.get("sharpe_ci"), ".2f")],
                 ["max drawdown", fmt(mc.get("max_drawdown"), ".2%")],
                 ["max drawdown interval", fmt(mc.get("max_drawdown_ci"), ".2%")],
                 ["final return", fmt(mc.get("final_return"), ".2%")],
                 ["P(loss)", fmt(mc.get("p_loss"), ".1%")],
                 ["trades", fmt(mc.get("trades"), "d")],
                 ["trades a verdict needs", fmt(mc.get("min_trades"), "d")],
                 ["random-entry permutation p", fmt(mc.get("permutation_p"))],
                 ["looks at these test bars (K)", fmt(mc.get("looks"), "d")],
                 ["permutation p x K", fmt(mc.get("permutation_p_adjusted"))],
                 ["alpha", fmt(mc.get("alpha"))],
                 ["verdict", mc.get("verdict")],
                 ["why", mc.get("verdict_reason")],
                 ["probabilistic Sharpe (vs 0)", fmt(mc.get("psr"))],
                 ["deflated Sharpe over the looks", fmt(mc.get("dsr"))],
                 ["PBO (step 12 trials)", fmt(mc.get("pbo"), ".2f")],
                 ["folds", fmt(len(wf.get("folds", [])), "d")]]}]
    tables.append({
        "title": "Challenger against baselines and champion (test window, the holdout)",
        "window": "test",
        "rows": [["decision", ab.get("decision")],
                 ["strongest opponent", f"{ab.get('strongest')} ({ab.get('strongest_kind')})"],
                 ["Sharpe difference (annualised)", fmt(ab.get("sharpe_diff"), "+.2f")],
                 ["interval", fmt(ab.get("ci95"), "+.2f")], ["p-value", fmt(ab.get("p_value"))],
                 ["shadow-trading days to confirm", fmt(ab.get("shadow_days"), ".0f")]]})
    validation = params.get("validation_metrics") or {}
    tables.append({
        "title": "Chosen rules (selected on validation: optimistic)", "window": "validation",
        "rows": [["trial", fmt(params.get("trial"))], ["pick", params.get("why")],
                 ["trials (steps 6 + 12)", fmt(params.get("trials_search_total"), "d")],
                 *[[k, fmt(v, ".2f")] for k, v in validation.items()]]})
    rows = []
    for model in ("analyst", "tactician"):
        v = calibration.get("validation", {}).get(model) or {}
        method = calibration.get("data", {}).get(model, {}).get("method")
        if v.get("rows"):
            rows += [[f"{model}: method", method],
                     [f"{model}: ECE before / after",
                      f"{v['ece_before']:.3f} / {v['ece_after']:.3f}"],
                     [f"{model}: Brier before / after",
                      f"{v['brier_before']:.4f} / {v['brier_after']:.4f}"]]
    tables.append({"title": "Calibration", "window": "validation", "rows": rows})
    return tables


def _empty_sections(folds: Mapping[str, Any], params: Mapping[str, Any],
                    monte_carlo: Mapping[str, Any], ab_test: Mapping[str, Any],
                    trials: pl.DataFrame) -> dict[str, str]:
    """Why a section shows nothing: no walk-forward trade (each fold's gates), no feasible
    trial (step 12's reason), no Monte Carlo (not tested), no interval against an opponent."""
    from ares_cli.ml.evaluation.walk_forward import fold_gate_words

    out: dict[str, str] = {}
    records = list(folds.get("folds", []))
    if records and not sum(f["metrics"]["rules"]["trades"] for f in records):
        out["equity"] = ("no walk-forward trade, so the strategy's equity is a flat line: "
                         + "; ".join(fold_gate_words(f) for f in records))
    if params.get("trial") is None:
        feasible = int(trials["feasible"].sum()) if "feasible" in trials.columns else 0
        out["pareto"] = (f"{trials.height} trials, {feasible} feasible; the rule chosen is to "
                         f"stay flat: {params.get('why')}")
    if monte_carlo.get("verdict") == "not tested":
        out["monte_carlo"] = f"not tested: {monte_carlo.get('verdict_reason')}"
    notes = [f"against {name}: {v['note']}" for name, v in
             (ab_test.get("per_opponent") or {}).items() if v.get("ci95") is None and v.get("note")]
    if notes:
        out["ab_test"] = "; ".join(notes)
    return out


def report_data(*, exchange: str, symbol: str, key: str, bars: pl.DataFrame,
                splits: pl.DataFrame, walk_forward: pl.DataFrame,
                walk_forward_folds: Mapping[str, Any], calibration: Mapping[str, Any],
                trials: pl.DataFrame, params: Mapping[str, Any],
                monte_carlo: Mapping[str, Any], ab_test: Mapping[str, Any],
                contributions: Mapping[str, Any], data_end: str) -> dict[str, Any]:
    """The dict `report.page.render_report` draws (its keys are documented there)."""
    frame = bars.select("timestamp", "close").with_row_index("bar_index").join(
        splits.select(pl.col("bar_index").cast(pl.UInt32), "regime"), on="bar_index",
        how="left")
    equity = walk_forward.sort("bar_index")
    folds = []
    for f in walk_forward_folds.get("folds", []):
        part = equity.filter(pl.col("fold") == f["fold"])
        if part.height:
            folds.append({"fold": f["fold"], "start": part["timestamp"][0].isoformat(),
                          "end": part["timestamp"][-1].isoformat()})
    dist = monte_carlo.get("distributions") or {}
    per = ab_test.get("per_opponent") or {}
    return {
        # one sentence per section that has nothing (or nothing useful) to plot, saying why
        "empty": _empty_sections(walk_forward_folds, params, monte_carlo, ab_test, trials),
        "title": f"ares report: {exchange}/{symbol}",
        "exchange": exchange, "symbol": symbol, "run_id": key, "data_end": data_end,
        "verdict": verdict(monte_carlo, ab_test),
        "price": {"time": _iso(frame["timestamp"]), "close": frame["close"].to_list(),
                  "regime": frame["regime"].to_list()},
        "windows": _windows(splits),
        "equity": {"time": _iso(equity["timestamp"]),
                   "equity": equity["equity"].to_list(),
                   "benchmark": equity["benchmark_equity"].to_list(), "folds": folds},
        "reliability": _reliability(calibration),
        "pareto": {"trials": trials.select("sharpe", "max_drawdown", "feasible", "on_front",
                                           "chosen").to_dicts()},
        "monte_carlo": {
            "sharpe": ({"observed": monte_carlo.get("sharpe"), "replicates": dist["sharpe"]}
                       if "sharpe" in dist else None),
            "max_drawdown": ({"observed": monte_carlo.get("max_drawdown"),
                              "replicates": [abs(v) for v in dist["max_drawdown"]]}
                             if "max_drawdown" in dist else None),
            "permutation": ({"observed": monte_carlo.get("permutation_observed"),
                             "null": dist["permutation"]} if "permutation" in dist else None),
        },
        "ab_test": {"decision": ab_test.get("decision"),
                    "champions": {name: {"diff": v.get("sharpe_diff"), "ci": v.get("ci95")}
                                  for name, v in per.items()}},
        "contributions": {r: v["features"] for r, v in contributions.items()},
        "tables": _tables(params, walk_forward_folds, monte_carlo, ab_test, calibration),
    }
