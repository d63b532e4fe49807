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


def test_a_fold_too_short_to_train_stays_flat_on_its_test_span(tiny_pipeline, tiny_config):
    """A fold whose own past holds too little to train on (here 150 bars) is what the pipeline
    would have done then: nothing traded, the reason given where step 12 gives its reason for
    staying flat; not a run-stopping error, and not a span dropped from the record (mutation:
    re-raising the InsufficientData fails this)."""
    from ares_cli.folds import run_fold, stitch
    from ares_cli.ml.evaluation.walk_forward import Fold, fold_gate_words
    from ares_cli.steps.s13_walk_forward import REPLAYED

    bars, fine = tiny_pipeline.catalog["bars"], tiny_pipeline.catalog["bars_fine"]
    fold = Fold(1, 0, (0, 150), (160, 200), (210, 300))
    result = run_fold(fold, bars, fine, tiny_config, REPLAYED, exchange="binance",
                      symbol="ETHUSDT")
    assert result.params["policy"] is None and result.params["untrained"]
    assert "too short to train on" in result.params["why"]
    assert result.returns["bar_index"].to_list() == list(range(210, 300))
    assert not result.returns["ret"].to_numpy().any() and result.trades.height == 0
    assert result.returns["benchmark_ret"].to_numpy().any()  # buy-and-hold on the same bars
    record = stitch([result])
    assert record.metrics["trades"] == 0 and record.trials == 0
    words = fold_gate_words(record.folds_json["folds"][0])
    assert words.startswith("fold 1 stayed flat: its past was too short to train on")
    # whether the fold could train is decided by its past alone: scrambled test-span prices
    # give the same decision and reason
    later = (bars["timestamp"] >= bars["timestamp"][210]).to_numpy()
    factor = pl.Series(np.where(later, 1.1, 1.0))
    scrambled = run_fold(fold, bars.with_columns(pl.col("close") * factor), fine,
                         tiny_config, REPLAYED, exchange="binance", symbol="ETHUSDT")
    assert scrambled.params == result.params


def test_a_fold_error_that_is_not_a_shortfall_still_stops_the_run(tiny_pipeline, tiny_config,
                                                                   monkeypatch):
    """Only too little data makes a fold flat: invalid data or a bug inside a fold stops the
    run (mutation: catching every DataError fails this)."""
    import pytest

    from ares_cli import folds
    from ares_cli.errors import DataError
    from ares_cli.ml.evaluation.walk_forward import Fold
    from ares_cli.steps.s13_walk_forward import REPLAYED

    def broken(*_args, **_kwargs):
        raise DataError("the dataset's features differ from those the baseline was trained on")

    monkeypatch.setattr("ares_cli.pipeline.run_steps", broken)
    bars, fine = tiny_pipeline.catalog["bars"], tiny_pipeline.catalog["bars_fine"]
    with pytest.raises(DataError, match="features differ"):
        folds.run_fold(Fold(1, 0, (0, 150), (160, 200), (210, 300)), bars, fine, tiny_config,
                       REPLAYED, exchange="binance", symbol="ETHUSDT")


def test_the_longest_fold_runs_first_and_results_come_back_in_fold_order(monkeypatch):
    """Three anchored folds on two processes: the longest (last) fold is handed out first, so
    the two short ones share the other process; the records are in fold order all the same."""
    import ares_cli.folds as folds_module
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold

    ran: list[int] = []

    def fake_run_fold(fold, *_args, **_kwargs):
        ran.append(fold.number)
        return fold.number

    monkeypatch.setattr(folds_module, "run_fold", fake_run_fold)
    folds = [Fold(k, 0, (0, 100 * k), (100 * k, 100 * k + 20), (100 * k + 30, 100 * k + 60))
             for k in (1, 2, 3)]
    got = folds_module.run_folds(folds, pl.DataFrame(), pl.DataFrame(), None, (),
                                 exchange="x", symbol="y", compute=ComputeConfig(n_jobs=1))
    assert got == [1, 2, 3] and ran == [3, 2, 1]


def test_a_folds_warnings_come_back_to_the_parent_instead_of_its_stderr(monkeypatch, capfd):
    """A worker's warnings would print over the progress display from its own stderr: the fold
    catches them (each distinct one once) and the parent raises them again, where the runner
    logs them to the run log."""
    import warnings

    import ares_cli.folds as folds_module
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold

    def noisy_run_fold(fold, *_args, **_kwargs):
        for _ in range(3):
            np.nanmax(np.array([np.nan]))  # numpy's "All-NaN slice encountered"
        return fold.number

    monkeypatch.setattr(folds_module, "run_fold", noisy_run_fold)
    folds = [Fold(k, 0, (0, 100 * k), (100 * k, 100 * k + 20), (100 * k + 30, 100 * k + 60))
             for k in (1, 2)]
    run = folds_module._guarded(folds[0], pl.DataFrame(), pl.DataFrame(), None, ())
    assert run.result == 1 and run.warnings == [("RuntimeWarning",
                                                 "All-NaN slice encountered")]
    assert capfd.readouterr().err == ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = folds_module.run_folds(folds, pl.DataFrame(), pl.DataFrame(), None, (),
                                     exchange="x", symbol="y", compute=ComputeConfig(n_jobs=1))
    assert got == [1, 2]
    assert [(w.category, str(w.message)) for w in caught] == [
        (RuntimeWarning, "walk-forward fold 1: All-NaN slice encountered"),
        (RuntimeWarning, "walk-forward fold 2: All-NaN slice encountered")]


def test_the_bar_moves_while_a_fold_replays_its_steps(monkeypatch):
    """A fold's process writes which step it replays; the parent reports it every second, so
    the walk-forward bar moves during a long first fold instead of sitting at 2 %."""
    import time

    import ares_cli.folds as folds_module
    from ares_cli.ml.evaluation.walk_forward import ComputeConfig, Fold
    from ares_cli.steps import STEPS

    def slow_run_fold(fold, *_args, progress_file=None, **_kwargs):
        for number, fraction in ((5, 0.0), (6, 0.5), (9, 0.0)):
            folds_module._note_progress(progress_file, number, fraction)
            time.sleep(1.6)
        return fold.number

    monkeypatch.setattr(folds_module, "run_fold", slow_run_fold)
    reported: list[tuple[float, str]] = []
    folds = [Fold(1, 0, (0, 100), (100, 120), (130, 160))]
    replayed = [s for s in STEPS if 4 <= s.number <= 12]
    got = folds_module.run_folds(folds, pl.DataFrame(), pl.DataFrame(), None, replayed,
                                 exchange="x", symbol="y", compute=ComputeConfig(n_jobs=1),
                                 progress=lambda f, m: reported.append((f, m)))
    assert got == [1]
    messages = [m for _, m in reported]
    assert any("fold 1: 5 analyst-train 0%" in m for m in messages), messages
    assert any("fold 1: 6 analyst-enhance 50%" in m for m in messages), messages  # in a step
    assert any("fold 1: 9 tactician-train" in m for m in messages), messages
    fractions = [f for f, _ in reported]
    assert fractions == sorted(fractions) and 0.05 < fractions[0] < fractions[-1] == 0.9
