"""PurgedKFold and purge_overlapping: a hand-checked example and property tests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ares_cli.errors import InsufficientData
from ares_cli.ml.models.cv import PurgedKFold, purge_overlapping


def test_hand_checked_example() -> None:
    # 10 samples, each label spans 2 bars ahead: [i, i + 2].
    t0 = np.arange(10, dtype=np.int64)
    t1 = t0 + 2
    folds = list(PurgedKFold(n_splits=5, embargo=1).split(t0, t1))
    assert [test.tolist() for _, test in folds] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    trains = [train.tolist() for train, _ in folds]
    # Fold 0: span [0, 3] purges 2, 3 (label reaches 3); the embargo after the span drops 4.
    assert trains[0] == [5, 6, 7, 8, 9]
    # Fold 2: span [4, 7] purges 2, 3 (t1 4, 5) and 6, 7 (t0 <= 7); embargo 8 (t0 in (7, 8]).
    assert trains[2] == [0, 1, 9]
    # Last fold: span [8, 11] purges 6, 7; nothing after it to embargo.
    assert trains[4] == [0, 1, 2, 3, 4, 5]


def test_embargo_reaches_past_purge() -> None:
    # Point labels (t1 == t0) need no purge; only the embargo removes rows after the test block.
    t0 = np.arange(12, dtype=np.int64)
    train, test = next(iter(PurgedKFold(n_splits=3, embargo=2).split(t0, t0)))
    assert test.tolist() == [0, 1, 2, 3]
    assert train.tolist() == [6, 7, 8, 9, 10, 11]


def test_embargo_starts_after_the_latest_label_end_of_the_test_fold() -> None:
    """López de Prado: the embargo follows the purged span, not the test block's last row.

    Row 3's label runs to bar 9, so rows 4..9 are purged by overlap; an embargo of 2 bars then
    drops rows starting at bars 10 and 11. Counting the embargo from the block's last row
    (rows 4, 5) would have dropped nothing that the purge had not already dropped.
    """
    t0 = np.arange(16, dtype=np.int64)
    t1 = t0.copy()
    t1[3] = 9
    train, test = next(iter(PurgedKFold(n_splits=4, embargo=2).split(t0, t1)))
    assert test.tolist() == [0, 1, 2, 3]
    assert train.tolist() == [12, 13, 14, 15]


def test_embargo_is_in_time_units_not_rows() -> None:
    """Sparse samples (one every 5 bars): an embargo of 6 bars drops one row, not six."""
    t0 = np.arange(0, 100, 5, dtype=np.int64)
    train, test = next(iter(PurgedKFold(n_splits=4, embargo=6).split(t0, t0)))
    assert t0[test].tolist() == [0, 5, 10, 15, 20]
    assert t0[train].min() == 30  # 25 lies in (20, 26]; 30 does not


def test_works_on_epoch_microseconds() -> None:
    hour = 3_600_000_000
    t0 = np.arange(6, dtype=np.int64) * hour + 1_700_000_000_000_000
    t1 = t0 + hour  # each label decided one bar later
    folds = list(PurgedKFold(n_splits=3).split(t0, t1))
    assert [train.tolist() for train, _ in folds] == [[3, 4, 5], [0, 5], [0, 1, 2]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_splits": 1}, "n_splits >= 2"), ({"embargo": -1}, "embargo >= 0")],
)
def test_rejects_bad_parameters(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PurgedKFold(**kwargs)


def test_rejects_bad_samples() -> None:
    cv = PurgedKFold(n_splits=4)
    with pytest.raises(InsufficientData, match="at least 4 labelled rows"):
        list(cv.split(np.arange(3), np.arange(3)))
    with pytest.raises(ValueError, match="sorted"):
        list(cv.split(np.array([0, 2, 1, 3, 4]), np.array([5, 5, 5, 5, 5])))
    with pytest.raises(ValueError, match=">= its t0"):
        list(cv.split(np.arange(5), np.arange(5) - 1))
    with pytest.raises(ValueError, match="equal length"):
        list(cv.split(np.arange(5), np.arange(4)))


def test_purge_overlapping() -> None:
    t0 = np.array([0, 1, 2, 3, 4])
    t1 = np.array([2, 3, 5, 4, 9])
    assert purge_overlapping(t0, t1, eval_start=4).tolist() == [True, True, False, False, False]
    assert purge_overlapping(t0, t1, eval_start=100).all()
    with pytest.raises(ValueError):
        purge_overlapping(t0, t1 - 3, eval_start=4)


@st.composite
def label_windows(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Sorted t0 (ties allowed), random label lengths, a fold count and an embargo."""
    n = draw(st.integers(min_value=2, max_value=60))
    steps = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    lengths = draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))
    t0 = np.cumsum(np.asarray(steps, dtype=np.int64))
    t1 = t0 + np.asarray(lengths, dtype=np.int64)
    n_splits = draw(st.integers(min_value=2, max_value=min(n, 8)))
    embargo = draw(st.integers(min_value=0, max_value=6))
    return t0, t1, n_splits, embargo


@settings(max_examples=200, deadline=None)
@given(label_windows())
def test_purged_kfold_properties(case: tuple[np.ndarray, np.ndarray, int, int]) -> None:
    t0, t1, n_splits, embargo = case
    n = t0.size
    folds = list(PurgedKFold(n_splits=n_splits, embargo=embargo).split(t0, t1))
    assert len(folds) == n_splits
    # Test blocks are contiguous, in order, and partition the samples.
    tests = [test for _, test in folds]
    assert np.array_equal(np.concatenate(tests), np.arange(n))
    everyone = set(range(n))
    for train, test in folds:
        assert np.array_equal(test, np.arange(test[0], test[-1] + 1))
        assert np.array_equal(train, np.unique(train))
        span_start, span_end = t0[test].min(), t1[test].max()
        overlaps = {i for i in range(n) if t0[i] <= span_end and t1[i] >= span_start}
        embargoed = {i for i in range(n) if span_end < t0[i] <= span_end + embargo}
        train_set, test_set = set(train.tolist()), set(test.tolist())
        assert not train_set & test_set
        # No training label window touches the test span.
        assert ((t1[train] < span_start) | (t0[train] > span_end)).all()
        assert not train_set & embargoed
        # Nothing is lost: every sample is trained on, tested, purged or embargoed...
        assert train_set | test_set | overlaps | embargoed == everyone
        # ...and nothing is removed without a reason.
        assert everyone - train_set - test_set <= overlaps | embargoed


@settings(max_examples=100, deadline=None)
@given(label_windows(), st.integers(min_value=0, max_value=80))
def test_purge_overlapping_property(
    case: tuple[np.ndarray, np.ndarray, int, int], eval_start: int
) -> None:
    t0, t1, _, _ = case
    keep = purge_overlapping(t0, t1, eval_start)
    assert (t1[keep] < eval_start).all()
    assert (t1[~keep] >= eval_start).all()
