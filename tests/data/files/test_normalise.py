"""Normalisation: values that do not convert, taker sides, and sorted output."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from polars.testing import assert_series_equal

from tests.data.files.helpers import (
    data_error,
    load,
)


def test_table_value_that_is_not_a_number(tmp_path: Path) -> None:
    path = tmp_path / "t.feather"
    pl.DataFrame({"timestamp": [1_704_067_200_000] * 2, "id": [1, 2], "price": ["1.5", "x"],
                  "qty": [1.0, 1.0], "is_buyer_maker": [True, False]}).write_ipc(path)
    assert str(data_error(path)) == f"{path}, row 2: price 'x' is not a number"


def test_sorted_output_from_unsorted_table(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pl.DataFrame({"trade_id": [3, 1, 2], "timestamp": [1_704_067_200_002, 1_704_067_200_000,
                  1_704_067_200_000], "price": [1.0] * 3, "qty": [1.0] * 3,
                  "side": ["buy", "sell", "BUY"]}).write_parquet(path)
    result = load(path)
    assert result.frame["trade_id"].to_list() == [1, 2, 3]
    assert_series_equal(result.frame["is_buyer_maker"],
                        pl.Series("is_buyer_maker", [True, False, False]))
