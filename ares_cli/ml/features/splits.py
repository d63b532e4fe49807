"""Chronological train / validation / test windows separated by purge + embargo gaps.

The windows are contiguous blocks of base bars in time order. Between two windows lies a gap of
`purge + embargo` bars that belongs to neither: the purge keeps labels that look forward from
the end of one window from overlapping the next, and the embargo keeps serially correlated
features from leaking across. Later steps additionally purge rows by their label end time `t1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from pydantic import model_validator

from ares_cli.errors import DataError
from ares_cli.ml.features.regimes import REGIMES
from ares_cli.util.section import Field, Section

__all__ = [
    "WINDOWS", "SplitConfig", "SplitPlan", "assign", "plan_windows", "split_bars", "summarise",
]

WINDOWS = ("train", "validation", "test")


class SplitConfig(Section):
    """`[split]`: chronological train / validation / test windows with purge and embargo gaps."""

    train: float = Field(0.6, gt=0, lt=1)
    validation: float = Field(0.2, gt=0, lt=1)
    test: float = Field(0.2, gt=0, lt=1)
    purge_bars: int = Field(24, ge=0)
    embargo_bars: int = Field(12, ge=0)
    min_regime_rows: int = Field(200, ge=0)

    @model_validator(mode="after")
    def _fractions_sum_to_one(self) -> SplitConfig:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(
                f"split.train + split.validation + split.test must be 1 (is {total:g})"
            )
        return self


@dataclass(frozen=True)
class SplitPlan:
    """Index boundaries [start, end) of each window over `n` bars."""

    n: int
    bounds: dict[str, tuple[int, int]]
    gap: int


def plan_windows(n: int, train: float, validation: float, purge: int, embargo: int,
                 min_window: int = 1) -> SplitPlan:
    """Window boundaries for `n` bars; ValueError when a window would be smaller than allowed."""
    gap = purge + embargo
    train_end = int(np.floor(n * train))
    validation_start = train_end + gap
    validation_end = int(np.floor(n * (train + validation)))
    test_start = validation_end + gap
    bounds = {
        "train": (0, train_end),
        "validation": (validation_start, validation_end),
        "test": (test_start, n),
    }
    for name, (start, end) in bounds.items():
        if end - start < min_window:
            raise ValueError(
                f"the {name} window would hold {max(end - start, 0)} of {n} bars "
                f"(need >= {min_window}) with gaps of {gap} bars; collect more data "
                "or shrink split.purge_bars / split.embargo_bars"
            )
    return SplitPlan(n, bounds, gap)


def assign(timestamps: pl.Series, regimes: pl.Series, plan: SplitPlan) -> pl.DataFrame:
    """One row per bar: its index, time, window ('train'|'validation'|'test'|'gap') and regime."""
    window = np.full(plan.n, "gap", dtype=object)
    for name, (start, end) in plan.bounds.items():
        window[start:end] = name
    return pl.DataFrame(
        {
            "bar_index": np.arange(plan.n, dtype=np.int64),
            "timestamp": timestamps,
            "window": pl.Series(window.tolist(), dtype=pl.String),
            "regime": regimes,
        }
    )


def summarise(table: pl.DataFrame, plan: SplitPlan, min_regime_rows: int) -> dict[str, Any]:
    """Window spans, per-regime counts of the train and validation windows (none of the test
    window before walk-forward), and regimes too small to train alone."""
    counts: dict[str, dict[str, int]] = {}
    for name in ("train", "validation"):
        rows = table.filter(pl.col("window") == name)
        per = dict(rows.group_by("regime").len().iter_rows())
        counts[name] = {r: int(per.get(r, 0)) for r in REGIMES}
        counts[name]["unlabelled"] = int(per.get(None, 0))
    spans = {}
    for name, (start, end) in plan.bounds.items():
        spans[name] = {
            "start_index": start,
            "end_index": end,
            "rows": end - start,
            "start": table["timestamp"][start].isoformat(),
            "end": table["timestamp"][end - 1].isoformat(),
        }
    fallback = [r for r in REGIMES if counts["train"][r] < min_regime_rows]
    return {
        "windows": spans,
        "gap_bars": plan.gap,
        "counts": counts,
        "min_regime_rows": min_regime_rows,
        "fallback_regimes": fallback,
    }


def split_bars(regimes: pl.DataFrame, config: SplitConfig) -> tuple[pl.DataFrame, dict[str, Any]]:
    """(one row per bar with its window, summary) for step 3; too few bars is a data error."""
    try:
        plan = plan_windows(regimes.height, config.train, config.validation, config.purge_bars,
                            config.embargo_bars,
                            min_window=config.purge_bars + config.embargo_bars + 1)
    except ValueError as exc:
        raise DataError(f"cannot split {regimes.height} base bars: {exc}") from None
    table = assign(regimes["timestamp"], regimes["regime"], plan)
    return table, summarise(table, plan, config.min_regime_rows)
