"""Tiny generators of data.binance.vision files (every layout variant) for loader tests.

Each generator returns the CSV rows as text fields plus the values the loader must produce, so a
test can write the file in any container (plain, zip, with or without header, ms or µs) and
compare. Values are deterministic and simple; nothing is copied from real data.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

START_MS = 1_704_067_200_000  # 2024-01-01 00:00:00 UTC
CONTRACT_USD = 100.0  # COIN-M contract size used by the generators

HEADERS: dict[str, list[str]] = {
    "aggTrades": [
        "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id",
        "transact_time", "is_buyer_maker",
    ],
    "trades": ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"],
    "cm-trades": ["id", "price", "qty", "base_qty", "time", "is_buyer_maker"],
    "klines": [
        "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
        "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
    ],
}

# Every market x dataset combination data.binance.vision publishes.
VARIANTS = (
    "spot-trades", "spot-aggTrades", "spot-klines",
    "um-trades", "um-aggTrades", "um-klines",
    "cm-trades", "cm-aggTrades", "cm-klines",
)


@dataclass(frozen=True)
class Generated:
    """Rows to write and what the loader must return for them."""

    variant: str
    header: list[str]
    rows: list[list[str]]
    expected: dict[str, list]  # our column -> values (timestamps as epoch µs)


def generate(variant: str, n: int = 5, *, unit: str = "ms", first_id: int = 1000) -> Generated:
    """Rows of one Binance layout variant with `n` records starting at `first_id`."""
    market, dataset = variant.split("-")
    if dataset == "klines":
        return _klines(variant, market, n, unit, first_id)
    return _trades(variant, market, dataset, n, unit, first_id)


def _stamp(index: int, step_ms: int, unit: str, extra_us: int = 0) -> tuple[int, int]:
    """(value written in the file, expected epoch µs) for record `index`."""
    micros = (START_MS + index * step_ms) * 1000 + (extra_us if unit == "us" else 0)
    return (micros if unit == "us" else micros // 1000), micros


def _bool(value: bool, market: str) -> str:
    """Spot writes Python-style True/False, futures write true/false."""
    text = str(value)
    return text if market == "spot" else text.lower()


def _trades(variant: str, market: str, dataset: str, n: int, unit: str, first_id: int) -> Generated:
    """trades or aggTrades rows."""
    names = ("trade_id", "timestamp", "price", "qty", "is_buyer_maker")
    rows, expected = [], {k: [] for k in names}
    for i in range(first_id, first_id + n):
        written, micros = _stamp(i, 250, unit, extra_us=137)
        price, qty, maker = 100.0 + i * 0.5, round(0.001 * (i % 97 + 1), 6), i % 3 == 0
        if market == "cm" and dataset == "trades":
            contracts = float(i % 7 + 1)
            base = contracts * CONTRACT_USD / price
            row = [i, f"{price:.2f}", f"{contracts:.0f}", f"{base:.12f}", written]
            qty = float(f"{base:.12f}")
        elif dataset == "trades":
            row = [i, f"{price:.2f}", f"{qty:.6f}", f"{price * qty:.8f}", written]
        else:
            row = [i, f"{price:.2f}", f"{qty:.6f}", 5 * i, 5 * i + 2, written]
        row.append(_bool(maker, market))
        if market == "spot":
            row.append("True")  # is_best_match
        rows.append([str(v) for v in row])
        for key, value in zip(expected, (i, micros, price, qty, maker), strict=True):
            expected[key].append(value)
    header = HEADERS["cm-trades" if variant == "cm-trades" else dataset]
    if market == "spot":
        header = [*header, "is_best_match"]
    return Generated(variant, header, rows, expected)


def _klines(variant: str, market: str, n: int, unit: str, first_id: int) -> Generated:
    """1-minute klines rows; COIN-M volume in contracts with base volume in column 8."""
    names = ("timestamp", "open", "high", "low", "close", "volume", "quote_volume", "trades",
             "taker_buy_volume")
    rows, expected = [], {k: [] for k in names}
    for i in range(first_id, first_id + n):
        written, micros = _stamp(i, 60_000, unit)
        step = 60_000_000 if unit == "us" else 60_000
        price = 100.0 + (i % 11)
        volume, quote, count = 10.0 + i % 5, (10.0 + i % 5) * (price + 0.25), 5 + i % 4
        if market == "cm":
            contracts = 100 + i % 5
            base = contracts * CONTRACT_USD / (price + 0.25)
            row = [written, price, price + 1, price - 1, price + 0.5, contracts,
                   written + step - 1, f"{base:.8f}", count, contracts // 2,
                   f"{base / 2:.8f}", 0]
            volume, quote, taker = float(f"{base:.8f}"), None, float(f"{base / 2:.8f}")
        else:
            row = [written, price, price + 1, price - 1, price + 0.5, volume,
                   written + step - 1, f"{quote:.8f}", count, volume / 2,
                   f"{quote / 2:.8f}", 0]
            quote, taker = float(f"{quote:.8f}"), volume / 2
        rows.append([str(v) for v in row])
        values = (micros, price, price + 1, price - 1, price + 0.5, volume, quote, count, taker)
        for key, value in zip(names, values, strict=True):
            expected[key].append(value)
    return Generated(variant, list(HEADERS["klines"]), rows, expected)


def csv_bytes(gen: Generated, *, header: bool = False, newline: str = "\n") -> bytes:
    """The CSV text of `gen`, with or without its header row."""
    lines = ([",".join(gen.header)] if header else []) + [",".join(r) for r in gen.rows]
    return (newline.join(lines) + newline).encode()


def binance_path(root: Path, variant: str, date: str = "2024-01-01", suffix: str = ".csv") -> Path:
    """Where data.binance.vision keeps the file, e.g. data/futures/um/daily/aggTrades/..."""
    market, dataset = variant.split("-")
    symbol = {"spot": "BTCUSDT", "um": "BTCUSDT", "cm": "BTCUSD_PERP"}[market]
    folder = "spot" if market == "spot" else f"futures/{market}"
    stem = f"{symbol}-1m-{date}" if dataset == "klines" else f"{symbol}-{dataset}-{date}"
    sub = f"{dataset}/{symbol}/1m" if dataset == "klines" else f"{dataset}/{symbol}"
    path = root / "data" / folder / "daily" / sub / f"{stem}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_zip(path: Path, content: bytes, *, member: str | None = None) -> Path:
    """A Binance-style zip holding one CSV named like the zip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member or path.name.removesuffix(".zip") + ".csv", content)
    return path


def write_checksum(path: Path, digest: str | None = None) -> Path:
    """The sibling `<name>.CHECKSUM` as Binance publishes it (`sha256  <name>`)."""
    digest = digest or hashlib.sha256(path.read_bytes()).hexdigest()
    sidecar = path.with_name(path.name + ".CHECKSUM")
    sidecar.write_text(f"{digest}  {path.name}\n")
    return sidecar
