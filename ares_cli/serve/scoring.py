"""`ares signal`: today's decision from a bundle, on data brought up to date (cron's command).

The bundle's models, stacker, calibrators, proposal thresholds and trading rules are applied to
the last closed base bar of freshly collected data, exactly as steps 4 and 7 to 12 apply them to
validation and test bars: causal features, member probabilities, the stacker, the analyst
calibrator, the proposal rule, tactician features and members with the ensemble weights, the
tactician calibrator, then the chosen policy. The three features that pushed the analyst's
log-odds most at that bar come from XGBoost's `pred_contribs`. Pure given the bundle and bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ares_cli.ml.models.modelset import ModelSet

__all__ = ["bundle_regimes", "bundle_signals", "decide", "one_line", "score_bundle"]

HISTORY_BARS = 4  # the last bar and the three before it (P(up) changes over 1 and 3 bars)


def _analyst(bundle: ModelSet, features: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(raw P(up), calibrated P(up)) of `features` rows."""
    from ares_cli.ml.analyst.specialists import SCORE_FEATURES
    from ares_cli.ml.features.regimes import REGIMES
    from ares_cli.ml.models.calibration import Calibrator
    from ares_cli.ml.models.ensemble import StackedEnsemble, gated
    from ares_cli.ml.models.members import MemberTable, member_predictions

    spec = bundle.table["analyst"]
    table = MemberTable.from_dict(spec["members"])
    models = {name: bundle.models[f"analyst-{name}"] for name in table.own_models()}
    names = spec["ensemble"]["members"]
    x = features.select(table.features).to_numpy().astype(np.float64)
    members = member_predictions(x, table, models, names)
    scores = features.select(SCORE_FEATURES).to_numpy().astype(np.float64)
    scores = scores / scores.sum(axis=1, keepdims=True)
    if spec["ensemble"]["method"] == "stacked":
        p = StackedEnsemble.from_dict(spec["ensemble"]["stacker"]).predict_proba(members, scores)
    else:
        p = gated(members[:, : len(REGIMES)], scores)
    cal = Calibrator.from_dict(bundle.table["calibrators"]["analyst"]).predict(p)
    return p, cal


def _tactician(bundle: ModelSet, row: pl.DataFrame,
               side: int) -> tuple[float, float, dict[str, float]]:
    """(raw, calibrated) P(the proposed trade pays) for the one-row tactician frame, and each
    member's raw P(pays) (step 12's rules may re-weight them)."""
    from ares_cli.ml.models.calibration import Calibrator
    from ares_cli.ml.tactician.models import predict_members

    spec = bundle.table["tactician"]
    table = spec["members"]
    models = ModelSet(table, {name: bundle.models[f"tactician-{name}"]
                              for name in table["members"] if name != "LINEAR"})
    names = spec["ensemble"]["members"]
    x = row.with_columns(side=pl.lit(side)).select(table["features"]).to_numpy()
    probs = predict_members(models, x.astype(np.float64), names)
    w = np.asarray(spec["ensemble"]["weights"], dtype=np.float64)
    raw = float(probs[0] @ (w / w.sum()))
    cal = float(Calibrator.from_dict(bundle.table["calibrators"]["tactician"]).predict(
        np.array([raw]))[0])
    return raw, cal, dict(zip(names, probs[0].tolist(), strict=True))


def _members_matrix(bundle: ModelSet, per_bar: list[dict[str, float] | None]) -> dict[str, Any]:
    """SignalFrame's member fields for rules that re-weight the tactician members."""
    from ares_cli.ml.models.calibration import Calibrator

    names = tuple(bundle.table["params"].get("member_names") or ())
    if not names:
        return {}
    matrix = np.array([[np.nan] * len(names) if p is None else [p[n] for n in names]
                       for p in per_bar], dtype=np.float64).reshape(len(per_bar), len(names))
    return {"members": matrix, "member_names": names,
            "calibrator": Calibrator.from_dict(bundle.table["calibrators"]["tactician"])}


def bundle_regimes(bundle: ModelSet, bars: pl.DataFrame) -> pl.DataFrame:
    """Regimes of `bars` by the bundle's own classifier and final thresholds (not refitted on
    the data at hand, which would change the models' inputs with the history collected)."""
    from ares_cli.ml.features.regimes import RegimeClassifier

    model = RegimeClassifier.from_params(bundle.table["regime_model"])
    labelled = model.predict(bars["close"].to_numpy())
    return pl.concat([bars.select("timestamp"), labelled], how="horizontal")


