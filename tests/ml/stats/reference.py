"""The reference data of the validation-statistics tests: the CSVs of
shared/data/reference/stats (worked examples of its README.md, whose section numbers the tests
cite), read through `tests.conftest.SHARED_DATA`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

__all__ = ["REFERENCE", "reference"]

REFERENCE = SHARED_DATA / "reference" / "stats"


def reference(name: str) -> np.ndarray:
    """A CSV of the reference folder (header row skipped); skip the test when it is absent."""
    path = REFERENCE / name
    if not path.is_file():
        pytest.skip(f"reference data not found: {path}")
    return np.loadtxt(path, delimiter=",", skiprows=1)
