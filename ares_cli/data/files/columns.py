"""Which file column holds which of ours: freqtrade's fixed names, or a generic table's.

A generic table's columns are the caller's `[files] columns` mapping first, then the first
recognised alias (`ALIASES`, case-insensitive); the kind (trades or candles) is declared or
guessed from what was found. A column that cannot be found is a `DataError` naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping

from ares_cli.data.files.config import ALIASES, FilesConfig
from ares_cli.errors import DataError

__all__ = ["freqtrade_columns", "resolve_columns"]


_FREQTRADE_TRADES = {
    "timestamp": "timestamp", "trade_id": "id", "side": "side", "price": "price", "qty": "amount",
}
_FREQTRADE_OHLCV = {
    "timestamp": "date", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume",
}


def freqtrade_columns(columns: list[str]) -> tuple[str, dict[str, str]] | None:
    """freqtrade's trades or OHLCV column set, when `columns` contains it."""
    for kind, mapping in (("trades", _FREQTRADE_TRADES), ("candles", _FREQTRADE_OHLCV)):
        if set(mapping.values()) <= set(columns):
            return kind, dict(mapping)
    return None


# what pandas names a saved index: an unnamed first column that holds the times
_INDEX_NAMES = ("", "unnamed: 0", "index")

_REQUIRED = {
    "trades": ("timestamp", "trade_id", "price", "qty"),
    "candles": ("timestamp", "open", "high", "low", "close", "volume"),
}


def resolve_columns(
    columns: list[str], options: FilesConfig, label: str
) -> tuple[str, dict[str, str]]:
    """The kind of a generic table and our-name -> file-column mapping (caller's mapping first)."""
    for ours, theirs in options.columns.items():
        if theirs not in columns:
            raise DataError(f"{label}: no column {theirs!r} (mapped to {ours}); "
                            f"columns are {columns}")
    mapping = dict(options.columns)
    by_lower = {c.lower(): c for c in columns}
    for ours, aliases in ALIASES.items():
        found = next((by_lower[a] for a in aliases if a in by_lower), None)
        if ours not in mapping and found is not None:
            mapping[ours] = found
    if "timestamp" not in mapping and columns and columns[0].strip().lower() in _INDEX_NAMES:
        mapping["timestamp"] = columns[0]  # a saved dataframe index: the times, unnamed
    kind = options.kind if options.kind != "auto" else _guess_kind(mapping)
    if kind is None:
        raise DataError(f"{label}: cannot tell trades from candles; columns are {columns}: "
                        + _kind_hint(columns, mapping))
    missing = [c for c in _REQUIRED[kind] if c not in mapping]
    if kind == "trades" and "side" not in mapping and "is_buyer_maker" not in mapping:
        missing.append("side or is_buyer_maker")
    if missing:
        names = [m if m != "side or is_buyer_maker" else "side" for m in missing]
        example = ", ".join(f'{ours} = "<its column>"' for ours in names)
        raise DataError(f"{label}: no column for {', '.join(missing)} among {columns} (the "
                        f"{kind} columns need: {', '.join(_REQUIRED[kind])}); map yours with "
                        f"--set 'files.columns={{ {example} }}'")
    return kind, mapping


def _kind_hint(columns: list[str], found: Mapping[str, str]) -> str:
    """A declaration of kind and columns in the CLI form that fits the file's column count,
    or the plain statement that none can (trades need a side column, or is_buyer_maker)."""
    fits = [kind for kind, need in (("candles", _REQUIRED["candles"]),
                                    ("trades", (*_REQUIRED["trades"], "side")))
            if len(columns) >= len(need)]
    if not fits:
        needs = "; ".join(f"{kind}: {', '.join(need)}" for kind, need in
                          (("trades", (*_REQUIRED["trades"], "side or is_buyer_maker")),
                           ("candles", _REQUIRED["candles"])))
        return (f"with {len(columns)} columns it can be neither, so no mapping can make it "
                f"usable ({needs})")
    kind = fits[0]
    names = _REQUIRED[kind] + (("side",) if kind == "trades" else ())
    free = iter(c for c in columns if c not in found.values())  # recognised ones stay put
    example = ", ".join(f'{ours} = "{found[ours] if ours in found else next(free, "?")}"'
                        for ours in names)
    return (f"declare the kind and map the columns (after checking which is which), e.g. "
            f"--set files.kind={kind} --set 'files.columns={{ {example} }}'")


def _guess_kind(mapping: Mapping[str, str]) -> str | None:
    """Candles when high/low/close are present (a missing open is then named), trades when
    a price is."""
    if all(c in mapping for c in ("high", "low", "close")):
        return "candles"
    return "trades" if "price" in mapping else None
