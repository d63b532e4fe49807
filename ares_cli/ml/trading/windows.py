"""The market and the signals of one window, from the pipeline's tables (steps 2, 3, 8 to 11).

Only the window's own base bars and their fine bars are traded: a position still open at the
window's last fine bar is closed there. Nothing of a later window is read, so step 12 never
touches test prices.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import polars as pl

from ares_cli.data.gaps import gap_flags
from ares_cli.ml.features.indicators import atr
from ares_cli.ml.features.regimes import REGIMES
from ares_cli.ml.models.calibration import Calibrator
from ares_cli.ml.trading.engine import Market
from ares_cli.ml.trading.policy import SignalFrame

__all__ = ["atr_fraction", "window_bars", "window_market", "window_signals"]


def window_bars(splits: pl.DataFrame, window: str) -> np.ndarray:
    """Bar indices of `window`, ascending (ValueError when it has none)."""
    index = splits.filter(pl.col("window") == window)["bar_index"].sort().to_numpy()
    if index.size == 0:
        raise ValueError(f"the {window} window has no bars")
    return index.astype(np.int64)


def window_market(bars: pl.DataFrame, fine: pl.DataFrame, index: np.ndarray,
                  base_ms: int) -> Market:
    """The fine bars inside the base bars `index` (contiguous), as the engine's market."""
    base_us = bars["timestamp"].dt.epoch("us").to_numpy().astype(np.int64)[index]
    lo, hi = int(base_us[0]), int(base_us[-1]) + base_ms * 1000
    start = fine["timestamp"].dt.epoch("us")
    part = fine.filter((start >= lo) & (start < hi))
    market = Market.from_bars(
        base_us, base_ms, part["timestamp"].dt.epoch("us").to_numpy().astype(np.int64),
        part["open"].to_numpy(), part["high"].to_numpy(), part["low"].to_numpy(),
        part["close"].to_numpy())
    gap = gap_flags(bars)[index]
    return dataclasses.replace(market, gap=gap) if gap.any() else market


def atr_fraction(bars: pl.DataFrame, window: int) -> np.ndarray:
    """Causal Wilder ATR over `window` bars divided by the close, per bar (stops and targets
    are multiples of it)."""
    frame = bars.select(
        (atr(pl.col("high"), pl.col("low"), pl.col("close"), window) / pl.col("close"))
        .alias("a"))
    return frame["a"].to_numpy().astype(np.float64)


def window_signals(
    index: np.ndarray, *, bars: pl.DataFrame, splits: pl.DataFrame,
    calibrated_analyst: pl.DataFrame, calibrated_tactician: pl.DataFrame,
    tactician_predictions: pl.DataFrame | None = None, member_names: tuple[str, ...] = (),
    tactician_calibrator: dict[str, Any] | None = None, atr_window: int = 14,
) -> SignalFrame:
    """Per bar of `index`: calibrated P(up), the proposal's side and calibrated P(pays), the
    regime, ATR / close and (optionally) the tactician members' raw P(pays)."""
    frame = pl.DataFrame({"bar_index": index})
    regime = splits.select("bar_index", "regime")
    analyst = calibrated_analyst.select("bar_index", pl.col("p_up_cal").alias("p_up"))
    tact = calibrated_tactician.select("bar_index", pl.col("p_take_cal").alias("p_take"))
    frame = (frame.join(regime, on="bar_index", how="left")
             .join(analyst, on="bar_index", how="left")
             .join(tact, on="bar_index", how="left"))
    members = None
    if tactician_predictions is not None:
        cols = [f"p_{m.lower()}" for m in member_names]
        side = tactician_predictions.select("bar_index", "side", *cols)
        frame = frame.join(side, on="bar_index", how="left")
        if member_names:
            members = frame.select(cols).to_numpy().astype(np.float64)
    elif "side" in calibrated_tactician.columns:
        frame = frame.join(calibrated_tactician.select("bar_index", "side"), on="bar_index",
                           how="left")
    frame = frame.sort("bar_index")
    if "side" not in frame.columns:
        raise ValueError("no proposal sides: pass tactician_predictions")
    p_take = frame["p_take"].to_numpy().astype(np.float64)
    side = frame["side"].fill_null(0).to_numpy().astype(np.int64)
    side[~np.isfinite(p_take)] = 0  # a proposal without a tactician probability is not traded
    codes = {name: code for code, name in enumerate(REGIMES)}
    regime_code = np.array([codes.get(r, -1) if r is not None else -1
                            for r in frame["regime"].to_list()], dtype=np.int64)
    return SignalFrame(
        bar_index=frame["bar_index"].to_numpy().astype(np.int64),
        p_up=frame["p_up"].to_numpy().astype(np.float64),
        side=side,
        p_take=p_take,
        regime=regime_code,
        atr_frac=atr_fraction(bars, atr_window)[index],
        members=members,
        member_names=tuple(member_names) if members is not None else (),
        calibrator=(Calibrator.from_dict(tactician_calibrator)
                    if tactician_calibrator is not None and members is not None else None),
    )
