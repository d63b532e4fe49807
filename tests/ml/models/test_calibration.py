"""Calibration: the calibrators, the CV choice, ECE, and that only training rows are fitted."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.ml.models import calibration
from ares_cli.ml.models.calibration import (
    CalibrationConfig,
    Calibrator,
    calibrate,
    calibrate_probabilities,
    ece,
)


def overconfident(n: int, seed: int):
    """True probabilities q; the model says a sharpened q (overconfident, monotone)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.2, 0.8, n)
    y = (rng.random(n) < q).astype(float)
    logit = np.log(q / (1 - q))
    return 1 / (1 + np.exp(-3 * logit)), y, q


def test_ece_by_hand():
    p = np.array([0.05, 0.15, 0.95, 0.85])
    y = np.array([0.0, 1.0, 1.0, 1.0])
    # bins [0, .1): |0 - .05|, [.1, .2): |1 - .15|, [.8, .9): |1 - .85|, [.9, 1]: |1 - .95|
    assert ece(p, y, 10) == pytest.approx((0.05 + 0.85 + 0.15 + 0.05) / 4)


def test_both_calibrators_repair_an_overconfident_model():
    p, y, _ = overconfident(4000, 0)
    fit, test = slice(0, 2000), slice(2000, 4000)
    before = ece(p[test], y[test])
    for method in ("isotonic", "sigmoid"):
        fitted = Calibrator(method).fit(p[fit], y[fit])
        assert ece(fitted.predict(p[test]), y[test]) < before / 2, method
    sigmoid = Calibrator("sigmoid").fit(p, y)
    assert sigmoid.a_ == pytest.approx(1 / 3, abs=0.06)  # undoes the sharpening


def test_purged_cv_picks_a_calibrator_only_when_it_helps():
    p, y, q = overconfident(3000, 1)
    t0 = np.arange(3000)
    cfg = CalibrationConfig()
    _, _, _, choice = calibrate(p, y, t0, t0 + 5, None, p[:10], cfg=cfg, embargo=5)
    assert choice["chosen"] in ("isotonic", "sigmoid")
    _, _, _, honest = calibrate(q, y, t0, t0 + 5, None, q[:10], cfg=cfg, embargo=5)
    assert honest["chosen"] == "none"  # already calibrated: nothing to gain


def test_no_calibrator_sees_a_validation_or_test_row(tiny_pipeline, monkeypatch):
    frame = tiny_pipeline.catalog["analyst_ensemble"]
    train = frame.filter((pl.col("window") == "train") & pl.col("y").is_not_null())
    allowed = set(train["p_up"].to_list())
    fitted: list[np.ndarray] = []
    real = Calibrator.fit

    def spy(self: Calibrator, p: np.ndarray, y: np.ndarray, weight=None) -> Calibrator:
        fitted.append(np.asarray(p))
        return real(self, p, y, weight)

    monkeypatch.setattr(calibration.Calibrator, "fit", spy)
    table, _, _, validation = calibrate_probabilities(
        frame, "p_up", cfg=CalibrationConfig(n_splits=3, min_rows=20), embargo=12, seed=7,
        name="analyst")
    assert len(fitted) == 3 * 3 + 1  # three methods in three folds, then the chosen one
    assert all(set(p.tolist()) <= allowed for p in fitted)
    assert {"brier_before", "brier_after", "ece_before", "ece_after", "log_loss_before",
            "log_loss_after", "edge_after"} <= set(validation)
    later = table.filter(pl.col("window") != "train")
    assert later["p_up_cal"].null_count() == 0
