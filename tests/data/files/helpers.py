"""Helpers shared by the tests of the `files` loader (real samples from ../shared/data and generated
Binance files)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.loader import LoadedFiles, load_files
from ares_cli.errors import DataError
from tests.data.binance_files import (
    csv_bytes,
    generate,
    write_zip,
)

AGG_CSV = "real/binance/derived_from_freqtrade/XRPETH-aggTrades-2019-10-11_2019-10-13.csv"
AGG_ZIP = "BTCUSDT-aggTrades-2024-01-01.zip"


def load(*paths: Path | str, **options: object) -> LoadedFiles:
    """load_files on paths given as Path or str."""
    return load_files([str(p) for p in paths], FilesConfig(**options))


def micros(frame: pl.DataFrame) -> list[int]:
    """The timestamp column as epoch microseconds."""
    return frame["timestamp"].cast(pl.Int64).to_list()


def agg_zip(folder: Path, n: int = 5) -> Path:
    """A spot aggTrades zip of `n` generated rows, without CHECKSUM."""
    return write_zip(folder / AGG_ZIP, csv_bytes(generate("spot-aggTrades", n=n)))


def data_error(*paths: Path | str, **options: object) -> DataError:
    """The DataError load_files raises (and check it maps to exit code 3)."""
    with pytest.raises(DataError) as caught:
        load(*paths, **options)
    assert caught.value.exit_code == 3
    return caught.value


def expected_layout(variant: str) -> str:
    """Layout name reported for a file stored where data.binance.vision keeps it."""
    market, dataset = variant.split("-")
    return f"binance-{market}-{dataset}"


def assert_matches(result: LoadedFiles, expected: dict[str, list]) -> None:
    """Every expected column equals the loaded one (timestamps compared as epoch µs)."""
    for column, values in expected.items():
        loaded = micros(result.frame) if column == "timestamp" else result.frame[column].to_list()
        assert loaded == values, column
