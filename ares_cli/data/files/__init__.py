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
- `loader`: which files `data.paths` names, the entry point `load_files` (read, merge, sort,
  deduplicate) and `locate_row`.
- `dispatch`: one file: bytes, checksum sidecar, and the reader its content calls for.
- `payloads`: plain, gzip and zip CSV payloads, and sniffing a CSV's header and first rows.
- `binance_layouts`: the data.binance.vision CSV layouts and their detection.
- `csv_reader`: reading a CSV, and naming the first bad line when polars refuses it.
- `tables`: parquet and feather files, and named-column tables in general.
- `columns`: which file column holds which of ours (freqtrade names, aliases, the mapping).
- `json_shapes`: JSON tables in freqtrade's, ccxt's and pandas' shapes.
- `normalise`: casting to `TRADES_SCHEMA` / `BARS_SCHEMA`.
- `timestamps`: epoch units, datetimes and ISO text to UTC microseconds.
- `parsed`: one file's result (`Parsed`) and how rows are named in messages (`Where`).

Public names (each module's `__all__`) are re-exported lazily for users, so importing
`ares_cli.data.files.config` (as the configuration does) loads no reader or client."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
