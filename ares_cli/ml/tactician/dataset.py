"""The tactician's dataset (step 8): the analyst's proposed trades, their meta-labels and the
features a take/skip decision may use.

A trade is proposed at the close of a base bar whose analyst probability clears an entry threshold:
long when P(up) is at or above the `entry_quantile` of the training window's out-of-fold
probabilities and above 0.5, short when it is at or below the opposite quantile and below 0.5 (a
proposal never goes against the analyst's call). The thresholds come from training-window bars only.
Each proposal is meta-labelled on the fine path (`ml.tactician.meta_labelling`: entry at the next
fine bar's open, stop, target and time limit scaled by the bar's causal volatility, costs per side)
and described by what is known at the decision bar's close: the analyst probability and its recent
change, the regime scores, order flow over the last `flow_minutes` of fine bars (taker-buy
imbalance, trade intensity, realised volatility, range, distance to VWAP), a spread proxy and the
time of day.

As in step 4, a training event whose trade ends inside a later window is purged, and
test-window events keep their features but no outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from ares_cli.data.gaps import gap_flags, gaps_between
from ares_cli.errors import InsufficientData
from ares_cli.ml.features.dataset import causal_sigma
from ares_cli.ml.features.labels import average_uniqueness
from ares_cli.ml.features.regimes import SCORE_COLUMNS
from ares_cli.ml.tactician.meta_labelling import REASONS, meta_labels
from ares_cli.util.section import Field, Section

__all__ = ["OUTCOME_COLUMNS", "TacticianConfig", "build_tactician_dataset", "flow_features",
           "proposal_thresholds", "tactician_features"]

OUTCOME_COLUMNS = ("y", "ret", "reason", "t1", "t1_index", "purged", "cut_by_gap")


class TacticianConfig(Section):
    """`[tactician]`: which analyst calls become trades and how a trade is managed (what it
    costs is `[costs]`)."""

    entry_quantile: float = Field(0.65, gt=0.5, lt=1.0)
    k_target: float = Field(2.0, gt=0)
    k_stop: float = Field(1.0, gt=0)
    max_hold_bars: int = Field(24, ge=1)
    vol_window: int = Field(24, ge=2)
    flow_minutes: int = Field(60, ge=1)
    min_events: int = Field(50, ge=10)


FLOW_MIN_ROWS = 2


def flow_features(fine: pl.DataFrame, rows: int, day_rows: int = 1440) -> pl.DataFrame:
    """Per fine bar, order flow over the last `rows` fine bars up to and including it; trade
    intensity compares the window's trades with the mean over the last `day_rows` fine bars."""
    def total(column: str) -> pl.Expr:
        """Sum over the window; null when any bar in it lacks the column (candles without
        taker-buy volume or trade counts give null features, never a made-up constant)."""
        return pl.col(column).cast(pl.Float64).rolling_sum(rows, min_samples=rows)

    volume = total("volume")
    logret = pl.col("close").log().diff()
    typical = pl.col("trades").cast(pl.Float64).rolling_mean(max(day_rows, rows),
                                                             min_samples=rows) * rows
    return fine.select(
        "timestamp",
        t_flow_imbalance=pl.when(volume > 0)
        .then(2.0 * total("taker_buy_volume") / volume - 1.0),
        t_flow_intensity=pl.when(typical > 0).then(total("trades") / typical),
        t_flow_realised_vol=logret.rolling_std(rows, min_samples=2),
        t_flow_range=pl.col("high").rolling_max(rows, min_samples=1)
        / pl.col("low").rolling_min(rows, min_samples=1) - 1.0,
        t_flow_vwap_distance=pl.when((volume > 0) & (total("quote_volume") > 0)).then(
            pl.col("close") / (total("quote_volume") / volume) - 1.0),
        t_spread_proxy=((pl.col("high") - pl.col("low")) / pl.col("close"))
        .rolling_mean(rows, min_samples=1),
    ).with_columns(  # a column candles do not carry gives null, never NaN or infinity
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c)
        for c in ("t_flow_imbalance", "t_flow_intensity", "t_flow_realised_vol", "t_flow_range",
                  "t_flow_vwap_distance", "t_spread_proxy"))


