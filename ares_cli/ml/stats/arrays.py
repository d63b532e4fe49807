"""Shared array helpers and type aliases of the validation statistics (`sharpe`, `pbo`,
`resampling`, `permutation`, `comparisons`). Pure NumPy, no I/O.

- Every random draw goes through an explicit `seed` argument (an int or a `np.random.Generator`,
  turned into a generator by `make_rng`); the same inputs and seed give the same numbers.
- Resampling runs in chunks (`row_chunks`) of about `CHUNK_ELEMENTS` index cells, so memory
  stays bounded for n ~ 10^5 and 1000-2000 replicates.
- Inputs are checked and converted by `as_vector`; 0-d results come back as Python floats
  (`scalar_or_array`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np

__all__ = [
    "CHUNK_ELEMENTS",
    "BlockMethod",
    "ReturnKind",
    "Seed",
    "as_vector",
    "make_rng",
    "row_chunks",
    "scalar_or_array",
]

CHUNK_ELEMENTS = 1 << 20  # index cells resampled at once (a few 8 MB arrays per chunk)

Seed = int | np.random.Generator | None
ReturnKind = Literal["simple", "log"]
BlockMethod = Literal["stationary", "circular"]


def make_rng(seed: Seed) -> np.random.Generator:
    return np.random.default_rng(seed)


def scalar_or_array(value: np.ndarray) -> float | np.ndarray:
    """A Python float for a 0-d result, else the array."""
    arr = np.asarray(value)
    return float(arr) if arr.ndim == 0 else arr


def row_chunks(n_rows: int, row_length: int) -> Iterator[tuple[int, int]]:
    step = max(1, CHUNK_ELEMENTS // max(row_length, 1))
    for start in range(0, n_rows, step):
        yield start, min(n_rows, start + step)


def as_vector(values: np.ndarray | Sequence[float], name: str, min_size: int = 2) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < min_size:
        raise ValueError(f"{name} must be a 1-d array of at least {min_size} values")
    if not np.isfinite(x).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return x
