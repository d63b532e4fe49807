"""Chronological windows with purge + embargo gaps and per-regime counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from ares_cli.ml.features.splits import assign, plan_windows, summarise


def test_windows_are_ordered_and_separated_by_the_gap():
    plan = plan_windows(1000, 0.6, 0.2, purge=24, embargo=12)
    train, validation, test = (plan.bounds[w] for w in ("train", "validation", "test"))
    assert train == (0, 600)
    assert validation == (636, 800)
    assert test == (836, 1000)


def test_too_few_bars_is_an_error_naming_the_window():
    with pytest.raises(ValueError, match="validation window"):
        plan_windows(100, 0.6, 0.2, purge=24, embargo=12, min_window=37)


def test_counts_and_fallback_regimes():
    n = 400
    start = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = pl.Series([start + timedelta(hours=i) for i in range(n)])
    regimes = pl.Series(["BULL" if i % 10 else "VOLATILE" for i in range(n)])
    plan = plan_windows(n, 0.5, 0.25, purge=5, embargo=5)
    table = assign(stamps, regimes, plan)
    summary = summarise(table, plan, min_regime_rows=50)
    assert table.filter(pl.col("window") == "gap").height == 20
    assert summary["counts"]["train"]["VOLATILE"] == 20
    assert summary["counts"]["train"]["BULL"] == 180
    assert summary["fallback_regimes"] == ["BEAR", "SIDEWAYS", "VOLATILE"]
    assert summary["windows"]["test"]["rows"] == 90
