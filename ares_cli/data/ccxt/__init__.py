"""The `ccxt` data source (DESIGN §5): an exchange's public trades, downloaded incrementally and
crash-safely into a local chunk cache.

Modules, one job each (inside the package, import from the defining module):

- `config`: the `[ccxt]` section model `CcxtConfig` (no I/O, no ccxt import).
- `download`: the entry point `download_trades`, and its `DownloadResult`.
- `client`: the ccxt client, `Credentials`, secret redaction, calls with retries and backoff.
- `paging`: one download's page loop (by aggregate-trade id on Binance, else by time).
- `cache`: the parquet chunk cache and the time ranges each chunk proves complete.
- `intervals`: half-open millisecond intervals (coverage and gaps).

Public names (each module's `__all__`) are re-exported lazily for users, so importing
`ares_cli.data.ccxt.config` (as the configuration does) loads no reader or client."""

from ares_cli.util.lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, __path__)
