"""Reading a CSV: a Binance layout with its positional dtypes, or a generic table by name.

A Binance CSV is parsed in bulk with an explicit schema; any missing, extra or unparsable field
is a `DataError` naming the 1-based line and field, found after the failure by a vectorised
pass over the text (so the common case pays nothing for it). Other CSVs go to `tables`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

from ares_cli.data.files.binance_layouts import BinanceLayout, Columns, binance_layout
from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.normalise import TYPE_WORDS, canonical
from ares_cli.data.files.parsed import Parsed, Where
from ares_cli.data.files.payloads import CsvPayload, preamble_lines, sniff, without_preamble
from ares_cli.data.files.tables import from_frame
from ares_cli.errors import DataError

__all__ = ["load_csv"]


def load_csv(payload: CsvPayload, path: Path, options: FilesConfig) -> Parsed:
    """A CSV: Binance layout when it looks like one (or is declared so), else a table."""
    skipped = preamble_lines(payload)
    if skipped:  # e.g. a download site's URL above the header: read the table below it
        payload = without_preamble(payload, skipped)
    header, rows = sniff(payload)
    if not rows:
        raise DataError(f"{payload.label}: no data rows after the header")
    layout = binance_layout(header, rows, path) if options.format in ("auto", "binance") else None
    if layout is None and options.format == "binance":
        raise DataError(
            f"{payload.label}, line 1: not a Binance public-data layout "
            f"({len(header or rows[0])} fields: {','.join(header or rows[0])[:120]!r})"
        )
    if layout is not None:
        parsed = _load_binance(payload, path, layout, header is not None, options)
    else:
        frame = _read_table_csv(payload, header is not None)
        where = Where(payload.label, first_line=(2 if header is not None else 1) + skipped)
        parsed = from_frame(path, frame, "csv", header is not None, where, options)
    return dataclasses.replace(parsed, preamble_lines=skipped) if skipped else parsed


def _load_binance(
    payload: CsvPayload, path: Path, layout: BinanceLayout, header: bool, options: FilesConfig
) -> Parsed:
    """Read a Binance CSV with its positional dtypes and normalise it."""
    df = _read_csv_strict(payload, layout.columns, header)
    where = Where(payload.label, first_line=2 if header else 1)
    frame, unit = canonical(df, layout.kind, layout.mapping, options.timestamp_unit, where)
    return Parsed(path, layout.kind, frame, layout.name, unit, header, where)


def _read_csv_strict(payload: CsvPayload, columns: Columns, header: bool) -> pl.DataFrame:
    """Parse with an explicit schema; any missing, extra or unparsable field is a DataError."""
    try:
        df = pl.read_csv(
            payload.data, has_header=False, skip_rows=int(header), schema=dict(columns)
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _csv_error(payload, columns, header, exc) from exc
    df = _drop_trailing_blank_rows(df)
    if df.height == 0:
        raise DataError(f"{payload.label}: no data rows")
    if any(df.null_count().row(0)):
        raise _csv_error(payload, columns, header, None)
    return df


def _drop_trailing_blank_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Blank lines at the end of a file read as all-null rows; they are not data."""
    if df.height == 0 or any(v is not None for v in df.row(-1)):
        return df
    blank = df.select(pl.all_horizontal(pl.all().is_null())).to_series()
    kept = blank.not_().arg_true()
    return df.head(int(kept[-1]) + 1 if kept.len() else 0)


def _read_table_csv(payload: CsvPayload, header: bool) -> pl.DataFrame:
    """A generic CSV, dtypes inferred from every row so a stray value becomes a locatable string."""
    try:
        df = pl.read_csv(payload.data, has_header=header, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError) as exc:
        width = len(sniff(payload)[1][0])
        columns = tuple((f"column_{i + 1}", pl.String()) for i in range(width))
        raise _csv_error(payload, columns, header, exc, allow_empty=True) from exc
    if not header:
        df.columns = [f"column_{i + 1}" for i in range(df.width)]
    return _drop_trailing_blank_rows(df)


def _csv_error(
    payload: CsvPayload,
    columns: Columns,
    header: bool,
    exc: Exception | None,
    *,
    allow_empty: bool = False,
) -> DataError:
    """Name the first bad line of a CSV that polars refused (or read with holes)."""
    text = payload.plain()  # raises DataError itself when the archive is corrupt
    found = _first_bad_line(text, columns, header, allow_empty)
    if found is not None:
        line, problem = found
        return DataError(f"{payload.label}, line {line}: {problem}")
    detail = str(exc).strip().splitlines()[0] if exc else "missing values"
    return DataError(f"{payload.label}: cannot parse CSV ({detail})")


def _first_bad_line(
    text: bytes, columns: Columns, header: bool, allow_empty: bool
) -> tuple[int, str] | None:
    """1-based number and description of the first line that does not fit `columns`.

    Runs only after a failure; it reads the file one line per row and checks field counts and
    values with vectorised polars expressions, so it stays fast on large files.
    """
    try:
        lines = pl.read_csv(
            text, has_header=False, schema={"line": pl.String()}, separator="\x1f", quote_char=None
        )
    except pl.exceptions.PolarsError:
        return None
    lines = _drop_trailing_blank_rows(lines).with_row_index("index").slice(int(header))
    parts = pl.col("line").str.strip_chars_end("\r").str.split(",")
    fits = parts.list.len() == len(columns)
    for position, (_name, dtype) in enumerate(columns):
        fits = fits & _parses(parts.list.get(position, null_on_oob=True), dtype, allow_empty)
    bad = lines.filter(~fits.fill_null(False)).head(1)
    if bad.height == 0:
        return None
    index, line = bad.row(0)
    return index + 1, _describe_line(line, columns, allow_empty)


def _parses(value: pl.Expr, dtype: pl.DataType, allow_empty: bool) -> pl.Expr:
    """Whether a CSV field (string expression) reads as `dtype`."""
    if dtype == pl.Boolean:
        return value.str.strip_chars().str.to_lowercase().is_in(["true", "false"])
    if dtype == pl.String:
        return pl.lit(True) if allow_empty else value.str.len_chars() > 0
    return value.cast(dtype, strict=False).is_not_null()


def _describe_line(line: str | None, columns: Columns, allow_empty: bool) -> str:
    """Why one CSV line does not fit: empty, wrong field count, or which value is bad."""
    if line is None or not line.strip():
        return f"empty line (expected {len(columns)} fields)"
    fields = line.rstrip("\r").split(",")
    if len(fields) != len(columns):
        return f"expected {len(columns)} fields, found {len(fields)}: {_clip(line)!r}"
    for position, ((name, dtype), value) in enumerate(zip(columns, fields, strict=True), start=1):
        frame = pl.DataFrame({"v": [value]}, schema={"v": pl.String()})
        if not frame.select(_parses(pl.col("v"), dtype, allow_empty)).item():
            word = TYPE_WORDS.get(type(dtype), "a value")
            return f"field {position} ({name}) {value!r} is not {word}"
    return f"cannot parse {_clip(line)!r}"


def _clip(text: str, width: int = 120) -> str:
    """A line shortened for an error message."""
    return text if len(text) <= width else text[: width - 3] + "..."
