"""The `files` source's entry point (DESIGN §5): load the trades or candles of one symbol.

`load_files` expands the paths (`paths`), reads every file, several at once (`dispatch`),
and merges them: concatenated in file order, sorted, and deduplicated keeping the first file's
copy of a repeated row. `locate_row` names the file and line (or row) of a row that the shared
validation rejects after the merge.

Which files a `data.paths` list stands for: files, folders (searched recursively) and globs; folders
and globs keep only files with a data suffix (`KNOWN_SUFFIXES`), so a `.CHECKSUM` sidecar is never
loaded as data.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ares_cli.data.files.config import FilesConfig
from ares_cli.data.files.dispatch import load_one
from ares_cli.data.files.parsed import Parsed, Where
from ares_cli.errors import DataError

__all__ = ["KNOWN_SUFFIXES", "LoadedFiles", "expand_paths", "load_files", "locate_row"]

_MAX_WORKERS = 4


@dataclass(frozen=True)
class LoadedFiles:
    """The merged content of the files plus what was detected in each of them.

    `frame` has exactly TRADES_SCHEMA (kind "trades") or BARS_SCHEMA (kind "candles"), sorted by
    (timestamp, trade_id) or timestamp. `files` holds one dict per file: path, layout, rows,
    time_unit, header, checksum ("ok" | "absent" | "skipped").
    """

    kind: str
    frame: pl.DataFrame
    timeframe_ms: int | None
    files: list[dict]
    duplicates_dropped: int


def load_files(paths: Sequence[str], options: FilesConfig = FilesConfig()) -> LoadedFiles:
    """Load, normalise, merge, sort and deduplicate the trades or candles held by `paths`."""
    files = expand_paths(paths)
    parsed = _load_all(files, options)
    kind = _common_kind(parsed)
    frame, dropped = _merge([p.frame for p in parsed], kind,
                            [p.where for p in parsed])
    timeframe = _timeframe_ms(frame["timestamp"]) if kind == "candles" else None
    return LoadedFiles(
        kind=kind,
        frame=frame,
        timeframe_ms=timeframe,
        files=[p.summary() for p in parsed],
        duplicates_dropped=dropped,
    )


def locate_row(paths: Sequence[str], options: FilesConfig, row: pl.DataFrame) -> str | None:
    """Where a row of `load_files(paths, options).frame` was read: `<file>, line N` or `, row N`.

    `row` is that row as a one-row frame (TRADES_SCHEMA or BARS_SCHEMA). load_files keeps no
    per-row origin, which would cost every load (a 17 M-row month) memory for the sake of one
    error message; instead the files are read again, one at a time and only when a row is
    rejected, and the first row in file order with exactly this content is named. The merge keeps
    the first copy of a repeated row, so that is the row that was loaded. None when no file
    holds it (the files changed since they were loaded).
    """
    same = pl.all_horizontal([pl.col(c).eq_missing(row.get_column(c)) for c in row.columns])
    for path in expand_paths(paths):
        parsed = load_one(path, options)
        if parsed.frame.columns != row.columns:
            continue
        hits = parsed.frame.select(same).to_series().arg_true()
        if hits.len():
            return parsed.where.at(int(hits[0]))
    return None


def _load_all(files: list[Path], options: FilesConfig) -> list[Parsed]:
    """Load every file, several at once: zlib and polars release the GIL, so threads overlap."""
    if len(files) == 1:
        return [load_one(files[0], options)]
    workers = min(_MAX_WORKERS, len(files), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: load_one(p, options), files))


def _common_kind(parsed: list[Parsed]) -> str:
    """The one kind all files hold; trades and candles cannot be merged."""
    first = parsed[0]
    for other in parsed[1:]:
        if other.kind != first.kind:
            raise DataError(
                f"cannot mix trades and candles in one load: {first.path} holds {first.kind}, "
                f"{other.path} holds {other.kind}"
            )
    return first.kind


# what two copies of one trade or candle must agree on (overlapping exports of the same data)
ESSENTIAL = {"trades": ("timestamp", "price", "qty"),
             "candles": ("open", "high", "low", "close", "volume")}


def _merge(frames: list[pl.DataFrame], kind: str,
           wheres: list[Where] | None = None) -> tuple[pl.DataFrame, int]:
    """Concatenate in file order, sort, and drop repeated keys keeping the first file's row.
    Copies that disagree on a price or a size are a DataError naming both rows: overlapping
    exports of the same market must hold the same data.

    The common case (files already ordered and not overlapping) is detected with cheap sortedness
    checks, so a large single file is neither re-sorted nor hashed.
    """
    df = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
    key = "trade_id" if kind == "trades" else "timestamp"
    order = ["timestamp", "trade_id"] if kind == "trades" else ["timestamp"]
    if df["timestamp"].is_sorted() and _strictly_increasing(df[key]):
        return df, 0
    _first_conflict(frames, kind, key, wheres)
    ordered = df.sort(order, maintain_order=True)
    deduped = ordered.filter(_first_of_run(key))
    if kind == "trades" and not _unique(deduped[key]):
        # The same id under different timestamps: keep the first file's row, then re-sort.
        deduped = df.unique(key, keep="first", maintain_order=True).sort(order)
    return deduped, df.height - deduped.height


def _first_conflict(frames: list[pl.DataFrame], kind: str, key: str,
                    wheres: list[Where] | None) -> None:
    """Raise a DataError at the first key whose copies differ in an essential column."""
    columns = [c for c in ESSENTIAL[kind] if c != key]
    tagged = pl.concat([f.select(key, *columns).with_columns(
        _file=pl.lit(i, pl.Int32), _row=pl.int_range(0, f.height, dtype=pl.Int64))
        for i, f in enumerate(frames)], how="vertical")
    repeated = tagged.filter(pl.col(key).is_duplicated())
    if repeated.height == 0:
        return
    first = repeated.group_by(key, maintain_order=True).first()
    clash = repeated.join(first, on=key, suffix="_first").filter(
        pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_first")) for c in columns]))
    if clash.height == 0:
        return
    row = clash.sort(key).row(0, named=True)

    def at(file: int, index: int) -> str:
        return wheres[file].at(index) if wheres else f"file {file + 1}, row {index + 1}"

    differ = ", ".join(f"{c} {row[f'{c}_first']} vs {row[c]}" for c in columns
                       if row[c] != row[f"{c}_first"])
    raise DataError(f"{at(row['_file_first'], row['_row_first'])} and "
                    f"{at(row['_file'], row['_row'])} hold the same {key} "
                    f"{row[key]} with different values ({differ}): overlapping exports must "
                    "agree; remove one of the files or fix the row")


def _first_of_run(column: str) -> pl.Expr:
    """True on the first row of each run of equal adjacent values of `column`."""
    col = pl.col(column)
    return (col != col.shift(1)).fill_null(True)


def _strictly_increasing(series: pl.Series) -> bool:
    """True when every value is larger than the one before (sorted and without repeats)."""
    if series.len() < 2:
        return True
    values = series.to_physical()
    return bool((values.slice(1) > values.slice(0, values.len() - 1)).all())


def _unique(series: pl.Series) -> bool:
    """True when no value repeats; cheap for sorted input."""
    if series.is_sorted():
        return _strictly_increasing(series)
    return series.n_unique() == series.len()


def _timeframe_ms(timestamps: pl.Series) -> int | None:
    """Bar length in ms: the most common gap between consecutive bars (smallest on ties)."""
    gaps = timestamps.cast(pl.Int64).diff().drop_nulls()
    gaps = gaps.filter(gaps > 0)
    if gaps.len() == 0:
        return None
    return int(gaps.mode().min()) // 1000


KNOWN_SUFFIXES = (
    ".csv", ".csv.gz", ".zip", ".parquet", ".feather", ".arrow", ".ipc", ".json", ".json.gz",
)


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Turn files, folders (searched recursively) and glob patterns into a list of data files.

    Folders and globs keep only files with a known data suffix (so `.CHECKSUM` siblings are never
    loaded as data); an explicitly named file is kept whatever its suffix. Order follows the
    arguments, each folder or glob sorted by path, without repeats.
    """
    found: dict[Path, None] = {}  # ordered set
    for pattern in paths:
        matches = _expand_one(pattern)
        if not matches and not _is_glob(pattern) and not Path(pattern).exists():
            raise DataError(f"no such file or folder: {pattern}")
        if not matches:
            raise DataError(
                f"no input files match {pattern!r} (looked for {', '.join(KNOWN_SUFFIXES)})"
            )
        found.update(dict.fromkeys(matches))
    return list(found)


def _has_known_suffix(path: Path) -> bool:
    """True for file names ending in one of KNOWN_SUFFIXES (case-insensitive)."""
    return path.name.lower().endswith(KNOWN_SUFFIXES)


def _is_glob(pattern: str) -> bool:
    """True when the argument is a glob pattern rather than a path."""
    return any(ch in pattern for ch in "*?[")


def _expand_one(pattern: str) -> list[Path]:
    """The data files one argument stands for; a missing plain path yields an empty list."""
    if _is_glob(pattern):
        hits = (Path(p) for p in glob.glob(pattern, recursive=True))
        return sorted(p for p in hits if p.is_file() and _has_known_suffix(p))
    path = Path(pattern)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and _has_known_suffix(p))
    return [path] if path.is_file() else []
