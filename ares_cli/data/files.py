"""Load the trades or candles of one symbol from local files (the `files` source, DESIGN §5).

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
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import itertools
import json
import os
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import field_validator

from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP, TRADES_SCHEMA, conform
from ares_cli.data.validate import EARLIEST
from ares_cli.errors import ConfigError, DataError
from ares_cli.util.section import Field, Section

__all__ = [
    "JSON_SHAPES", "KNOWN_SUFFIXES", "FilesConfig", "LoadedFiles", "expand_paths", "load_files",
    "locate_row",
]

KNOWN_SUFFIXES = (
    ".csv", ".csv.gz", ".zip", ".parquet", ".feather", ".arrow", ".ipc", ".json", ".json.gz",
)

# Our column name -> names recognised in a table (case-insensitive), best first.
_ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "date", "datetime", "open_time", "transact_time", "ts"),
    "trade_id": ("trade_id", "id", "agg_trade_id", "tid"),
    "price": ("price",),
    "qty": ("qty", "amount", "quantity", "size", "base_qty"),
    "side": ("side", "taker_side"),
    "is_buyer_maker": ("is_buyer_maker", "buyer_maker"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close",),
    "volume": ("volume", "base_volume"),
    "quote_volume": ("quote_volume", "quote_asset_volume"),
    "trades": ("trades", "count", "number_of_trades", "num_trades"),
    "taker_buy_volume": ("taker_buy_volume", "taker_buy_base_asset_volume"),
}

_HEAD_BYTES = 1 << 16  # decompressed prefix used to sniff header and layout
_SAMPLE_ROWS = 200  # data rows looked at when the layout depends on the values
_MAX_WORKERS = 4


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


class FilesConfig(Section):
    """`[files]`: how local files are read; every "auto" is decided per file from its content.

    `columns` maps our column name to the file's column name, for tables whose names are not
    recognised (timestamp, trade_id, price, qty, side or is_buyer_maker; or timestamp, open,
    high, low, close, volume and optionally quote_volume, trades, taker_buy_volume). A CSV
    without header names its columns `column_1`, `column_2`, ...
    """

    format: Literal["auto", "binance", "freqtrade", "table"] = "auto"
    kind: Literal["auto", "trades", "candles"] = "auto"
    timestamp_unit: Literal["auto", "s", "ms", "us", "ns"] = "auto"
    verify_checksum: bool = True
    columns: dict[str, str] = Field(default_factory=dict)

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(_ALIASES))
        if unknown:
            raise ValueError(f"unknown column names {unknown}; use {', '.join(_ALIASES)}")
        return dict(sorted(value.items()))


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


def load_files(paths: Sequence[str], options: FilesConfig = FilesConfig()) -> LoadedFiles:
    """Load, normalise, merge, sort and deduplicate the trades or candles held by `paths`."""
    files = expand_paths(paths)
    parsed = _load_all(files, options)
    kind = _common_kind(parsed)
    frame, dropped = _merge([p.frame for p in parsed], kind)
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
        parsed = _load_one(path, options)
        if parsed.frame.columns != row.columns:
            continue
        hits = parsed.frame.select(same).to_series().arg_true()
        if hits.len():
            return parsed.where.at(int(hits[0]))
    return None


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Per-file result and merging
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Parsed:
    """One file, normalised: its canonical frame and what was detected."""

    path: Path
    kind: str
    frame: pl.DataFrame
    layout: str
    time_unit: str
    header: bool
    where: _Where
    checksum: str = "absent"

    def summary(self) -> dict:
        """The per-file entry of LoadedFiles.files."""
        return {
            "path": str(self.path),
            "layout": self.layout,
            "rows": self.frame.height,
            "time_unit": self.time_unit,
            "header": self.header,
            "checksum": self.checksum,
        }


def _load_all(files: list[Path], options: FilesConfig) -> list[_Parsed]:
    """Load every file, several at once: zlib and polars release the GIL, so threads overlap."""
    if len(files) == 1:
        return [_load_one(files[0], options)]
    workers = min(_MAX_WORKERS, len(files), os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: _load_one(p, options), files))


def _common_kind(parsed: list[_Parsed]) -> str:
    """The one kind all files hold; trades and candles cannot be merged."""
    first = parsed[0]
    for other in parsed[1:]:
        if other.kind != first.kind:
            raise DataError(
                f"cannot mix trades and candles in one load: {first.path} holds {first.kind}, "
                f"{other.path} holds {other.kind}"
            )
    return first.kind


def _merge(frames: list[pl.DataFrame], kind: str) -> tuple[pl.DataFrame, int]:
    """Concatenate in file order, sort, and drop repeated keys keeping the first file's row.

    The common case (files already ordered and not overlapping) is detected with cheap sortedness
    checks, so a large single file is neither re-sorted nor hashed.
    """
    df = frames[0] if len(frames) == 1 else pl.concat(frames, how="vertical")
    key = "trade_id" if kind == "trades" else "timestamp"
    order = ["timestamp", "trade_id"] if kind == "trades" else ["timestamp"]
    if df["timestamp"].is_sorted() and _strictly_increasing(df[key]):
        return df, 0
    ordered = df.sort(order, maintain_order=True)
    deduped = ordered.filter(_first_of_run(key))
    if kind == "trades" and not _unique(deduped[key]):
        # The same id under different timestamps: keep the first file's row, then re-sort.
        deduped = df.unique(key, keep="first", maintain_order=True).sort(order)
    return deduped, df.height - deduped.height


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


# --------------------------------------------------------------------------------------------
# One file: bytes, checksum and dispatch on content
# --------------------------------------------------------------------------------------------


def _load_one(path: Path, options: FilesConfig) -> _Parsed:
    """Read one file, verify its checksum, detect its layout and normalise it."""
    raw = _read_bytes(path)
    checksum = _verify_checksum(path, raw, options.verify_checksum)
    parsed = _parse_bytes(path, raw, options)
    _check_kind(parsed, options.kind)
    return replace(parsed, checksum=checksum)


def _read_bytes(path: Path) -> bytes:
    """The whole file; an unreadable or empty file is a DataError."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if _blank(raw):
        raise DataError(f"{path}: file is empty")
    return raw