def tactician_features(ensemble: pl.DataFrame, regimes: pl.DataFrame, fine: pl.DataFrame,
                       *, base_ms: int, fine_ms: int, flow_minutes: int) -> pl.DataFrame:
    """Per base bar with an analyst probability: the features known at its close."""
    def change(lag: int) -> pl.Expr:  # only across bars that are `lag` bars apart
        apart = pl.col("bar_index") - pl.col("bar_index").shift(lag) == lag
        return pl.when(apart).then(pl.col("p_up") - pl.col("p_up").shift(lag))

    frame = ensemble.sort("bar_index").select(
        "bar_index", "timestamp", "window", "regime", "p_up",
        t_p_up=pl.col("p_up"),
        t_conviction=(pl.col("p_up") - 0.5).abs(),
        t_p_up_change_1=change(1),
        t_p_up_change_3=change(3),
    )
    scores = regimes.select("timestamp", *[pl.col(c).alias(f"t_regime_{c}")
                                           for c in SCORE_COLUMNS])
    frame = frame.join(scores, on="timestamp", how="left")
    # at least two fine bars: a realised volatility needs two returns (coarse candles may
    # hold fewer bars in flow_minutes than that)
    rows = max(FLOW_MIN_ROWS, flow_minutes * 60_000 // fine_ms)
    flow = flow_features(fine, rows, max(1, 86_400_000 // fine_ms)).with_columns(
        decided=pl.col("timestamp") + pl.duration(milliseconds=fine_ms)).drop("timestamp")
    frame = frame.with_columns(
        decided=pl.col("timestamp") + pl.duration(milliseconds=base_ms)
    ).sort("decided").join_asof(flow.sort("decided"), on="decided", strategy="backward")
    hour = (frame["decided"].dt.hour() + frame["decided"].dt.minute() / 60.0).to_numpy()
    return frame.with_columns(
        t_hour_sin=pl.Series(np.sin(2 * np.pi * hour / 24)),
        t_hour_cos=pl.Series(np.cos(2 * np.pi * hour / 24)),
    ).sort("bar_index")


def proposal_thresholds(ensemble: pl.DataFrame, cfg: TacticianConfig) -> tuple[float, float]:
    """(long at or above, short at or below): the `entry_quantile` and its mirror of the
    training window's out-of-fold P(up). A proposal follows the analyst: long only where it says
    up is likelier (P(up) > 0.5), short only where it says down, and only when the call is
    strong for the training window."""
    train_p = ensemble.filter((pl.col("window") == "train") & pl.col("p_up").is_not_null())
    if train_p.height == 0:
        raise InsufficientData("no training-window bar has an analyst probability")
    upper = float(train_p["p_up"].quantile(cfg.entry_quantile, "linear"))
    lower = float(train_p["p_up"].quantile(1.0 - cfg.entry_quantile, "linear"))
    return max(upper, 0.5 + 1e-9), min(lower, 0.5 - 1e-9)


def build_tactician_dataset(
    ensemble: pl.DataFrame, bars: pl.DataFrame, fine: pl.DataFrame, regimes: pl.DataFrame,
    splits: pl.DataFrame, cfg: TacticianConfig, *, base_ms: int, fine_ms: int,
    cost_per_side: float,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(one row per proposed trade with side, features, meta-label and t1; metrics).
    `cost_per_side` (fee plus slippage, a fraction) is charged on entry and on exit."""
    upper, lower = proposal_thresholds(ensemble, cfg)
    features = tactician_features(ensemble.filter(pl.col("p_up").is_not_null()), regimes, fine,
                                  base_ms=base_ms, fine_ms=fine_ms,
                                  flow_minutes=cfg.flow_minutes)
    side = (pl.when(pl.col("p_up") >= upper).then(1)
            .when(pl.col("p_up") <= lower).then(-1).otherwise(0))
    events = features.with_columns(side=side).filter(pl.col("side") != 0)
    sigma = causal_sigma(bars, cfg.vol_window)
    index = events["bar_index"].to_numpy().astype(np.int64)
    base_start = bars["timestamp"].dt.epoch("us").to_numpy().astype(np.int64)
    fine_start = fine["timestamp"].dt.epoch("us").to_numpy().astype(np.int64)
    labels = meta_labels(
        fine_start, fine["open"].to_numpy(), fine["high"].to_numpy(), fine["low"].to_numpy(),
        fine["close"].to_numpy(), fine_ms=fine_ms,
        decision_close_us=base_start[index] + base_ms * 1000,
        side=events["side"].to_numpy(), sigma=sigma[index], k_target=cfg.k_target,
        k_stop=cfg.k_stop, max_hold_ms=cfg.max_hold_bars * base_ms,
        cost_per_side=cost_per_side,
    )
    t1_index = np.where(labels.labelled,
                        np.searchsorted(base_start, labels.t1_us - 1, side="right") - 1, -1)
    ends = splits.group_by("window").agg(pl.col("bar_index").max().alias("end"))
    frame = events.with_columns(
        y=pl.Series(labels.y).fill_nan(None),
        ret=pl.Series(labels.net_return).fill_nan(None),
        reason=pl.Series([REASONS[r] if r >= 0 else None for r in labels.reason.tolist()],
                         dtype=pl.String),
        t1=pl.Series(np.where(labels.labelled, labels.t1_us, 0)).cast(pl.Datetime("us", "UTC")),
        t1_index=pl.Series(t1_index),
    ).with_columns(
        t1=pl.when(pl.col("y").is_not_null()).then(pl.col("t1")),
        t1_index=pl.when(pl.col("y").is_not_null()).then(pl.col("t1_index")),
    ).join(ends, on="window", how="left")
    leaks = pl.col("y").is_not_null() & (pl.col("t1_index") > pl.col("end"))
    frame = frame.with_columns(
        y=pl.when(leaks).then(None).otherwise(pl.col("y")), purged=leaks.fill_null(False),
    ).drop("end", "decided")
    # a trade whose path runs through a gap in the data has no known outcome: cut like a
    # window edge (from the decision bar to the bar it was decided in)
    gap = gap_flags(bars)
    labelled = frame["y"].is_not_null().to_numpy()
    t0 = frame["bar_index"].to_numpy().astype(np.int64)
    t1 = frame["t1_index"].fill_null(-1).to_numpy().astype(np.int64)
    cut = labelled & gaps_between(gap, t0, np.maximum(t1, t0))
    frame = frame.with_columns(y=pl.when(pl.Series(cut)).then(None).otherwise(pl.col("y")),
                               cut_by_gap=pl.Series(cut))
    test = pl.col("window") == "test"
    frame = frame.with_columns(
        *(pl.when(test).then(None).otherwise(pl.col(c)).alias(c) for c in OUTCOME_COLUMNS))
    frame = _with_weights(frame, bars.height)
    metrics = _metrics(frame, upper, lower)
    labelled = metrics["train"]["labelled"]
    if labelled < cfg.min_events:
        raise InsufficientData(
            f"the training window holds {labelled} labelled proposed trades (analyst P(up) >= "
            f"{upper:.3f} or <= {lower:.3f}); tactician-label needs at least {cfg.min_events} "
            "(tactician.min_events): lower tactician.entry_quantile (now "
            f"{cfg.entry_quantile}) or collect more data"
        )
    return frame.sort("bar_index"), metrics


def _with_weights(frame: pl.DataFrame, n_bars: int) -> pl.DataFrame:
    labelled = frame["y"].is_not_null().to_numpy()
    weight = np.full(frame.height, np.nan)
    if labelled.any():
        t0 = frame["bar_index"].to_numpy()[labelled].astype(np.int64)
        t1 = frame["t1_index"].to_numpy()[labelled].astype(np.int64)
        weight[labelled] = average_uniqueness(t0, np.maximum(t1, t0), n_bars)
    return frame.with_columns(weight=pl.Series(weight).fill_nan(None))


def _metrics(frame: pl.DataFrame, upper: float, lower: float) -> dict[str, Any]:
    """{"data": counts and thresholds, "train"/"validation": meta-label statistics}."""
    metrics: dict[str, Any] = {"data": {
        "thresholds": {"long_at_or_above": upper, "short_at_or_below": lower},
        # no test-window counts before walk-forward: steps up to 12 say nothing of the test
        "events": {w: frame.filter(pl.col("window") == w).height
                   for w in ("train", "validation")},
        "long_share": {w: _long_share(frame, w) for w in ("train", "validation")},
        "note": "training proposals use out-of-fold P(up), later windows the final models' "
                "P(up); their distributions differ, so the side mix can shift across windows",
        "features": len([c for c in frame.columns if c.startswith("t_")]),
        "cut_by_gaps": int(frame.filter(pl.col("window") != "test")["cut_by_gap"].sum()),
    }}
    for window in ("train", "validation"):
        rows = frame.filter((pl.col("window") == window) & pl.col("y").is_not_null())
        metrics[window] = {
            "labelled": rows.height,
            "purged": int(frame.filter(pl.col("window") == window)["purged"].sum()),
            "long": int((rows["side"] == 1).sum()),
            "short": int((rows["side"] == -1).sum()),
            "paid_share": round(float(rows["y"].mean()), 4) if rows.height else None,
            "mean_net_return": float(rows["ret"].mean()) if rows.height else None,
            "reasons": {str(k): int(v) for k, v in rows.group_by("reason").len().iter_rows()},
        }
    return metrics


def _long_share(frame: pl.DataFrame, window: str) -> float | None:
    sides = frame.filter(pl.col("window") == window)["side"]
    return round(float((sides == 1).mean()), 4) if sides.len() else None
