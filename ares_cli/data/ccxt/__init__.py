"""The `ccxt` data source (DESIGN §5): an exchange's public trades, downloaded incrementally and
crash-safely into a local chunk cache.

Modules, one job each (inside the package, import from the defining module):

- `config`: the `[ccxt]` section model `CcxtConfig` (no I/O, no ccxt import).
- `download`: the entry point `download_trades`, its `DownloadResult` and `count_id_gaps`.
- `client`: the ccxt client, `Credentials`, secret redaction, calls with retries and backoff.
- `paging`: one download's page loop (by aggregate-trade id on Binance, else by time).
- `cache`: the parquet chunk cache and the time ranges each chunk proves complete.
- `intervals`: half-open millisecond intervals (coverage and gaps).

The public names are re-exported here for users (`from ares_cli.data.ccxt import
download_trades`). They are loaded on first access, so that importing
`ares_cli.data.ccxt.config` (as the configuration does) loads neither the client nor ccxt.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ares_cli.data.ccxt.client import Credentials
    from ares_cli.data.ccxt.config import CcxtConfig
    from ares_cli.data.ccxt.download import DownloadResult, count_id_gaps, download_trades

__all__ = ["CcxtConfig", "Credentials", "DownloadResult", "count_id_gaps", "download_trades"]

_DEFINED_IN = {
    "CcxtConfig": "config",
    "Credentials": "client",
    "DownloadResult": "download",
    "count_id_gaps": "download",
    "download_trades": "download",
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