def _blank(data: bytes) -> bool:
    """True for empty or whitespace-only content, without copying large inputs."""
    return not data or data.isspace()


def _verify_checksum(path: Path, raw: bytes, verify: bool) -> str:
    """Check `raw` against a sibling `<name>.CHECKSUM` (Binance's `sha256  <name>` format)."""
    if not verify:
        return "skipped"
    sidecar = path.with_name(path.name + ".CHECKSUM")
    if not sidecar.is_file():
        return "absent"
    tokens = sidecar.read_text(encoding="utf-8", errors="replace").split()
    expected = tokens[0].lower() if tokens else ""
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise DataError(f"{sidecar}: not a sha256 checksum file (expected 'sha256  {path.name}')")
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: sha256 checksum mismatch: expected {expected} (from {sidecar.name}), "
            f"actual {actual}"
        )
    return "ok"


def _parse_bytes(path: Path, raw: bytes, options: FilesConfig) -> _Parsed:
    """Dispatch on magic bytes first and the file name second."""
    name = path.name.lower()
    if raw.startswith(b"PK\x03\x04") or name.endswith(".zip"):
        return _load_csv(_zip_payload(path, raw), path, options)
    if raw.startswith(b"PAR1"):
        return _load_frame(path, _read_binary_table(path, raw, pl.read_parquet), "parquet", options)
    if raw.startswith(b"ARROW1") or name.endswith((".feather", ".arrow", ".ipc")):
        return _load_frame(path, _read_binary_table(path, raw, pl.read_ipc), "feather", options)
    if raw.startswith(b"\x1f\x8b"):
        payload = _gzip_payload(path, raw)
        if ".json" in name or payload.head.lstrip().startswith((b"[", b"{")):
            return _load_json(path, payload.plain(), options)
        return _load_csv(payload, path, options)
    if name.endswith(".json") or raw[:256].lstrip().startswith((b"[", b"{")):
        return _load_json(path, raw, options)
    return _load_csv(_plain_payload(path, raw), path, options)


def _check_kind(parsed: _Parsed, wanted: str) -> None:
    """Fail when the caller asked for trades but the file holds candles, or the reverse."""
    if wanted != "auto" and parsed.kind != wanted:
        raise DataError(f"{parsed.path}: holds {parsed.kind} ({parsed.layout}), not {wanted}")


# --------------------------------------------------------------------------------------------
# CSV payloads: what polars reads, plus a prefix to sniff and the full text for error reports
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvPayload:
    """A CSV as polars will read it (plain or gzip bytes) and how to inspect its text."""

    label: str
    data: bytes
    head: bytes
    head_is_all: bool
    plain: Callable[[], bytes]


def _plain_payload(path: Path, raw: bytes) -> _CsvPayload:
    """An uncompressed CSV."""
    return _CsvPayload(str(path), raw, raw[:_HEAD_BYTES], len(raw) <= _HEAD_BYTES, lambda: raw)


def _gzip_payload(path: Path, raw: bytes) -> _CsvPayload:
    """A gzip file: polars decompresses it natively; zlib only inflates a prefix to sniff."""

    def plain() -> bytes:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{path}: corrupt gzip file ({exc})") from exc

    head, complete = _inflate_head(path, raw, zlib.MAX_WBITS | 16, "gzip file")
    return _CsvPayload(str(path), raw, head, complete, plain)


def _inflate_head(
    path: Path, compressed: bytes | memoryview, wbits: int, what: str
) -> tuple[bytes, bool]:
    """The first _HEAD_BYTES of a deflate/gzip stream, and whether that is all of it."""
    inflater = zlib.decompressobj(wbits)
    try:
        head = inflater.decompress(compressed[: 4 * _HEAD_BYTES], _HEAD_BYTES)
    except zlib.error as exc:
        raise DataError(f"{path}: corrupt {what} ({exc})") from exc
    return head, inflater.eof


