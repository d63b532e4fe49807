"""Brier score and ECE of `ares_cli.ml.models.calibration` against the worked examples of
shared/data/reference/stats/README.md §7."""

from __future__ import annotations

import numpy as np
import pytest

from ares_cli.ml.models import calibration
from ares_cli.ml.models.calibration import ece

# --- §7 Brier / ECE (the existing ares_cli.ml.models.calibration) -----------------------------

P71 = np.array([0.05, 0.15, 0.30, 0.35, 0.45, 0.55, 0.62, 0.78, 0.85, 0.95])
Y71 = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1], dtype=float)


def test_calibration_ece_and_brier_main_example():
    assert ece(P71, Y71, 5) == pytest.approx(0.115, abs=1e-12)
    top = np.maximum(P71, 1 - P71)
    correct = ((P71 >= 0.5) == Y71).astype(float)
    assert ece(top, correct, 5) == pytest.approx(0.205, abs=1e-12)
    scores = calibration._scores(P71, Y71, 5)  # what report() prints, without sklearn's import
    assert scores["brier"] == pytest.approx(0.18203, abs=1e-12)
    assert scores["ece"] == pytest.approx(0.115, abs=1e-12)


def test_calibration_ece_bin_edges_are_right_closed_like_sklearn():
    # §7.2: Guo et al. and sklearn use right-closed bins (a value on an edge goes to the lower
    # bin): ECE 7/30. Left-closed bins would give 8/30.
    p = np.array([0.1, 0.2, 0.4, 0.4, 0.7, 0.8])
    y = np.array([0, 1, 0, 1, 1, 1], dtype=float)
    assert ece(p, y, 5) == pytest.approx(7 / 30, abs=1e-12)
    assert calibration._scores(p, y, 5)["brier"] == pytest.approx(0.216667, abs=1e-6)
