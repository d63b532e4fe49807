"""Checks applied to the trades or candles of every source before they enter the store.

Each row is checked against a fixed list of reasons, in order; the first that applies is the
row's reason. Policy "reject" turns the first offending row (in time order) into a `DataError`
(exit 3) naming where it came from, its trade id or timestamp and what is wrong; policy "drop"
removes such rows and counts them per reason. Where a row came from is the caller's `locate`
answer when it has one (the `files` source names the file and its line or row), else the source
and the 1-based row of the frame. Repeated trade ids (or candle timestamps) are never an error:
they are what overlapping downloads produce, so the later copies are always dropped and counted.
The result is sorted by timestamp (then trade id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import polars as pl

from ares_cli.data.schema import BARS_SCHEMA, TIMESTAMP, TRADES_SCHEMA, conform
from ares_cli.errors import ConfigError, DataError
from ares_cli.util.timeutil import as_utc

__all__ = ["EARLIEST", "POLICIES", "Locate", "validate_candles", "validate_trades"]

POLICIES = ("reject", "drop")
EARLIEST = datetime(2009, 1, 1, tzinfo=UTC)  # no crypto market traded before this

_Check = tuple[str, pl.Expr, Callable[[dict], str]]

# Where a row was read, given that row as a one-row frame of the checked schema: for example
# "<file>, line 17", or None when it cannot be told.
Locate = Callable[[pl.DataFrame], str | None]


def validate_trades(
    df: pl.DataFrame, *, policy: str, now: datetime, source: str, locate: Locate | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Check trades; return the kept rows sorted by (timestamp, trade_id) and counts per reason.

    Counts: rows_in, rows_out and dropped_<reason> for missing, nonpositive_price,
    nonpositive_qty, before_2009, after_now and duplicate_id (all keys present, zeros included).
    `locate` names where a rejected row was read (see `Locate`); it plays no part in "drop".
    """
    checks = [
        _missing_check(["trade_id", "timestamp", "price", "qty", "is_buyer_maker"]),
        _positive_check("nonpositive_price", ["price"]),
        _positive_check("nonpositive_qty", ["qty"]),
        *_time_checks(now),
    ]
    return _validate(df, TRADES_SCHEMA, checks, "trade_id", policy, source, locate)


