"""The fold executor's own rules (its steps' results are tested in tests/steps)."""

from __future__ import annotations

import numpy as np
import polars as pl

from ares_cli.folds import _causal_gaps


def _bars(filled: list[bool], gap: list[bool]) -> pl.DataFrame:
    return pl.DataFrame({"filled": filled, "gap": gap})


def test_an_empty_stretch_reaching_into_the_test_span_is_a_gap_in_the_fold_past():
    """Whether empty bars were an outage is told by the trade after them; for a stretch that
    runs into the test span that trade lies there, so the past takes the stretch as a gap
    (the conservative cut) instead of a quiet market (mutation: dropping this makes the fold's
    labels depend on its test span)."""
    filled = [False, False, True, True, True, True, False]
    quiet = _causal_gaps(_bars(filled, [False] * 7), test_start=4)
    assert quiet["gap"].to_list() == [False, False, True, True, False, False, False]
    inside = _causal_gaps(_bars([False, True, False, False, True, False, False],
                                [False, True, False, False, False, False, False]), 4)
    assert inside["gap"].to_list() == [False, True, False, False, False, False, False]
    assert _causal_gaps(pl.DataFrame({"filled": [True]}), 0).columns == ["filled"]
    assert np.array_equal(_causal_gaps(_bars(filled, [True] * 7), 4)["gap"].to_numpy(),
                          np.ones(7, dtype=bool))
