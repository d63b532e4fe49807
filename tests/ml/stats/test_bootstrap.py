"""Block bootstrap: the Politis-White block length against the worked AR(1) examples."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ares_cli.ml.stats.bootstrap import block_indices, optimal_block_length
from tests.conftest import shared_file

# arch 8.0.0's optimal_block_length on shared/data/reference/stats/blocklen_ar1_n1000.csv (§5).
ARCH = {"iid": (0.834052, 0.954751), "ar1_phi0.5": (8.964077, 10.261306),
        "ar1_phi0.9": (30.348310, 34.740142)}


@pytest.mark.parametrize("column", sorted(ARCH))
def test_block_length_matches_the_reference(column):
    data = pl.read_csv(shared_file("reference/stats/blocklen_ar1_n1000.csv"))
    stationary, circular = optimal_block_length(data[column].to_numpy())
    assert stationary == pytest.approx(ARCH[column][0], abs=1e-6)
    assert circular == pytest.approx(ARCH[column][1], abs=1e-6)


def test_constant_and_tiny_series_get_one():
    assert optimal_block_length(np.ones(50)) == (1.0, 1.0)
    assert optimal_block_length(np.arange(3.0)) == (1.0, 1.0)


def test_block_indices_are_circular_runs():
    idx = block_indices(10, 4, 50, np.random.default_rng(0))
    assert idx.shape == (50, 10)
    steps = np.diff(idx[:, :4], axis=1) % 10
    assert (steps == 1).all()  # a block is consecutive rows, wrapping at the end
