"""Tables as bytes: the one parquet encoding every stored table uses, so equal values give
equal bytes (and so equal digests) whichever part of ares wrote them."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

__all__ = ["read_table", "table_bytes"]


def table_bytes(frame: pl.DataFrame, level: int = 3) -> bytes:
    """Deterministic parquet bytes of `frame` (zstd at `level`, no statistics)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", compression_level=level, statistics=False)
    return buffer.getvalue()


def read_table(data: bytes, columns: list[str] | None = None) -> pl.DataFrame:
    """The table parquet bytes hold (only `columns` when given)."""
    import polars as pl

    return pl.read_parquet(io.BytesIO(data), columns=columns)
