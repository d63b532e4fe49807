"""JSON tables: freqtrade's lists of rows, ccxt trade dicts, and pandas' `DataFrame.to_json`
in every orient (`JSON_SHAPES` lists them; a file of another shape is a `DataError` that does).

The parsed JSON becomes a frame with named columns (index labels added as a column, or as the
timestamp when they are times) and goes on to `tables.from_frame`. Rows are named by their
1-based position in messages.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from ares_cli.data.files.config import ALIASES, FilesConfig
from ares_cli.data.files.parsed import Parsed, Where
from ares_cli.data.files.payloads import blank
from ares_cli.data.files.tables import from_frame
from ares_cli.errors import DataError

__all__ = ["JSON_SHAPES", "load_json"]


# JSON: freqtrade lists of lists, ccxt trade dicts, and pandas `DataFrame.to_json` orients.
_JSON_TRADE_NAMES = ("timestamp", "id", "type", "side", "price", "amount", "cost")
_JSON_OHLCV_NAMES = ("date", "open", "high", "low", "close", "volume")
_CCXT_TRADE_KEYS = ("timestamp", "id", "side", "price", "amount")

# The JSON layouts read (pandas' DataFrame.to_json orients), listed when a file has another.
JSON_SHAPES = (
    "a list of rows [[ts, open, high, low, close, volume], ...] or "
    "[[ts, id, type, side, price, amount, cost], ...] (freqtrade; pandas orient='values')",
    "a list of records [{column: value}, ...] (pandas orient='records'; ccxt trade dicts)",
    "{column: {index: value}} (pandas orient='columns')",
    "{index: {column: value}} (pandas orient='index')",
    "{'columns': [...], 'index': [...], 'data': [[...]]} (pandas orient='split')",
    "{'schema': {...}, 'data': [{column: value}, ...]} (pandas orient='table')",
)


def load_json(path: Path, text: bytes, options: FilesConfig) -> Parsed:
    """A JSON table in any of JSON_SHAPES: freqtrade's trades `[ts, id, type, side, price,
    amount, cost]` or OHLCV `[ms, o, h, l, c, v]` rows, ccxt trade dicts, or a pandas frame
    written with any orient. Rows are named by their 1-based position in messages."""
    if options.format not in ("auto", "freqtrade"):
        raise DataError(f"{path}: format {options.format!r} does not read JSON files")
    if blank(text):
        raise DataError(f"{path}: file is empty")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{path}, line {line}" if line else str(path)
        raise DataError(f"{where}: not valid JSON ({getattr(exc, 'msg', exc)})") from exc
    frame, index = _json_table(path, data, options)
    if frame.height == 0:
        raise DataError(f"{path}: no data rows")
    frame = _with_index(path, frame, index, options)
    return from_frame(path, frame, "json", False, Where(str(path)), options)


def _json_table(
    path: Path, data: object, options: FilesConfig
) -> tuple[pl.DataFrame, list | None]:
    """The frame held by parsed JSON, and its index labels when the shape carries them."""
    if isinstance(data, list):
        if not data:
            raise DataError(f"{path}: no data rows")
        if isinstance(data[0], dict):
            return _json_records(path, data), None
        if isinstance(data[0], list):
            return _json_rows(path, data), None
        raise _shape_error(path, f"a list of {type(data[0]).__name__}s ({data[0]!r:.40})")
    if not isinstance(data, dict):
        raise _shape_error(path, type(data).__name__)
    if not data:
        raise DataError(f"{path}: no data rows")
    if isinstance(data.get("columns"), list) and isinstance(data.get("data"), list):
        index = data.get("index")
        names = [str(name) for name in data["columns"]]
        frame = _json_rows(path, data["data"], names) if data["data"] else pl.DataFrame()
        return frame, (index if isinstance(index, list) else None)
    if isinstance(data.get("schema"), dict) and isinstance(data.get("data"), list):
        return (_json_records(path, data["data"]) if data["data"] else pl.DataFrame()), None
    if all(isinstance(value, dict) for value in data.values()):
        if _dict_orient(path, data, options) == "columns":
            return _json_columns(path, data)
        return _json_records(path, list(data.values())), list(data)
    keys = ", ".join(repr(k) for k in list(data)[:6])
    raise _shape_error(path, f"an object with keys {keys}")


def _shape_error(path: Path, found: str) -> DataError:
    """The error for JSON of a shape that is not a table, listing the shapes that are read."""
    shapes = "; ".join(JSON_SHAPES)
    return DataError(f"{path}: not a JSON table: found {found}; expected one of: {shapes}")


def _json_rows(path: Path, data: list, names: Sequence[str] | None = None) -> pl.DataFrame:
    """Lists of values as a frame: named by `names` (orient='split'), else by the row width:
    freqtrade's 7-value trades or 6-value OHLCV rows."""
    width = len(data[0]) if isinstance(data[0], list) else -1
    if names is None:
        names = {7: _JSON_TRADE_NAMES, 6: _JSON_OHLCV_NAMES}.get(width)
        if names is None:
            raise DataError(f"{path}, row 1: expected 7 (trades) or 6 (OHLCV) values per row")
    else:
        width = len(names)
    for index, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise DataError(f"{path}, row {index + 1}: expected {width} values, found {row!r:.80}")
    columns = zip(*data, strict=True)
    return pl.DataFrame(
        [_json_column(path, name, list(values))
         for name, values in zip(names, columns, strict=True)]
    )


def _json_records(path: Path, rows: list) -> pl.DataFrame:
    """A list of objects (orient='records', the values of orient='index', ccxt trade dicts).

    Columns are every key seen, in first-seen order; a key a row lacks is null there. ccxt
    trade dicts keep only the trade fields (their nested `info`/`fee` are not table columns).
    """
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise DataError(f"{path}, row {index + 1}: expected an object like row 1, found "
                            f"{row!r:.80}")
    if set(_CCXT_TRADE_KEYS) <= rows[0].keys():
        keys: Sequence[str] = _CCXT_TRADE_KEYS
    else:
        keys = list(dict.fromkeys(itertools.chain.from_iterable(rows)))
    return pl.DataFrame([_json_column(path, str(k), [row.get(k) for row in rows]) for k in keys])


def _json_columns(path: Path, data: dict) -> tuple[pl.DataFrame, list]:
    """orient='columns': {column: {index: value}}, rows in the order of the first column."""
    index = list(next(iter(data.values())))
    columns = []
    for name, cells in data.items():
        ordered = list(cells) == index  # pandas writes every column in the same order
        values = list(cells.values()) if ordered else [cells.get(label) for label in index]
        columns.append(_json_column(path, str(name), values))
    return pl.DataFrame(columns), index


def _json_column(path: Path, name: str, values: list) -> pl.Series:
    """One column of JSON values, typed by their common supertype (mixed ones become text)."""
    try:
        return pl.Series(name, values, strict=False)
    except (pl.exceptions.PolarsError, TypeError, ValueError, OverflowError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: column {name!r}: cannot read its values ({detail})") from exc


def _known_names(options: FilesConfig) -> set[str]:
    """Lower-case column names the loader recognises: aliases, freqtrade's, the caller's."""
    names = {alias for aliases in ALIASES.values() for alias in aliases}
    names.update(_JSON_TRADE_NAMES, _JSON_OHLCV_NAMES)
    names.update(column.lower() for column in options.columns.values())
    return names


def _dict_orient(path: Path, data: dict, options: FilesConfig) -> str:
    """"columns" or "index" for an object of objects: the level whose keys name columns."""
    known = _known_names(options)
    outer = list(itertools.islice(data, 64))
    inner = list(itertools.islice(next(iter(data.values())), 64))
    outer_score = sum(str(key).lower() in known for key in outer)
    inner_score = sum(str(key).lower() in known for key in inner)
    if outer_score != inner_score:
        return "columns" if outer_score > inner_score else "index"
    raise DataError(
        f"{path}: a JSON object of objects, but neither its keys ({', '.join(outer[:6])}) nor "
        f"those of its first value ({', '.join(inner[:6])}) name known columns, so "
        "orient='columns' cannot be told from orient='index' (name the columns with "
        "[files] columns)"
    )


def _with_index(
    path: Path, frame: pl.DataFrame, index: list | None, options: FilesConfig
) -> pl.DataFrame:
    """Add the index labels of orient 'split', 'columns' or 'index' as a column.

    pandas writes a DatetimeIndex as epoch milliseconds (or ISO text), so when no column holds
    the time and the index is not the default 0, 1, 2, ... the index becomes the timestamp;
    otherwise it is the column "index" (which [files] columns can map).
    """
    if index is None or len(index) != frame.height:
        return frame
    labels = _json_column(path, "index", index)
    lower = {column.lower() for column in frame.columns}
    has_time = "timestamp" in options.columns or any(a in lower for a in ALIASES["timestamp"])
    if not has_time and not _default_range(labels):
        return frame.with_columns(labels.alias("timestamp"))
    return frame if "index" in lower else frame.with_columns(labels)


def _default_range(labels: pl.Series) -> bool:
    """True for pandas' default RangeIndex labels 0, 1, 2, ... (numbers or their text)."""
    numbers = labels.cast(pl.Int64, strict=False)
    if numbers.null_count():
        return False
    return bool((numbers == pl.int_range(0, labels.len(), eager=True)).all())