def _zip_payload(path: Path, raw: bytes) -> _CsvPayload:
    """The one CSV inside a Binance zip.

    A DEFLATE member is a raw deflate stream, so a 10-byte gzip header plus the member's CRC-32
    and size turn it into a gzip stream that polars inflates natively (CRC checked). On a 17 M-row
    month that is 3.9 s to inflate and parse, where `zipfile` alone needs 8.6 s to inflate.
    """
    archive, member = _open_zip(path, raw)
    label = f"{path} ({member.filename})"
    if member.file_size == 0:
        raise DataError(f"{label}: file is empty")

    def plain() -> bytes:
        try:
            return archive.read(member)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise DataError(f"{path}: corrupt zip archive ({exc})") from exc

    if member.compress_type == zipfile.ZIP_DEFLATED:
        start, end = _member_span(path, raw, member)
        compressed = memoryview(raw)[start:end]
        head, complete = _inflate_head(path, compressed, -zlib.MAX_WBITS, "zip archive")
        trailer = struct.pack("<II", member.CRC, member.file_size & 0xFFFFFFFF)
        data = b"".join([_GZIP_HEADER, compressed, trailer])
        return _CsvPayload(label, data, head, complete, plain)
    if member.compress_type == zipfile.ZIP_STORED:
        start, end = _member_span(path, raw, member)
        data = raw[start:end]
        if zlib.crc32(data) != member.CRC:
            raise DataError(f"{path}: corrupt zip archive (bad CRC-32 for {member.filename})")
        return _CsvPayload(label, data, data[:_HEAD_BYTES], end - start <= _HEAD_BYTES, plain)
    data = plain()
    return _CsvPayload(label, data, data[:_HEAD_BYTES], len(data) <= _HEAD_BYTES, lambda: data)


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def _open_zip(path: Path, raw: bytes) -> tuple[zipfile.ZipFile, zipfile.ZipInfo]:
    """Open the archive and return its single file member."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: corrupt zip archive ({exc})") from exc
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        names = ", ".join(m.filename for m in members) or "nothing"
        raise DataError(f"{path}: expected one CSV inside the zip, found {names}")
    if members[0].flag_bits & 0x1:
        raise DataError(f"{path}: encrypted zip members are not supported")
    return archive, members[0]


def _member_span(path: Path, raw: bytes, member: zipfile.ZipInfo) -> tuple[int, int]:
    """Byte range of a member's compressed data, read from its local file header."""
    offset = member.header_offset
    header = raw[offset : offset + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        raise DataError(f"{path}: corrupt zip archive (bad local header for {member.filename})")
    name_len, extra_len = _LOCAL_HEADER.unpack(header)[-2:]
    start = offset + _LOCAL_HEADER.size + name_len + extra_len
    end = start + member.compress_size
    if end > len(raw):
        raise DataError(f"{path}: corrupt zip archive ({member.filename} is truncated)")
    return start, end


# --------------------------------------------------------------------------------------------
# CSV: sniffing
# --------------------------------------------------------------------------------------------


def _sniff(payload: _CsvPayload) -> tuple[list[str] | None, list[list[str]]]:
    """Header fields (or None) and the first data rows, split on commas."""
    text = payload.head.decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.split("\n")
    if not payload.head_is_all and len(lines) > 1:
        lines = lines[:-1]  # the last line of a prefix may be cut short
    rows = [ln.rstrip("\r").split(",") for ln in lines if ln.strip()][: _SAMPLE_ROWS + 1]
    if not rows:
        raise DataError(f"{payload.label}: file is empty")
    if not _is_header(rows[0], rows[1] if len(rows) > 1 else None):
        return None, rows
    return [f.strip().strip('"') for f in rows[0]], rows[1:]


def _is_header(first: list[str], second: list[str] | None) -> bool:
    """A header has no number in it, or names a column whose next value is a number."""
    numeric = [_is_number(f) for f in first]
    if not any(numeric):
        return True
    if second is None:
        return False
    return any(not n and _is_number(s) for n, s in zip(numeric, second, strict=False))


def _is_number(text: str) -> bool:
    """True when `text` reads as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_bool(text: str) -> bool:
    """True for Binance booleans: True/False (spot) or true/false (futures)."""
    return text.strip().lower() in ("true", "false")


def _floats(row: list[str], *indices: int) -> tuple[float, ...] | None:
    """Selected fields of a sample row as floats, or None when one does not parse."""
    try:
        return tuple(float(row[i]) for i in indices)
    except (ValueError, IndexError):
        return None


# --------------------------------------------------------------------------------------------
# Binance layouts
# --------------------------------------------------------------------------------------------

_I, _F, _B, _S = pl.Int64(), pl.Float64(), pl.Boolean(), pl.String()
_Columns = tuple[tuple[str, pl.DataType], ...]


@dataclass(frozen=True)
class _BinanceLayout:
    """A data.binance.vision CSV layout: positional columns and how they map to ours."""

    name: str
    kind: str
    columns: _Columns
    mapping: Mapping[str, str]


_AGG_COLUMNS: _Columns = (
    ("agg_trade_id", _I), ("price", _F), ("quantity", _F), ("first_trade_id", _I),
    ("last_trade_id", _I), ("transact_time", _I), ("is_buyer_maker", _B),
)
_AGG_MAP = {
    "trade_id": "agg_trade_id", "timestamp": "transact_time", "price": "price",
    "qty": "quantity", "is_buyer_maker": "is_buyer_maker",
}
_TRADE_COLUMNS: _Columns = (
    ("id", _I), ("price", _F), ("qty", _F), ("quote_qty", _F), ("time", _I),
    ("is_buyer_maker", _B),
)
_CM_TRADE_COLUMNS: _Columns = (
    ("id", _I), ("price", _F), ("qty", _F), ("base_qty", _F), ("time", _I),
    ("is_buyer_maker", _B),
)
_TRADE_MAP = {
    "trade_id": "id", "timestamp": "time", "price": "price", "qty": "qty",
    "is_buyer_maker": "is_buyer_maker",
}
_KLINE_COLUMNS: _Columns = (
    ("open_time", _I), ("open", _F), ("high", _F), ("low", _F), ("close", _F), ("volume", _F),
    ("close_time", _I), ("quote_volume", _F), ("count", _I), ("taker_buy_volume", _F),
    ("taker_buy_quote_volume", _F), ("ignore", _S),
)
# COIN-M: `volume` and column 10 are in contracts; column 8 and 11 are in the base asset.
_CM_KLINE_COLUMNS: _Columns = (
    ("open_time", _I), ("open", _F), ("high", _F), ("low", _F), ("close", _F),
    ("contracts", _F), ("close_time", _I), ("base_volume", _F), ("count", _I),
    ("taker_buy_contracts", _F), ("taker_buy_base_volume", _F), ("ignore", _S),
)
_KLINE_MAP = {
    "timestamp": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume", "quote_volume": "quote_volume", "trades": "count",
    "taker_buy_volume": "taker_buy_volume",
}
_CM_KLINE_MAP = {
    "timestamp": "open_time", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "base_volume", "trades": "count", "taker_buy_volume": "taker_buy_base_volume",
}

_SPOT_AGG = _BinanceLayout(
    "binance-spot-aggTrades", "trades", (*_AGG_COLUMNS, ("is_best_match", _B)), _AGG_MAP
)
_SPOT_TRADES = _BinanceLayout(
    "binance-spot-trades", "trades", (*_TRADE_COLUMNS, ("is_best_match", _B)), _TRADE_MAP
)
_UM_TRADES = _BinanceLayout("binance-um-trades", "trades", _TRADE_COLUMNS, _TRADE_MAP)
_CM_TRADES = _BinanceLayout(
    "binance-cm-trades", "trades", _CM_TRADE_COLUMNS, {**_TRADE_MAP, "qty": "base_qty"}
)
_CM_KLINES = _BinanceLayout("binance-cm-klines", "candles", _CM_KLINE_COLUMNS, _CM_KLINE_MAP)

# First header field of every Binance layout that may carry a header row.
_BINANCE_FIRST_NAMES = ("agg_trade_id", "id", "trade_id", "open_time")


def _futures_agg(hint: str | None) -> _BinanceLayout:
    """USD-M and COIN-M aggTrades share one layout; only the path can tell them apart."""
    market = hint if hint in ("um", "cm") else "futures"
    return _BinanceLayout(f"binance-{market}-aggTrades", "trades", _AGG_COLUMNS, _AGG_MAP)


def _quote_klines(market: str) -> _BinanceLayout:
    """Spot and USD-M klines share one layout with quote-asset volume in column 8."""
    return _BinanceLayout(f"binance-{market}-klines", "candles", _KLINE_COLUMNS, _KLINE_MAP)


def _market_hint(path: Path) -> str | None:
    """"spot", "um" or "cm" when the path says so (data.binance.vision folders, COIN-M symbols)."""
    text = path.as_posix().lower()
    if "futures/cm" in text or "/cm/" in text or re.search(r"usd_(perp|\d{6})", path.name.lower()):
        return "cm"
    if "futures/um" in text or "/um/" in text:
        return "um"
    return "spot" if "/spot/" in text else None


def _binance_layout(
    header: list[str] | None, rows: list[list[str]], path: Path
) -> _BinanceLayout | None:
    """The Binance layout of a CSV from its first rows, or None when it is not one."""
    if not rows:
        return None
    first = rows[0]
    width = len(first)
    if header is not None and (
        len(header) != width or header[0].lower() not in _BINANCE_FIRST_NAMES
    ):
        return None
    if not all(_is_number(f) or _is_bool(f) for f in first):
        return None
    hint = _market_hint(path)
    if width == 8:
        return _SPOT_AGG
    if width == 7:
        return _SPOT_TRADES if _is_bool(first[5]) else _futures_agg(hint)
    if width == 6:
        coin_margined = hint == "cm" if hint in ("um", "cm") else not _third_is_quote(rows)
        return _CM_TRADES if coin_margined else _UM_TRADES
    if width == 12:
        return _klines_layout(rows, header is not None, hint)
    return None


def _column8_is_quote(rows: list[list[str]]) -> bool:
    """Klines: column 8 / volume lies within [low, high] on (nearly) every traded bar."""
    votes = []
    for row in rows:
        values = _floats(row, 2, 3, 5, 7)
        if values and values[2] > 0:
            high, low, volume, column8 = values
            votes.append(low * (1 - 1e-3) <= column8 / volume <= high * (1 + 1e-3))
    return not votes or sum(votes) >= 0.9 * len(votes)


def _third_is_quote(rows: list[list[str]]) -> bool:
    """Futures trades: column 4 is price*qty (USD-M quote_qty) rather than COIN-M base_qty."""
    votes = []
    for row in rows:
        values = _floats(row, 1, 2, 3)
        if values and values[0] * values[1] > 0:
            price, qty, third = values
            votes.append(abs(third - price * qty) <= 1e-3 * price * qty + 1e-8)
    return not votes or sum(votes) >= 0.9 * len(votes)


def _klines_layout(rows: list[list[str]], header: bool, hint: str | None) -> _BinanceLayout:
    """Spot/USD-M klines or COIN-M klines (column 8 in base asset, not quote asset).

    The path decides when it names the market; otherwise the values do: in spot/USD-M files
    column 8 / volume is an average price, so it lies within [low, high].
    """
    coin_margined = hint == "cm" if hint in ("um", "cm") else not _column8_is_quote(rows)
    if coin_margined:
        return _CM_KLINES
    futures = hint == "um" or (header and hint != "spot")  # spot files never carry a header
    return _quote_klines("um" if futures else "spot")


# --------------------------------------------------------------------------------------------
# CSV: reading
# --------------------------------------------------------------------------------------------


def _load_csv(payload: _CsvPayload, path: Path, options: FilesConfig) -> _Parsed:
    """A CSV: Binance layout when it looks like one (or is declared so), else a table."""
    header, rows = _sniff(payload)
    if not rows:
        raise DataError(f"{payload.label}: no data rows after the header")
    layout = _binance_layout(header, rows, path) if options.format in ("auto", "binance") else None
    if layout is None and options.format == "binance":
        raise DataError(
            f"{payload.label}, line 1: not a Binance public-data layout "
            f"({len(header or rows[0])} fields: {','.join(header or rows[0])[:120]!r})"
        )
    if layout is not None:
        return _load_binance(payload, path, layout, header is not None, options)
    frame = _read_table_csv(payload, header is not None)
    where = _Where(payload.label, first_line=2 if header is not None else 1)
    return _from_frame(path, frame, "csv", header is not None, where, options)


def _load_binance(
    payload: _CsvPayload, path: Path, layout: _BinanceLayout, header: bool, options: FilesConfig
) -> _Parsed:
    """Read a Binance CSV with its positional dtypes and normalise it."""
    df = _read_csv_strict(payload, layout.columns, header)
    where = _Where(payload.label, first_line=2 if header else 1)
    frame, unit = _canonical(df, layout.kind, layout.mapping, options.timestamp_unit, where)
    return _Parsed(path, layout.kind, frame, layout.name, unit, header, where)


def _read_csv_strict(payload: _CsvPayload, columns: _Columns, header: bool) -> pl.DataFrame:
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


def _read_table_csv(payload: _CsvPayload, header: bool) -> pl.DataFrame:
    """A generic CSV, dtypes inferred from every row so a stray value becomes a locatable string."""
    try:
        df = pl.read_csv(payload.data, has_header=header, infer_schema_length=None)
    except (pl.exceptions.PolarsError, OSError) as exc:
        width = len(_sniff(payload)[1][0])
        columns = tuple((f"column_{i + 1}", pl.String()) for i in range(width))
        raise _csv_error(payload, columns, header, exc, allow_empty=True) from exc
    if not header:
        df.columns = [f"column_{i + 1}" for i in range(df.width)]
    return _drop_trailing_blank_rows(df)


def _csv_error(
    payload: _CsvPayload,
    columns: _Columns,
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
    text: bytes, columns: _Columns, header: bool, allow_empty: bool
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


_TYPE_WORDS = {pl.Int64: "an integer", pl.Float64: "a number", pl.Boolean: "true/false"}


def _describe_line(line: str | None, columns: _Columns, allow_empty: bool) -> str:
    """Why one CSV line does not fit: empty, wrong field count, or which value is bad."""
    if line is None or not line.strip():
        return f"empty line (expected {len(columns)} fields)"
    fields = line.rstrip("\r").split(",")
    if len(fields) != len(columns):
        return f"expected {len(columns)} fields, found {len(fields)}: {_clip(line)!r}"
    for position, ((name, dtype), value) in enumerate(zip(columns, fields, strict=True), start=1):
        frame = pl.DataFrame({"v": [value]}, schema={"v": pl.String()})
        if not frame.select(_parses(pl.col("v"), dtype, allow_empty)).item():
            word = _TYPE_WORDS.get(type(dtype), "a value")
            return f"field {position} ({name}) {value!r} is not {word}"
    return f"cannot parse {_clip(line)!r}"


def _clip(text: str, width: int = 120) -> str:
    """A line shortened for an error message."""
    return text if len(text) <= width else text[: width - 3] + "..."


# --------------------------------------------------------------------------------------------
# Tables: parquet, feather, JSON and non-Binance CSV
# --------------------------------------------------------------------------------------------


def _read_binary_table(
    path: Path, raw: bytes, reader: Callable[[io.BytesIO], pl.DataFrame]
) -> pl.DataFrame:
    """A parquet or Arrow IPC (feather v2) file as a frame."""
    try:
        return reader(io.BytesIO(raw))
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read file ({detail})") from exc


def _load_frame(path: Path, frame: pl.DataFrame, ext: str, options: FilesConfig) -> _Parsed:
    """A parquet/feather table: freqtrade layout or generic columns."""
    if options.format == "binance":
        raise DataError(f"{path}: format 'binance' reads CSV or zip files, not {ext}")
    return _from_frame(path, frame, ext, False, _Where(str(path)), options)


def _from_frame(
    path: Path, frame: pl.DataFrame, ext: str, header: bool, where: _Where, options: FilesConfig
) -> _Parsed:
    """Find the columns of a named-column table and normalise it."""
    if frame.height == 0:
        raise DataError(f"{where.label}: no data rows")
    known = _freqtrade_columns(frame.columns) if options.format in ("auto", "freqtrade") else None
    if known is None and options.format == "freqtrade":
        raise DataError(f"{where.label}: not a freqtrade trades or OHLCV file; columns are "
                        f"{frame.columns}")
    if known is not None and not options.columns:
        kind, mapping = known
        layout = f"freqtrade-{'trades' if kind == 'trades' else 'ohlcv'}-{ext}"
    else:
        kind, mapping = _resolve_columns(frame.columns, options, where.label)
        layout = f"table-{kind}-{ext}"
    canonical, unit = _canonical(frame, kind, mapping, options.timestamp_unit, where)
    return _Parsed(path, kind, canonical, layout, unit, header, where)


_FREQTRADE_TRADES = {
    "timestamp": "timestamp", "trade_id": "id", "side": "side", "price": "price", "qty": "amount",
}
_FREQTRADE_OHLCV = {
    "timestamp": "date", "open": "open", "high": "high", "low": "low", "close": "close",
    "volume": "volume",
}


def _freqtrade_columns(columns: list[str]) -> tuple[str, dict[str, str]] | None:
    """freqtrade's trades or OHLCV column set, when `columns` contains it."""
    for kind, mapping in (("trades", _FREQTRADE_TRADES), ("candles", _FREQTRADE_OHLCV)):
        if set(mapping.values()) <= set(columns):
            return kind, dict(mapping)
    return None


_REQUIRED = {
    "trades": ("timestamp", "trade_id", "price", "qty"),
    "candles": ("timestamp", "open", "high", "low", "close", "volume"),
}


def _resolve_columns(
    columns: list[str], options: FilesConfig, label: str
) -> tuple[str, dict[str, str]]:
    """The kind of a generic table and our-name -> file-column mapping (caller's mapping first)."""
    for ours, theirs in options.columns.items():
        if theirs not in columns:
            raise DataError(f"{label}: no column {theirs!r} (mapped to {ours}); "
                            f"columns are {columns}")
    mapping = dict(options.columns)
    by_lower = {c.lower(): c for c in columns}
    for ours, aliases in _ALIASES.items():
        found = next((by_lower[a] for a in aliases if a in by_lower), None)
        if ours not in mapping and found is not None:
            mapping[ours] = found
    kind = options.kind if options.kind != "auto" else _guess_kind(mapping)
    if kind is None:
        raise DataError(f"{label}: cannot tell trades from candles; columns are {columns} "
                        "(pass kind and a columns mapping)")
    missing = [c for c in _REQUIRED[kind] if c not in mapping]
    if kind == "trades" and "side" not in mapping and "is_buyer_maker" not in mapping:
        missing.append("side or is_buyer_maker")
    if missing:
        raise DataError(f"{label}: no column for {', '.join(missing)} among {columns} "
                        "(map it with columns, e.g. qty=amount)")
    return kind, mapping


def _guess_kind(mapping: Mapping[str, str]) -> str | None:
    """Candles when open/high/low/close are present, trades when a price is."""
    if all(c in mapping for c in ("open", "high", "low", "close")):
        return "candles"
    return "trades" if "price" in mapping else None


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


def _load_json(path: Path, text: bytes, options: FilesConfig) -> _Parsed:
    """A JSON table in any of JSON_SHAPES: freqtrade's trades `[ts, id, type, side, price,
    amount, cost]` or OHLCV `[ms, o, h, l, c, v]` rows, ccxt trade dicts, or a pandas frame
    written with any orient. Rows are named by their 1-based position in messages."""
    if options.format not in ("auto", "freqtrade"):
        raise DataError(f"{path}: format {options.format!r} does not read JSON files")
    if _blank(text):
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
    return _from_frame(path, frame, "json", False, _Where(str(path)), options)


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
    names = {alias for aliases in _ALIASES.values() for alias in aliases}
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
    has_time = "timestamp" in options.columns or any(a in lower for a in _ALIASES["timestamp"])
    if not has_time and not _default_range(labels):
        return frame.with_columns(labels.alias("timestamp"))
    return frame if "index" in lower else frame.with_columns(labels)


def _default_range(labels: pl.Series) -> bool:
    """True for pandas' default RangeIndex labels 0, 1, 2, ... (numbers or their text)."""
    numbers = labels.cast(pl.Int64, strict=False)
    if numbers.null_count():
        return False
    return bool((numbers == pl.int_range(0, labels.len(), eager=True)).all())


# --------------------------------------------------------------------------------------------
# Normalisation to TRADES_SCHEMA / BARS_SCHEMA
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Where:
    """How to name a row in messages: CSV line numbers, or 1-based rows for other formats."""

    label: str
    first_line: int | None = None

    def at(self, index: int) -> str:
        """`<file>, line N` or `<file>, row N` for the 0-based data row `index`."""
        if self.first_line is None:
            return f"{self.label}, row {index + 1}"
        return f"{self.label}, line {index + self.first_line}"


def _canonical(
    df: pl.DataFrame, kind: str, mapping: Mapping[str, str], unit: str, where: _Where
) -> tuple[pl.DataFrame, str]:
    """Our columns from the file's: typed, timestamps in UTC µs, taker side as is_buyer_maker."""
    timestamp, time_unit = _timestamps(df[mapping["timestamp"]], unit, where)
    if kind == "trades":
        columns = {
            "trade_id": _to_dtype(df[mapping["trade_id"]], _I, where, "trade_id"),
            "timestamp": timestamp,
            "price": _to_dtype(df[mapping["price"]], _F, where, "price"),
            "qty": _to_dtype(df[mapping["qty"]], _F, where, "qty"),
            "is_buyer_maker": _buyer_maker(df, mapping, where),
        }
        return conform(pl.DataFrame(columns), TRADES_SCHEMA), time_unit
    columns = {"timestamp": timestamp}
    for name in ("open", "high", "low", "close", "volume", "quote_volume", "taker_buy_volume"):
        columns[name] = _optional(df, mapping, name, _F, where)
    columns["trades"] = _optional(df, mapping, "trades", _I, where)
    return _bars(pl.DataFrame(columns)), time_unit


def _optional(
    df: pl.DataFrame, mapping: Mapping[str, str], name: str, dtype: pl.DataType, where: _Where
) -> pl.Series:
    """A mapped column cast to `dtype`, or all-null when the file does not carry it."""
    if name not in mapping:
        return pl.repeat(None, df.height, dtype=dtype, eager=True).alias(name)
    return _to_dtype(df[mapping[name]], dtype, where, name)


def _bars(df: pl.DataFrame) -> pl.DataFrame:
    """Add vwap (quote volume / volume when both are known) and filled=False; exact schema."""
    vwap = (
        pl.when(pl.col("volume") > 0)
        .then(pl.col("quote_volume") / pl.col("volume"))
        .otherwise(None)
    )
    return conform(df.with_columns(vwap=vwap, filled=pl.lit(False)), BARS_SCHEMA)


def _to_dtype(series: pl.Series, dtype: pl.DataType, where: _Where, name: str) -> pl.Series:
    """Cast a column; a value that does not convert (not one that is missing) is a DataError."""
    if series.dtype == dtype:
        return series.alias(name)
    converted = series.cast(dtype, strict=False)
    _raise_on_new_nulls(series, converted, where, f"{name} {{value!r}} is not "
                        f"{_TYPE_WORDS.get(type(dtype), 'valid')}")
    return converted.alias(name)


def _raise_on_new_nulls(before: pl.Series, after: pl.Series, where: _Where, template: str) -> None:
    """DataError at the first row where a present value became null in a conversion."""
    if after.null_count() == before.null_count():
        return
    lost = (before.is_not_null() & after.is_null()).arg_true()
    if lost.len():
        index = int(lost[0])
        raise DataError(f"{where.at(index)}: " + template.format(value=before[index]))


_TRUE = ("true", "t", "1", "yes")
_FALSE = ("false", "f", "0", "no")


def _buyer_maker(df: pl.DataFrame, mapping: Mapping[str, str], where: _Where) -> pl.Series:
    """is_buyer_maker from a boolean-ish column, or from the taker side (sell => buyer maker)."""
    if "is_buyer_maker" in mapping:
        source = df[mapping["is_buyer_maker"]]
        if source.dtype == pl.Boolean:
            return source.alias("is_buyer_maker")
        yes, no, word = _TRUE, _FALSE, "true/false"
    else:
        source = df[mapping["side"]]
        yes, no, word = ("sell", "s"), ("buy", "b"), "buy/sell"
    text = source.cast(pl.String).str.strip_chars().str.to_lowercase()
    flags = (
        pl.select(
            pl.when(text.is_in(yes)).then(True).when(text.is_in(no)).then(False).otherwise(None)
        )
        .to_series()
        .alias("is_buyer_maker")
    )
    _raise_on_new_nulls(source, flags, where, f"{source.name} {{value!r}} is not {word}")
    return flags


# Timestamps ------------------------------------------------------------------------------------

_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def _timestamps(series: pl.Series, unit: str, where: _Where) -> tuple[pl.Series, str]:
    """UTC µs timestamps from epoch numbers (unit by magnitude), datetimes or ISO strings.

    An explicit `unit` (not "auto") is a statement about the file that is checked, not trusted:
    see `_unit_not_applicable` and `_check_explicit_unit`.
    """
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        _unit_not_applicable(unit, series, where, f"datetimes ({dtype})", series.drop_nulls())
        return _datetime_utc(series), dtype.time_unit
    if dtype == pl.Date:
        _unit_not_applicable(unit, series, where, "dates", series.drop_nulls())
        return _datetime_utc(series.cast(pl.Datetime("us"))), "date"
    if dtype == pl.String:
        as_int = series.cast(pl.Int64, strict=False)
        if as_int.null_count() != series.null_count():
            _unit_not_applicable(unit, series, where, "ISO text",
                                 series.filter(series.is_not_null() & as_int.is_null()))
            return _parse_iso(series, where), "iso"
        series = as_int
    if not (dtype.is_numeric() or dtype == pl.String):
        raise DataError(f"{where.label}: timestamp column {series.name!r} has type {dtype}; "
                        "expected epoch numbers, datetimes or ISO strings")
    if unit == "auto":
        unit = _detect_unit(series, where)
    else:
        _check_explicit_unit(series, unit, where)
    return _from_epoch(series, unit, where), unit


def _unit_not_applicable(
    unit: str, series: pl.Series, where: _Where, holds: str, examples: pl.Series
) -> None:
    """An explicit epoch unit on a column that holds no epoch numbers is a ConfigError (exit 2).

    Ignoring the unit would hide a wrong belief about the files. It is a configuration error
    rather than a data error because the file is fine (it loads with timestamp_unit = "auto") and
    the fix is in the settings; the message names the file, the column, the unit and a value.
    """
    if unit == "auto":
        return
    example = f" ({examples[0]})" if examples.len() else ""
    raise ConfigError(
        f"{where.label}: files.timestamp_unit = {unit!r} but column {series.name!r} holds "
        f"{holds}{example}; leave timestamp_unit = 'auto'"
    )


# Epoch values that fall in [2009, 2100) in each unit: these ranges do not overlap, so a
# plausible market timestamp says its own unit.
_PLAUSIBLE_YEARS = (EARLIEST, datetime(2100, 1, 1, tzinfo=UTC))
_MICROS_PER = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _plausible_units(value: float) -> list[str]:
    """The units in which the epoch number `value` is a date in 2009..2099 (at most one)."""
    low, high = (moment.timestamp() * 1e6 for moment in _PLAUSIBLE_YEARS)
    return [unit for unit, per in _MICROS_PER.items() if low <= value * per < high]


def _reading(value: float, unit: str) -> str:
    """The date `value` stands for in `unit`, for messages."""
    try:
        moment = _EPOCH + timedelta(microseconds=value * _MICROS_PER[unit])
    except OverflowError:
        return "beyond the year 9999" if value > 0 else "before the year 1"
    return moment.isoformat(timespec="seconds").removesuffix("+00:00")


def _check_explicit_unit(series: pl.Series, unit: str, where: _Where) -> None:
    """A ConfigError (exit 2) when the file's typical value is a plausible date in another unit.

    Magnitudes of timestamps since 2009 tell their unit apart, so a stated unit that turns the
    file's median value into a date outside 2009..2099 while another unit makes it one is a
    mistake in the settings (for example 'ns' on milliseconds, which would put every row in
    1970). Values that are plausible in no unit are left to the shared validation, which rejects
    or drops each out-of-range row naming it.
    """
    values = series.drop_nulls()
    if values.dtype.is_float():
        values = values.filter(values.is_finite())
    if values.len() == 0:
        return
    median = values.median()
    assert isinstance(median, (int, float))
    plausible = _plausible_units(median)
    if not plausible or unit in plausible:
        return
    typical = values[int((values - median).abs().arg_min() or 0)]
    other = plausible[0]
    raise ConfigError(
        f"{where.label}: files.timestamp_unit = {unit!r} but column {series.name!r} holds values "
        f"like {typical}, which in {_UNIT_WORDS[unit]} is {_reading(typical, unit)} and in "
        f"{_UNIT_WORDS[other]} {_reading(typical, other)}; set timestamp_unit = {other!r} or "
        "'auto'"
    )


def _datetime_utc(series: pl.Series) -> pl.Series:
    """A datetime column in UTC at µs resolution; naive datetimes are taken as UTC."""
    if series.dtype.time_zone is None:
        series = series.dt.replace_time_zone("UTC")
    else:
        series = series.dt.convert_time_zone("UTC")
    return series.cast(TIMESTAMP).alias("timestamp")


def _parse_iso(series: pl.Series, where: _Where) -> pl.Series:
    """ISO-8601 strings (with or without offset) as UTC timestamps."""
    parsed = series.str.to_datetime(time_unit="us", strict=False)
    _raise_on_new_nulls(series, parsed, where, "timestamp {value!r} is not a date-time")
    return _datetime_utc(parsed)


def _unit_of(value: float) -> str:
    """Epoch unit of a timestamp after 1973 by magnitude (Binance: ≥1e15 µs, ≥1e12 ms)."""
    if value >= 1e17:
        return "ns"
    if value >= 1e14:
        return "us"
    return "ms" if value >= 1e11 else "s"


def _detect_unit(series: pl.Series, where: _Where) -> str:
    """One unit per file, that of most values; a value in another unit is a DataError.

    Values below 1e11 (before 1973 in ms) are left to validation as out-of-range timestamps.
    """
    low, high = series.min(), series.max()
    if high is None or high < 1e11:
        return "s"
    if low >= 1e11 and _unit_of(low) == _unit_of(high):
        return _unit_of(high)  # the common case, without filtering a copy
    large = series.filter(series >= 1e11)
    unit = _unit_of(large.median())
    if not _unit_of(large.min()) == unit == _unit_of(large.max()):
        index = _first_other_unit(series, unit)
        value = series[index]
        raise DataError(
            f"{where.at(index)}: timestamp {value} is in {_UNIT_WORDS[_unit_of(value)]} but the "
            f"file's other timestamps are in {_UNIT_WORDS[unit]}; one file must use one unit"
        )
    return unit


def _first_other_unit(series: pl.Series, unit: str) -> int:
    """Index of the first value ≥ 1e11 whose magnitude says another unit than `unit`."""
    bounds = {"ms": (1e11, 1e14), "us": (1e14, 1e17), "ns": (1e17, float("inf"))}
    low, high = bounds[unit]
    other = (series >= 1e11) & ((series < low) | (series >= high))
    return int(other.arg_true()[0])


def _from_epoch(series: pl.Series, unit: str, where: _Where) -> pl.Series:
    """Epoch numbers in `unit` as UTC µs timestamps; one that overflows is a DataError.

    Overflow only happens with an explicit unit (detection never picks a unit that overflows),
    e.g. 's' on a stray millisecond value: integer multiplication would wrap around silently.
    """
    if series.dtype.is_float():
        micros = (series * {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]).round(0)
        as_int = micros.cast(pl.Int64, strict=False)
        _raise_on_new_nulls(series, as_int, where, "timestamp {value!r} is not a valid number "
                            f"of {_UNIT_WORDS[unit]}")
    elif unit == "ns":
        as_int = series.cast(pl.Int64) // 1000
    else:
        factor = {"s": 1_000_000, "ms": 1_000, "us": 1}[unit]
        as_int = series.cast(pl.Int64)
        limit = (2**63 - 1) // factor
        low, high = as_int.min(), as_int.max()
        if high is not None and (high > limit or low < -limit):
            index = int(((as_int > limit) | (as_int < -limit)).arg_true()[0])
            raise DataError(f"{where.at(index)}: timestamp {as_int[index]} is out of range in "
                            f"{_UNIT_WORDS[unit]}")
        as_int = as_int * factor
    return as_int.cast(TIMESTAMP).alias("timestamp")