def validate_candles(
    df: pl.DataFrame, *, policy: str, now: datetime, source: str, locate: Locate | None = None
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Check candles; return the kept rows sorted by timestamp and counts per reason.

    Counts: rows_in, rows_out and dropped_<reason> for missing, nonpositive_price,
    negative_volume, high_below_open_close, low_above_open_close, before_2009, after_now and
    duplicate_timestamp (all keys present, zeros included). `locate` as for validate_trades.
    """
    checks = [
        _missing_check(["timestamp", "open", "high", "low", "close", "volume", "filled"]),
        _positive_check("nonpositive_price", ["open", "high", "low", "close"]),
        _volume_check(),
        *_range_checks(),
        *_time_checks(now),
    ]
    return _validate(df, BARS_SCHEMA, checks, "timestamp", policy, source, locate)


# --------------------------------------------------------------------------------------------
# The checks: (reason, expression true on offending rows, message for one offending row)
# --------------------------------------------------------------------------------------------


def _missing_check(columns: list[str]) -> _Check:
    """A required value is null."""
    bad = pl.any_horizontal([pl.col(c).is_null() for c in columns])

    def message(row: dict) -> str:
        return "missing " + ", ".join(c for c in columns if row[c] is None)

    return "missing", bad, message


def _positive_check(reason: str, columns: list[str]) -> _Check:
    """A value is not a finite number above zero (NaN and infinity included)."""

    def invalid(column: str) -> pl.Expr:
        value = pl.col(column)
        return ~(value.is_finite() & (value > 0))

    def message(row: dict) -> str:
        values = ", ".join(f"{c} {row[c]}" for c in columns)
        return f"{'/'.join(columns)} must be positive and finite ({values})"

    return reason, pl.any_horizontal([invalid(c) for c in columns]), message


def _volume_check() -> _Check:
    """Candle volume is negative or not a finite number."""
    volume = pl.col("volume")

    def message(row: dict) -> str:
        return f"volume must be zero or more and finite ({row['volume']})"

    return "negative_volume", ~(volume.is_finite() & (volume >= 0)), message


def _range_checks() -> list[_Check]:
    """High is at least max(open, close) and low at most min(open, close)."""
    body_top = pl.max_horizontal("open", "close")
    body_bottom = pl.min_horizontal("open", "close")

    def high_message(row: dict) -> str:
        return f"high {row['high']} is below max(open, close) {max(row['open'], row['close'])}"

    def low_message(row: dict) -> str:
        return f"low {row['low']} is above min(open, close) {min(row['open'], row['close'])}"

    return [
        ("high_below_open_close", pl.col("high") < body_top, high_message),
        ("low_above_open_close", pl.col("low") > body_bottom, low_message),
    ]


def _time_checks(now: datetime) -> list[_Check]:
    """Timestamp before 2009-01-01 UTC or after `now`."""
    now_utc = as_utc(now)
    timestamp = pl.col("timestamp")

    def early_message(row: dict) -> str:
        return f"timestamp is before {EARLIEST.date().isoformat()}"

    def late_message(row: dict) -> str:
        return f"timestamp is after now ({now_utc.isoformat()})"

    return [
        ("before_2009", timestamp < pl.lit(EARLIEST, dtype=TIMESTAMP), early_message),
        ("after_now", timestamp > pl.lit(now_utc, dtype=TIMESTAMP), late_message),
    ]


# --------------------------------------------------------------------------------------------
# Applying them
# --------------------------------------------------------------------------------------------


def _validate(
    df: pl.DataFrame,
    schema: dict[str, pl.DataType],
    checks: list[_Check],
    key: str,
    policy: str,
    source: str,
    locate: Locate | None,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Run `checks`, apply the policy, drop repeated `key`s, sort; return rows and counts."""
    if policy not in POLICIES:
        raise ConfigError(f"validation policy must be one of {', '.join(POLICIES)}; got {policy!r}")
    df = _conform(df, schema, source)
    reason = _first_reason(checks)
    flagged = df.with_columns(reason.alias("_reason"))
    counts = {"rows_in": df.height}
    counts.update({f"dropped_{name}": 0 for name, _, _ in checks})
    if policy == "reject":
        _reject_first(flagged, checks, key, source, locate)
    else:
        for name, count in _reason_counts(flagged).items():
            counts[f"dropped_{name}"] = count
    kept = flagged.filter(pl.col("_reason").is_null()).drop("_reason")
    kept, duplicates = _drop_repeated(kept, key)
    counts[f"dropped_duplicate_{'id' if key == 'trade_id' else 'timestamp'}"] = duplicates
    kept = _sorted(kept, ["timestamp", "trade_id"] if key == "trade_id" else ["timestamp"])
    counts["rows_out"] = kept.height
    return kept, counts


def _conform(df: pl.DataFrame, schema: dict[str, pl.DataType], source: str) -> pl.DataFrame:
    """Exactly `schema`, or a DataError naming the source and the missing columns."""
    try:
        return conform(df, schema)
    except (ValueError, pl.exceptions.PolarsError) as exc:
        raise DataError(f"{source}: {exc}") from exc


def _first_reason(checks: list[_Check]) -> pl.Expr:
    """The name of the first check a row fails, or null when it passes them all."""
    name, bad, _ = checks[0]
    chain = pl.when(bad.fill_null(False)).then(pl.lit(name))
    for name, bad, _ in checks[1:]:
        chain = chain.when(bad.fill_null(False)).then(pl.lit(name))
    return chain.otherwise(pl.lit(None, dtype=pl.String))


def _reason_counts(flagged: pl.DataFrame) -> dict[str, int]:
    """Rows per failed check."""
    counts = flagged.get_column("_reason").drop_nulls().value_counts()
    return dict(zip(counts["_reason"].to_list(), counts["count"].to_list(), strict=True))


def _reject_first(
    flagged: pl.DataFrame, checks: list[_Check], key: str, source: str, locate: Locate | None
) -> None:
    """Raise a DataError describing the first offending row, if there is one.

    The row is named by `locate` (called only here, on the failure path, so a source may afford
    to look it up in its files) and otherwise by the source and its 1-based row in `flagged`.
    """
    offending = flagged.with_row_index("_row").filter(pl.col("_reason").is_not_null()).head(1)
    if offending.height == 0:
        return
    row = offending.row(0, named=True)
    place = locate(offending.drop("_row", "_reason")) if locate is not None else None
    where = place or f"{source}: row {row['_row'] + 1}"
    messages = {name: message for name, _, message in checks}
    raise DataError(f"{where} ({_identify(row, key)}): {messages[row['_reason']](row)}")


def _identify(row: dict, key: str) -> str:
    """`trade_id N, <time>` or `timestamp <time>` for messages."""
    moment = row["timestamp"].isoformat() if row["timestamp"] is not None else "no timestamp"
    if key == "trade_id":
        return f"trade_id {row['trade_id']}, {moment}"
    return f"timestamp {moment}"


def _drop_repeated(df: pl.DataFrame, key: str) -> tuple[pl.DataFrame, int]:
    """Keep the first row of each `key`; cheap when the key is already strictly increasing."""
    if _increasing(df.get_column(key)):
        return df, 0
    kept = df.filter(pl.col(key).is_first_distinct())
    return kept, df.height - kept.height


def _sorted(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """`df` sorted by `by`; the sort is skipped when the order is already right (key unique)."""
    if df.get_column("timestamp").is_sorted() and _increasing(df.get_column(by[-1])):
        return df
    return df.sort(by, maintain_order=True)


def _increasing(column: pl.Series) -> bool:
    """True when every value is larger than the one before."""
    if column.len() < 2:
        return True
    values = column.to_physical()
    return bool((values.slice(1) > values.slice(0, values.len() - 1)).all())
