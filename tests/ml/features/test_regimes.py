"""The regime classifier: causal labels, thresholds from training bars, agreement with truth."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.data.bars import bars_from_trades
from ares_cli.data.synthetic import generate
from ares_cli.ml.features.regimes import (
    REGIMES,
    RegimeClassifier,
    RegimesConfig,
    agreement,
    agreement_by_window,
    classify_bars,
)
from ares_cli.ml.features.splits import assign, plan_windows


@pytest.fixture(scope="module")
def market():
    m = generate(seed=11, days=120, trades_per_day=3000)
    return bars_from_trades(m.trades, 3_600_000), m.true_regimes


def test_labels_of_earlier_bars_do_not_change_when_bars_are_appended(market):
    bars, _ = market
    close = bars["close"].to_numpy()
    model = RegimeClassifier().fit(close[:1500])
    full = model.predict(close)
    for n in (200, 1000, 2000, 2500):
        head = model.predict(close[:n])
        assert head.equals(full.head(n)), f"labels or scores of the first {n} bars changed"


def test_training_labels_use_no_later_bar_even_when_the_fit_window_grows(market):
    """classify_bars fits on a fraction of the bars; appending bars grows that window, yet no
    label inside the shorter series' training window may change (expanding-window refits)."""
    bars, _ = market
    full, _, _ = classify_bars(bars, RegimesConfig(), 0.6)
    for n in (600, 1500):
        head, _, _ = classify_bars(bars.head(n), RegimesConfig(), 0.6)
        train_end = int(n * 0.6)
        assert head.head(train_end).equals(full.head(train_end)), f"n={n}"
        assert head["regime"].head(train_end).null_count() < 150  # warm-up only


def test_thresholds_come_from_training_bars_only(market):
    """Changing bars after the fit window changes no threshold."""
    bars, _ = market
    close = bars["close"].to_numpy().copy()
    a = RegimeClassifier().fit(close[:1000])
    close[1000:] *= np.exp(np.random.default_rng(0).normal(0, 0.05, len(close) - 1000)).cumprod()
    b = RegimeClassifier().fit(close[:1000])
    assert a.params() == b.params()


def test_a_training_bars_label_ignores_later_training_bars(market):
    """Inside the fit window a bar is labelled with thresholds fitted on bars up to it.

    Make the second half of the training window wildly volatile: the final thresholds change
    a lot, yet the labels and scores of the first half must not move. Applying the final
    thresholds to every training bar (a lookahead) moves them.
    """
    bars, _ = market
    close = bars["close"].to_numpy().copy()
    n_fit, half = 1200, 600
    calm = RegimeClassifier().fit(close[:n_fit])
    shocked = close.copy()
    noise = np.random.default_rng(1).normal(0, 0.04, n_fit - half)
    shocked[half:n_fit] = close[half:n_fit] * np.exp(noise.cumsum())
    wild = RegimeClassifier().fit(shocked[:n_fit])
    assert wild.vol_threshold_ > 1.5 * calm.vol_threshold_  # the shock is visible to the fit
    before, after = calm.predict(close[:half]), wild.predict(shocked[:half])
    assert before["regime"].null_count() < 200 and before.equals(after)
    assert calm.predict(close).head(half).equals(wild.predict(shocked).head(half))


def test_scores_are_probabilities_and_warmup_is_unlabelled(market):
    bars, _ = market
    out = RegimeClassifier().fit(bars["close"].to_numpy()[:1500]).predict(bars["close"].to_numpy())
    labelled = out.drop_nulls("regime")
    sums = labelled.select(pl.sum_horizontal(pl.col("^score_.*$"))).to_series()
    assert np.allclose(sums.to_numpy(), 1.0)
    assert out["regime"][:40].null_count() == 40
    assert set(labelled["regime"].unique()) <= set(REGIMES)


def test_agreement_with_true_regimes_beats_chance_out_of_sample():
    """Over three markets, the validation window's balanced accuracy against the true regimes
    beats chance (0.25 over four regimes). One 120-day market's validation window holds only
    about six regime spells, so one seed alone ranges from 0.19 to 0.74 (eight seeds measured,
    mean 0.46); the mean of three is steadier, and labels shuffled in time sit near 0.25."""
    accuracies = []
    for seed in (11, 12, 13):
        m = generate(seed=seed, days=120, trades_per_day=3000)
        bars = bars_from_trades(m.trades, 3_600_000)
        regimes, _, _ = classify_bars(bars, RegimesConfig(), 0.6)
        splits = assign(regimes["timestamp"], regimes["regime"],
                        plan_windows(bars.height, 0.6, 0.2, purge=24, embargo=12))
        by_window = agreement_by_window(splits, m.true_regimes)
        assert set(by_window) == {"train", "validation"}  # never the test window
        oos = by_window["validation"]["vs_true_regimes"]
        assert np.array(oos["confusion"]).sum() == oos["bars"]
        accuracies.append(oos["balanced_accuracy"])
    assert np.mean(accuracies) > 0.33


def test_agreement_metrics_by_hand():
    true = np.array(["BULL", "BULL", "BEAR", "VOLATILE", None], dtype=object)
    pred = np.array(["BULL", "BEAR", "BEAR", "BULL", "BULL"], dtype=object)
    result = agreement(true, pred)
    assert result["bars"] == 4
    assert result["recall"] == {"BULL": 0.5, "BEAR": 1.0, "VOLATILE": 0.0}
    assert result["balanced_accuracy"] == pytest.approx(0.5)


@pytest.mark.parametrize("fraction", [0.29, 0.3, 0.55, 0.6, 0.7, 0.99])
@pytest.mark.parametrize("min_fit", [10, 67, 72, 100])
def test_bars_needed_is_the_fewest_the_fit_accepts(fraction, min_fit):
    """classify_bars fits on floor(n * fraction) bars: bars_needed is the least n that gives
    it enough (one bar fewer fails), so a gate built on it never passes data that then fail."""
    from ares_cli.ml.features.regimes import RegimesConfig, bars_needed

    cfg = RegimesConfig(min_fit_bars=min_fit)
    fit = max(cfg.trend_window, cfg.vol_window) + 1 + min_fit
    n = bars_needed(cfg, fraction)
    assert int(np.floor(n * fraction)) >= fit > int(np.floor((n - 1) * fraction))
