"""UTC time helpers shared by config, sources and validation: every timestamp in ares is UTC."""

from __future__ import annotations

import datetime

__all__ = ["as_utc", "parse_utc", "timeframe_ms", "timeframe_name"]

TIMEFRAME_UNITS_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def as_utc(moment: datetime.datetime) -> datetime.datetime:
    """`moment` in UTC; a naive datetime is taken to be UTC already."""
    utc = datetime.UTC
    return moment.replace(tzinfo=utc) if moment.tzinfo is None else moment.astimezone(utc)


def parse_utc(value: str) -> datetime.datetime:
    """Parse an ISO date or datetime as UTC (naive values are taken to be UTC)."""
    return as_utc(datetime.datetime.fromisoformat(value.replace("Z", "+00:00")))


def timeframe_ms(spec: str) -> int:
    """Length of a timeframe such as '1m', '15m', '1h', '1d' in milliseconds."""
    unit = spec[-1:] if spec else ""
    number = spec[:-1]
    if unit not in TIMEFRAME_UNITS_MS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"'{spec}' is not a timeframe like 1m, 5m, 1h, 4h, 1d")
    return int(number) * TIMEFRAME_UNITS_MS[unit]


def timeframe_name(ms: int) -> str:
    """The shortest name of a length in milliseconds, in `timeframe_ms`'s form ('4h', '90s')."""
    for unit, length in sorted(TIMEFRAME_UNITS_MS.items(), key=lambda kv: -kv[1]):
        if ms >= length and ms % length == 0:
            return f"{ms // length}{unit}"
    return f"{ms}ms"
