"""Purged, embargoed cross-validation for labels that look forward (López de Prado, AFML ch. 7).

A triple-barrier label at `t0` is decided at `t1 > t0`, so a training sample whose window
`[t0, t1]` overlaps a test fold shares outcomes with it: plain K-fold leaks the test answers into
training. `PurgedKFold` removes those samples (purge) and the samples right after the test block
(embargo, against serial correlation of features), which is what DESIGN.md promise 2 requires of
every split. Pure and I/O-free.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ares_cli.errors import InsufficientData

__all__ = ["PurgedKFold", "purge_overlapping"]


class PurgedKFold:
    """K contiguous folds in time order; purges training rows whose [t0, t1] overlaps the test
    fold's span, embargoes the rows that start just after that span.

    For each fold the test set is one contiguous block of samples (blocks as in
    `np.array_split`, so sizes differ by at most one). Its span is `[min t0, max t1]` over the
    block: it ends with the latest label end of the block, not with its last row. A sample
    outside the block is dropped from training when its closed interval `[t0_i, t1_i]`
    intersects the span (`t0_i <= span_end and t1_i >= span_start`), and, as López de Prado
    prescribes, when it starts inside the embargo that follows the purged span
    (`span_end < t0_i <= span_end + embargo`). Everything else is training, on both sides.

    `t0` / `t1` may be bar indices or epoch microseconds; the embargo is in the same unit
    (bars for bar indices), so it spans the same time whether or not every bar is a sample.

    A fold can end up with an empty training set (e.g. labels that span the whole series); the
    caller decides what that means.
    """

    def __init__(self, n_splits: int = 5, embargo: int = 0) -> None:
        if isinstance(n_splits, bool) or int(n_splits) != n_splits or n_splits < 2:
            raise ValueError(f"PurgedKFold needs n_splits >= 2 (an integer), got {n_splits!r}")
        if isinstance(embargo, bool) or int(embargo) != embargo or embargo < 0:
            raise ValueError(f"PurgedKFold needs embargo >= 0 (an integer), got {embargo!r}")
        self.n_splits = int(n_splits)
        self.embargo = int(embargo)

    def get_n_splits(self) -> int:
        """Number of folds (scikit-learn splitter convention)."""
        return self.n_splits

    def split(self, t0: np.ndarray, t1: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield `(train_indices, test_indices)` for each fold, in time order.

        Args:
            t0: start of each sample's label window (int64), sorted ascending.
            t1: end of each sample's label window (int64), `t1 >= t0` element-wise.

        Raises:
            ValueError: on mismatched / unsorted input, `t1 < t0`, or fewer samples than folds.
        """
        start, end = _check_windows(t0, t1)
        n = start.size
        if n < self.n_splits:
            raise InsufficientData(
                f"purged {self.n_splits}-fold CV needs at least {self.n_splits} labelled rows, "
                f"got {n}"
            )
        if n > 1 and (np.diff(start) < 0).any():
            raise ValueError("t0 must be sorted ascending (samples in time order)")
        positions = np.arange(n)
        for test in np.array_split(positions, self.n_splits):
            lo, hi = int(test[0]), int(test[-1]) + 1
            span_start = start[lo:hi].min()
            span_end = end[lo:hi].max()
            keep = (end < span_start) | (start > span_end + self.embargo)
            keep[lo:hi] = False
            yield positions[keep], test


def purge_overlapping(
    train_t0: np.ndarray, train_t1: np.ndarray, eval_start: int | np.integer
) -> np.ndarray:
    """Boolean mask of training samples whose label is decided strictly before `eval_start`.

    Used to purge the end of a training window that precedes a validation/test window: a sample
    with `t1 >= eval_start` would have its outcome drawn from the evaluation period. `train_t0`
    is only checked (same length, `t1 >= t0`), so the call reads the same as `PurgedKFold.split`.
    """
    _, end = _check_windows(train_t0, train_t1)
    return end < eval_start


def _check_windows(t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate label windows and return them as int64 arrays."""
    start = np.asarray(t0)
    end = np.asarray(t1)
    if start.ndim != 1 or start.shape != end.shape:
        raise ValueError(
            f"t0 and t1 must be 1-D of equal length, got {start.shape} and {end.shape}"
        )
    for name, arr in (("t0", start), ("t1", end)):
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(
                f"{name} must be an integer array (bar index or epoch µs), got {arr.dtype}"
            )
    start = start.astype(np.int64, copy=False)
    end = end.astype(np.int64, copy=False)
    if (end < start).any():
        raise ValueError("every t1 must be >= its t0")
    return start, end