def decide(bundle: ModelSet, bars: pl.DataFrame, fine: pl.DataFrame, *, base_ms: int,
           fine_ms: int) -> dict[str, Any]:
    """The decision for the last base bar of `bars` (see the module docstring): the batch
    scoring of that one bar, so live and step 15 cannot disagree."""
    from ares_cli.ml.analyst.contributions import analyst_contributions
    from ares_cli.ml.analyst.specialists import SCORE_FEATURES
    from ares_cli.ml.models.members import MemberTable
    from ares_cli.ml.trading.engine import Orders
    from ares_cli.ml.trading.policy import (
        NO_PROPOSAL,
        Policy,
        gate_counts,
        orders_for,
        rule_p_take,
    )

    scored = _score(bundle, bars, fine, np.array([bars.height - 1]), base_ms=base_ms,
                    fine_ms=fine_ms)
    signal, last = scored.frame, scored.rows
    side = int(signal.side[0])
    p_take = None if not side else float(signal.p_take[0])
    params = bundle.table["params"]
    policy = None if params["policy"] is None else Policy.from_dict(params["policy"])
    orders = (orders_for(signal, policy) if policy is not None
              else Orders.constant(np.zeros(1, dtype=np.int64)))
    # the P(pays) the rule compared with its threshold: the rule may re-weight the members
    p_take_rule = (float(rule_p_take(signal, policy.member_weights)[0])
                   if policy is not None and side else p_take)
    table = MemberTable.from_dict(bundle.table["analyst"]["members"])
    models = {name: bundle.models[f"analyst-{name}"] for name in table.own_models()}
    scores = last.select(SCORE_FEATURES).to_numpy().astype(np.float64)
    contribs = analyst_contributions(
        table, models, bundle.table["analyst"]["ensemble"],
        last.select(table.features).to_numpy().astype(np.float64),
        scores / scores.sum(axis=1, keepdims=True))
    names = table.features
    top = [i for i in np.argsort(-np.abs(contribs[0]), kind="stable")[:3] if contribs[0][i]]
    close = float(bars["close"][-1])
    traded = int(orders.side[0])
    why = None  # in the gate names step 12 uses, why this bar is flat
    if not traded:
        if policy is None:
            why = str(params.get("why") or "flat rule: no rule was feasible on validation")
        elif not side:
            why = f"{NO_PROPOSAL}: the analyst's P(up) lies between the proposal thresholds"
        else:
            counts = gate_counts(signal, policy)
            stopped = [g for g, n in counts.items() if g not in ("proposals", "passed") and n]
            why = (f"{stopped[0].replace('_', ' ')} stopped the {scored.regime[0]} proposal"
                   if stopped else "no usable volatility (ATR) for its stop and target")
    return {
        "bar": last["timestamp"][0].isoformat(),
        "side": {1: "long", -1: "short", 0: "flat"}[traded],
        "size": float(orders.size[0]) if traded else 0.0,
        "stop": close * (1 - traded * float(orders.stop[0])) if traded else None,
        "target": close * (1 + traded * float(orders.target[0])) if traded else None,
        "close": close,  # stop and target are placed from it (the fill is the next open)
        "analyst_p_up": float(signal.p_up[0]), "analyst_p_up_raw": float(scored.p_up_raw[0]),
        "proposal": {1: "long", -1: "short", 0: "none"}[side],
        # the proposal compares the raw P(up) with these; the gates read the calibrated one
        "proposal_thresholds": dict(bundle.table["spec"]["proposal_thresholds"]),
        "tactician_p_take": (None if p_take_rule is None or not np.isfinite(p_take_rule)
                             else p_take_rule),
        "tactician_p_take_shipped": p_take,
        "tactician_p_take_raw": None if not side else float(scored.p_take_raw[0]),
        "regime": scored.regime[0],
        "top_features": [{"feature": names[i], "contribution": float(contribs[0][i])}
                         for i in top],
        "rule": "flat: no rule was feasible on validation" if policy is None else
                "the chosen rule of step 12",
        "why_flat": why,
    }


def one_line(d: dict[str, Any]) -> str:
    """The decision as one line for cron mail."""
    def f(v: Any, spec: str = ".4f") -> str:
        return "n/a" if v is None else format(v, spec)

    feats = (", ".join(f"{t['feature']} {t['contribution']:+.3f}" for t in d["top_features"])
             or "none (the serving models are constant)")
    flat = f" ({d['why_flat']})" if d.get("why_flat") else ""
    limits = d.get("proposal_thresholds") or {}
    compared = (f"proposal {d['proposal']} from raw P(up) {d['analyst_p_up_raw']:.3f} "
                f"(long at >= {f(limits.get('long_at_or_above'), '.3f')}, short at <= "
                f"{f(limits.get('short_at_or_below'), '.3f')})")
    return (f"{d['bar']} {d['side']}{flat} size {d['size']:.2f} stop {f(d['stop'], '.6g')} target "
            f"{f(d['target'], '.6g')} | {compared}; calibrated analyst P(up) "
            f"{d['analyst_p_up']:.3f}, tactician P(pays) {f(d['tactician_p_take'], '.3f')} | "
            f"regime {d['regime']} | top features: {feats}")


