"""Step 14 `monte-carlo`: the verdict on walk-forward (edge / no edge / not tested), corrected for
the looks at these test bars; intervals, permutation test, PSR/DSR and PBO beside it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ares_cli.artifacts import Artifact
from ares_cli.steps.base import Step, StepEnv, StepResult

if TYPE_CHECKING:
    from ares_cli.config_view import ConfigView


def _trades(table: Any, first_bar: int, n_bars: int) -> dict[str, Any]:
    """The walk-forward trades as bar spans inside the out-of-sample window: entry bar, bars
    held (a trade sharing its exit bar with the next entry gives it that bar), side, size and
    return on equity."""
    import numpy as np

    entry = table["entry_bar"].to_numpy().astype(np.int64) - first_bar
    exit_ = table["exit_bar"].to_numpy().astype(np.int64) - first_bar
    order = np.argsort(entry, kind="stable")
    entry, exit_ = entry[order], exit_[order]
    # time and signal exits fill at the exit bar's open: the trade does not earn that bar;
    # stops, targets and trails leave inside it, "end" at its close (both counted)
    at_open = np.isin(table["reason"].to_numpy()[order], ("time", "signal"))
    duration = np.maximum(exit_ - entry + np.where(at_open, 0, 1), 1)
    if entry.size > 1:
        duration[:-1] = np.maximum(np.minimum(duration[:-1], entry[1:] - entry[:-1]), 1)
    duration = np.minimum(duration, n_bars - entry)
    size = table["size"].to_numpy()[order]
    return {"entry": entry, "duration": duration,
            "side": table["side"].to_numpy().astype(np.float64)[order], "size": size,
            "equity_return": (table["net_return"].to_numpy() * table["size"].to_numpy())[order]}


def run(inputs: Mapping[str, Any], cfg: ConfigView, env: StepEnv) -> StepResult:
    import numpy as np
    import polars as pl

    from ares_cli.ml.evaluation.monte_carlo import assess, describe, per_regime
    from ares_cli.util.jsonutil import json_safe

    wf = inputs["walk_forward"].sort("bar_index")
    returns = wf["ret"].to_numpy()
    index = wf["bar_index"].to_numpy()
    close = inputs["bars"]["close"].to_numpy()
    market = close[index] / close[index - 1] - 1.0
    if "walk_forward_trades" in inputs:
        trades = _trades(inputs["walk_forward_trades"], int(index[0]), index.size)
    else:
        trades = {k: np.zeros(0) for k in ("entry", "duration", "side", "size",
                                           "equity_return")}
    trial_returns = inputs["trial_returns"].drop("bar_index").to_numpy()
    params = inputs["params"]
    # the other settings seen on these test bars in this store (the runner's look ledger);
    # in memory (tests, a fold) there is no store: this is the one look
    looks = inputs.get("looks") or {"looks": 1, "others": []}
    cost = 2.0 * (params["fee"] + params["slippage"]) * trades["size"]
    env.progress(0.1, "bootstrap, trade shuffle, random entries, PSR/DSR, PBO")
    m = assess(returns, trades, market, trial_returns=trial_returns, looks=int(looks["looks"]),
               look_sharpes=[o["sharpe"] for o in looks["others"] if o.get("sharpe") is not None],
               bars_per_year=float(params["bars_per_year"]), cost_per_trade=cost,
               cfg=cfg.monte_carlo, seed=cfg.data.seed)
    m["other_looks"] = looks["others"]
    # bar t's return (close t-1 to close t) was held under the regime known at close t-1
    held = (inputs["bars"].select("timestamp")
            .join(inputs["regimes"].select("timestamp", "regime"), on="timestamp", how="left",
                  maintain_order="left")
            .with_columns(pl.col("regime").shift(1)))
    labels = held["regime"].gather(index).to_list()
    m["per_regime"] = per_regime(returns, labels, bars_per_year=float(params["bars_per_year"]),
                                 cfg=cfg.monte_carlo, seed=cfg.data.seed)
    folds = inputs["walk_forward_folds"]["folds"]
    m["fragile_folds"] = sum(bool(f["params"].get("fragile")) for f in folds)
    if params.get("fragile") or m["fragile_folds"]:
        m["verdict_reason"] += (f"; fragile: {m['fragile_folds']} of {len(folds)} folds chose a "
                                "rule whose neighbours score under half its validation Sharpe"
                                + (", and so did step 12" if params.get("fragile") else ""))
    if m["verdict"] == "not tested":
        from ares_cli.ml.evaluation.walk_forward import fold_gate_words

        m["verdict_reason"] += "; " + "; ".join(fold_gate_words(f) for f in folds)
    summary = describe(m)
    warnings = [summary] if m["verdict"] != "edge" else []
    distributions = m.pop("distributions", {})
    return StepResult({"monte_carlo": Artifact.json(json_safe({**m,
                                                              "distributions": distributions}))},
                      json_safe({"walk_forward": m}), warnings=warnings, summary=summary)


STEP = Step(
    number=14,
    name="monte-carlo",
    summary="verdict on walk-forward: bootstrap, permutation over the looks, PSR/DSR, PBO",
    inputs=("walk_forward", "walk_forward_folds", "trial_returns", "params", "bars", "regimes"),
    optional_inputs=("walk_forward_trades",),
    external_inputs=("looks",),
    outputs=("monte_carlo",),
    config=("monte_carlo", "data.seed"),
    run=run,
)
