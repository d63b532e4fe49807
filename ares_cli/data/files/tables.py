"""Named-column tables: parquet and feather (Arrow IPC) files, and the frames of the CSV and
JSON readers whose columns are found by name (freqtrade's, or generic ones via `columns`).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import polars as pl

from ares_cli.data.files.columns import freqtrade_columns, resolve_columns
from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.normalise import canonical
from ares_cli.data.files.parsed import Parsed, Where
from ares_cli.errors import DataError

__all__ = ["from_frame", "load_frame", "read_binary_table"]


def read_binary_table(
    path: Path, raw: bytes, reader: Callable[[io.BytesIO], pl.DataFrame]
) -> pl.DataFrame:
    """A parquet or Arrow IPC (feather v2) file as a frame."""
    try:
        return reader(io.BytesIO(raw))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read file ({detail})") from exc


def load_frame(path: Path, frame: pl.DataFrame, ext: str, options: FilesConfig) -> Parsed:
    """A parquet/feather table: freqtrade layout or generic columns."""
    if options.format == "binance":
        raise DataError(f"{path}: format 'binance' reads CSV or zip files, not {ext}")
    return from_frame(path, frame, ext, False, Where(str(path)), options)


def from_frame(
    path: Path, frame: pl.DataFrame, ext: str, header: bool, where: Where, options: FilesConfig
) -> Parsed:
    """Find the columns of a named-column table and normalise it."""
    if frame.height == 0:
        raise DataError(f"{where.label}: no data rows")
    known = freqtrade_columns(frame.columns) if options.format in ("auto", "freqtrade") else None
    if known is None and options.format == "freqtrade":
        raise DataError(f"{where.label}: not a freqtrade trades or OHLCV file; columns are "
                        f"{frame.columns}")
    if known is not None and not options.columns:
        kind, mapping = known
        layout = f"freqtrade-{'trades' if kind == 'trades' else 'ohlcv'}-{ext}"
    else:
        kind, mapping = resolve_columns(frame.columns, options, where.label)
        layout = f"table-{kind}-{ext}"
    normalised, unit = canonical(frame, kind, mapping, options.timestamp_unit, where)
    return Parsed(path, kind, normalised, layout, unit, header, where)
