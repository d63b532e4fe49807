"""Half-open time intervals in epoch milliseconds: the coverage the chunk cache proves complete
and the gaps of a download window that remain to be fetched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ares_cli.util.timeutil import as_utc

__all__ = ["EPOCH", "Interval", "ceil_ms", "floor_ms", "merge", "subtract"]

Interval = tuple[int, int]  # half-open [from_ms, to_ms)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted union of half-open intervals (touching ones are joined)."""
    out: list[Interval] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def subtract(target: Interval, covered: list[Interval]) -> list[Interval]:
    """Parts of `target` outside the merged `covered` intervals."""
    gaps: list[Interval] = []
    cursor, end = target
    for a, b in covered:
        if b <= cursor or a >= end:
            continue
        if a > cursor:
            gaps.append((cursor, a))
        cursor = max(cursor, b)
    if cursor < end:
        gaps.append((cursor, end))
    return gaps


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def floor_ms(moment: datetime) -> int:
    return (as_utc(moment) - EPOCH) // timedelta(milliseconds=1)


def ceil_ms(moment: datetime) -> int:
    us = (as_utc(moment) - EPOCH) // timedelta(microseconds=1)
    return math.ceil(us / 1000)
