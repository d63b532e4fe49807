"""CSV sniffing: the header row (if any) and the first data rows, read from a payload's prefix.

The layout detection (`binance_layouts`) decides from these rows alone, before polars reads
the file; the value tests (`is_number`, `is_bool`, `floats`) are shared with it.
"""

from __future__ import annotations

from ares_cli.data.files.payloads import CsvPayload
from ares_cli.errors import DataError

__all__ = ["floats", "is_bool", "is_number", "sniff"]

_SAMPLE_ROWS = 200  # data rows looked at when the layout depends on the values


def sniff(payload: CsvPayload) -> tuple[list[str] | None, list[list[str]]]:
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
    numeric = [is_number(f) for f in first]
    if not any(numeric):
        return True
    if second is None:
        return False
    return any(not n and is_number(s) for n, s in zip(numeric, second, strict=False))


def is_number(text: str) -> bool:
    """True when `text` reads as a float."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def is_bool(text: str) -> bool:
    """True for Binance booleans: True/False (spot) or true/false (futures)."""
    return text.strip().lower() in ("true", "false")


def floats(row: list[str], *indices: int) -> tuple[float, ...] | None:
    """Selected fields of a sample row as floats, or None when one does not parse."""
    try:
        return tuple(float(row[i]) for i in indices)
    except (ValueError, IndexError):
        return None
