"""Walk-forward fold plans and parameter stability."""

from __future__ import annotations

import pytest

from ares_cli.ml.evaluation.walk_forward import WalkForwardConfig, parameter_stability, plan_folds


def test_anchored_test_spans_tile_the_end_and_the_last_is_the_test_window() -> None:
    folds = plan_folds(1000, 800, WalkForwardConfig(folds=3, min_train_bars=50), gap=10)
    assert [f.test for f in folds] == [(400, 600), (600, 800), (800, 1000)]
    for f in folds:
        assert f.start == 0
        assert f.train[1] + 10 == f.validation[0]  # purge + embargo between train and validation
        assert f.validation[1] + 10 == f.test[0]  # and between validation and test
        past = f.test[0] - 10
        assert f.validation[1] - f.validation[0] == int(past * 0.25)


def test_rolling_folds_keep_a_fixed_past() -> None:
    cfg = WalkForwardConfig(folds=3, scheme="rolling", train_bars=300, test_bars=100,
                            min_train_bars=50)
    folds = plan_folds(1000, 900, cfg, gap=5)
    assert [f.test for f in folds] == [(700, 800), (800, 900), (900, 1000)]
    assert [f.start for f in folds] == [395, 495, 595]
    assert all(f.validation[1] - f.start == 300 for f in folds)


def test_too_little_history_names_the_keys_to_change() -> None:
    with pytest.raises(ValueError, match=r"walk_forward.folds") as err:
        plan_folds(600, 500, WalkForwardConfig(folds=5), gap=10)
    assert "walk_forward.min_train_bars" in str(err.value)


def test_auto_plans_as_many_folds_as_leave_the_first_one_enough_training() -> None:
    cfg = WalkForwardConfig(folds=0, max_auto_folds=3, min_train_bars=250)
    assert len(plan_folds(8760, 7044, cfg, gap=36)) == 3  # a year of hours: three fit
    short = plan_folds(481, 420, cfg, gap=36)  # the real ETH/BTC file: only one fits
    assert len(short) == 1 and short[0].test == (420, 481)
    with pytest.raises(ValueError, match=r"walk_forward\.min_train_bars"):
        plan_folds(300, 250, cfg, gap=36)


def test_parameter_stability_summarises_numbers_and_choices() -> None:
    out = parameter_stability([{"k": 1.0, "sizing": "kelly", "on": True},
                               {"k": 3.0, "sizing": "kelly", "on": False}])
    assert out["k"]["mean"] == 2.0 and out["k"]["std"] == 1.0 and out["k"]["values"] == [1, 3]
    assert out["sizing"]["mode"] == "'kelly'" and out["sizing"]["mode_share"] == 1.0
    assert out["on"]["mode_share"] == 0.5


def test_fold_state_keys_change_with_the_run_and_the_fold() -> None:
    """Optuna studies of a fold are named after its state key: a key that ignored the data
    let a persistent study of another run (scored on this fold's test span) choose the recipe."""
    from ares_cli.folds import fold_state_key
    from ares_cli.ml.evaluation.walk_forward import Fold

    a = Fold(1, 0, (0, 100), (110, 150), (160, 200))
    b = Fold(1, 0, (0, 120), (130, 170), (180, 220))
    keys = {fold_state_key("run-a", a), fold_state_key("run-b", a), fold_state_key("run-a", b)}
    assert len(keys) == 3
    assert all(len(f"{k}-12") <= 16 for k in keys)  # survives the steps' 16-character cut
