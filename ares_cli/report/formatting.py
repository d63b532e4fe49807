"""Text for step 16's report: HTML escaping, numbers and timestamps as a person reads them,
and loose report data (a section that may be missing, None or malformed) read as mappings,
sequences and floats, so an absent section and a malformed one read alike.

Shared by the page (`ares_cli.report.page`) and the plots (`ares_cli.report.plot_common` and
the plot modules).
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["as_mapping", "as_seq", "esc", "fmt_num", "parse_time", "span", "to_float"]


def esc(value: Any) -> str:
    """`value` as HTML-escaped text (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt_num(value: Any) -> str:
    """A number as a person reads it: None or NaN -> "n/a", ints with thousands separators,
    floats with about four significant digits, exponent only for the very large or small.
    Anything that is not a number comes back as its string (unescaped: the caller escapes)."""
    if value is None:
        return "n/a"
    if type(value).__name__ in ("bool", "bool_"):  # Python's and numpy's
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e9 or ax < 1e-4:
        return f"{x:.3e}"
    if ax >= 1000:
        return f"{x:,.2f}"
    return f"{x:.4g}"


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp as a naive UTC datetime (matplotlib's dates are UTC), or None."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    return dt


def _fmt_time(value: Any) -> str:
    """A timestamp for a caption, escaped: "2024-03-01 12:00 UTC", or the raw text if it is no
    ISO timestamp, or "n/a"."""
    dt = parse_time(value)
    if dt is None:
        return "n/a" if value in (None, "") else esc(value)
    if dt.hour == dt.minute == dt.second == 0:
        return dt.strftime("%Y-%m-%d")
    return dt.strftime("%Y-%m-%d %H:%M") + " UTC"


def span(start: Any, end: Any) -> str:
    """"START to END", both escaped."""
    return f"{_fmt_time(start)} to {_fmt_time(end)}"


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` if it is a mapping, else an empty one: absent or malformed sections read alike."""
    return value if isinstance(value, Mapping) else {}


def as_seq(value: Any) -> Sequence[Any]:
    """`value` as a sequence (a list, tuple or array), else empty."""
    if value is None or isinstance(value, str | bytes | Mapping):
        return []
    try:
        return list(value)
    except TypeError:
        return []


def to_float(value: Any) -> float:
    """`value` as a float, NaN when it is None or no number."""
    if value is None or isinstance(value, str):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