@dataclass(frozen=True)
class _Scored:
    """A window scored by a bundle: the rules' inputs and, for `decide`, the raw values."""

    frame: Any  # SignalFrame
    p_up_raw: np.ndarray
    p_take_raw: np.ndarray
    regime: list[str | None]
    rows: pl.DataFrame  # the bars' features


def bundle_signals(bundle: ModelSet, bars: pl.DataFrame, fine: pl.DataFrame,
                   index: np.ndarray, *, base_ms: int, fine_ms: int) -> Any:
    """The bundle's `SignalFrame` on the base bars `index` of `bars`: its features, models,
    stacker, calibrators and proposal thresholds applied bar by bar (all causal)."""
    return _score(bundle, bars, fine, index, base_ms=base_ms, fine_ms=fine_ms).frame


def _score(bundle: ModelSet, bars: pl.DataFrame, fine: pl.DataFrame, index: np.ndarray, *,
           base_ms: int, fine_ms: int) -> _Scored:
    from ares_cli.ml.features.causal import FeaturesConfig, build_features
    from ares_cli.ml.features.regimes import REGIMES
    from ares_cli.ml.tactician.dataset import tactician_features
    from ares_cli.ml.trading.policy import SignalFrame
    from ares_cli.ml.trading.windows import atr_fraction

    spec = bundle.table["spec"]
    regimes = bundle_regimes(bundle, bars)
    features = build_features(bars, fine, regimes, FeaturesConfig(**spec["features"]),
                              base_ms=base_ms).with_row_index("bar_index").with_columns(
        pl.col("bar_index").cast(pl.Int64))
    lo = max(0, int(index[0]) - (HISTORY_BARS - 1))
    rows = features.slice(lo, int(index[-1]) + 1 - lo)
    p_raw, p_cal = _analyst(bundle, rows)
    regime = regimes.select("timestamp", "regime")
    frame = rows.select("bar_index", "timestamp").join(regime, on="timestamp", how="left")
    frame = frame.with_columns(window=pl.lit("scored"), p_up=pl.Series(p_raw))
    thresholds = spec["proposal_thresholds"]
    side = np.where(p_raw >= thresholds["long_at_or_above"], 1,
                    np.where(p_raw <= thresholds["short_at_or_below"], -1, 0))
    tact = tactician_features(frame, regimes, fine, base_ms=base_ms, fine_ms=fine_ms,
                              flow_minutes=spec["tactician"]["flow_minutes"])
    p_take = np.full(rows.height, np.nan)
    p_take_raw = np.full(rows.height, np.nan)
    member_p: list[dict[str, float] | None] = [None] * rows.height
    for k in np.flatnonzero(side != 0):
        p_take_raw[k], p_take[k], member_p[k] = _tactician(bundle, tact.slice(int(k), 1),
                                                           int(side[k]))
    keep = rows["bar_index"].is_in(index.tolist()).to_numpy()
    codes = {name: i for i, name in enumerate(REGIMES)}
    names = frame["regime"].to_list()
    atr_frac = atr_fraction(bars, bundle.table["params"]["atr_window"])
    signal = SignalFrame(
        bar_index=index.astype(np.int64), p_up=p_cal[keep], side=side[keep].astype(np.int64),
        p_take=p_take[keep],
        regime=np.array([codes.get(r, -1) if r is not None else -1 for r in names],
                        dtype=np.int64)[keep],
        atr_frac=atr_frac[index],
        **{k: (v[keep] if k == "members" else v)
           for k, v in _members_matrix(bundle, member_p).items()})
    return _Scored(signal, p_raw[keep], p_take_raw[keep],
                   [r for r, k in zip(names, keep, strict=True) if k], rows.filter(keep))


def score_bundle(bundle: ModelSet, bars: pl.DataFrame, fine: pl.DataFrame,
                 index: np.ndarray, *, base_ms: int, fine_ms: int) -> np.ndarray:
    """Per-bar returns of the bundle's rules traded on the bars `index` (the engine, its own
    fees and slippage); flat when its rule is to stay flat."""
    from ares_cli.ml.trading.optimize import trade
    from ares_cli.ml.trading.policy import Policy
    from ares_cli.ml.trading.windows import window_market

    params = bundle.table["params"]
    policy = None if params["policy"] is None else Policy.from_dict(params["policy"])
    frame = bundle_signals(bundle, bars, fine, index, base_ms=base_ms, fine_ms=fine_ms)
    market = window_market(bars, fine, index, base_ms)
    return trade(market, frame, policy, fee=params["fee"], slippage=params["slippage"],
                 bars_per_year=params["bars_per_year"]).returns
