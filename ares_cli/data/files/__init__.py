"""The `files` data source (DESIGN §5): the trades or candles of one symbol from local files.

Understood layouts, each sniffed per file from its content (the file name only breaks ties that
the content cannot, such as USD-M versus COIN-M aggTrades):

* Binance public data (data.binance.vision) CSV, plain, `.zip` (one CSV inside) or `.csv.gz`:
  spot, USD-M and COIN-M trades, aggTrades and klines; header row or not; ms or µs timestamps;
  a sibling `<name>.CHECKSUM` (`sha256  <name>`) is verified when present.
* freqtrade: trades `.feather` / `.parquet` / `.json.gz`, OHLCV `.feather` / `.parquet` / `.json`.
* Generic tables (parquet, feather, CSV) whose columns are found by name or mapped by the caller.

Everything is parsed in bulk by polars with explicit dtypes (no per-row Python) and normalised to
`TRADES_SCHEMA` or `BARS_SCHEMA`. Bad input raises `DataError` (exit 3) naming the file and, where
it applies, the 1-based line (CSV) or row (other formats); `locate_row` does the same for a row
that the shared validation rejects after the files are merged. A `[files]` setting that the file
contradicts (an explicit `timestamp_unit` on ISO text or datetimes, or one that makes the file's
dates absurd where another unit would not) raises `ConfigError` (exit 2).

Modules, one job each (inside the package, import from the defining module):

- `config`: the `[files]` section model `FilesConfig` and the column `ALIASES` (no I/O).
- `paths`: which files a list of files, folders and globs stands for.
- `loader`: the entry point `load_files` (read, merge, sort, deduplicate) and `locate_row`.
- `dispatch`: one file: bytes, checksum sidecar, and the reader its content calls for.
- `payloads`: plain, gzip and zip CSV payloads.
- `sniff`: a CSV's header and first rows.
- `binance_layouts`: the data.binance.vision CSV layouts and their detection.
- `csv_reader`: reading a CSV, and naming the first bad line when polars refuses it.
- `tables`: parquet and feather files, and named-column tables in general.
- `columns`: which file column holds which of ours (freqtrade names, aliases, the mapping).
- `json_shapes`: JSON tables in freqtrade's, ccxt's and pandas' shapes.
- `normalise`: casting to `TRADES_SCHEMA` / `BARS_SCHEMA`.
- `timestamps`: epoch units, datetimes and ISO text to UTC microseconds.
- `parsed`: one file's result (`Parsed`) and how rows are named in messages (`Where`).

The public names are re-exported here for users (`from ares_cli.data.files import load_files`).
They are loaded on first access, so that importing `ares_cli.data.files.config` (as the
configuration does) runs none of the readers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ares_cli.data.files.config import FilesConfig
    from ares_cli.data.files.json_shapes import JSON_SHAPES
    from ares_cli.data.files.loader import LoadedFiles, load_files, locate_row
    from ares_cli.data.files.paths import KNOWN_SUFFIXES, expand_paths

__all__ = [
    "JSON_SHAPES", "KNOWN_SUFFIXES", "FilesConfig", "LoadedFiles", "expand_paths", "load_files",
    "locate_row",
]

_DEFINED_IN = {
    "FilesConfig": "config",
    "JSON_SHAPES": "json_shapes",
    "KNOWN_SUFFIXES": "paths",
    "LoadedFiles": "loader",
    "expand_paths": "paths",
    "load_files": "loader",
    "locate_row": "loader",
}


def __getattr__(name: str) -> object:
    """A public name, imported from its defining module on first use (PEP 562)."""
    module = _DEFINED_IN.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
