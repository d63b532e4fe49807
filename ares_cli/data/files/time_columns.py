"""Timestamps to UTC microseconds: epoch numbers (unit by magnitude), datetimes, ISO strings.

With `[files] timestamp_unit = "auto"` the unit is decided per value, by magnitude (an export
that switched from seconds to milliseconds part-way keeps every row; the file's facts say
"mixed" and count each unit). An explicit `[files] timestamp_unit` is a statement about the
file that is checked, not trusted: on ISO text or datetimes, or where it makes the file's dates
absurd and another unit would not, it raises `ConfigError` (exit 2), since the file is fine
and the setting is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from ares_cli.data.files.parsed import Where, raise_on_new_nulls
from ares_cli.data.schema import TIMESTAMP
from ares_cli.data.validate import EARLIEST
from ares_cli.errors import ConfigError, DataError

__all__ = ["timestamps"]


_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def timestamps(series: pl.Series, unit: str, where: Where) -> tuple[pl.Series, str]:
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
        units = _units_per_value(series)
        if len(units) > 1:  # decided per value: the file's facts name each unit's rows
            return _from_mixed_epoch(series), "mixed (" + ", ".join(
                f"{u} {n}" for u, n in units.items()) + ")"
        unit = next(iter(units), "s")
    else:
        _check_explicit_unit(series, unit, where)
    return _from_epoch(series, unit, where), unit


def _unit_not_applicable(
    unit: str, series: pl.Series, where: Where, holds: str, examples: pl.Series
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


def _check_explicit_unit(series: pl.Series, unit: str, where: Where) -> None:
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


_SLASHED = r"^\s*(\d{1,2})[/.](\d{1,2})[/.](\d{4})"


def _parse_iso(series: pl.Series, where: Where) -> pl.Series:
    """ISO-8601 strings (with or without offset) as UTC timestamps; a column that also (or
    only) holds slashed dates (31/01/2024 or 01/31/2024, with an optional time) reads them
    day-first or month-first as the column's values decide, and a column that cannot tell
    (every day and month 12 or less) is a DataError naming it."""
    slashed = series.str.contains(_SLASHED).fill_null(False)
    if slashed.any():  # never left to a parser's guess of the day/month order
        iso = pl.select(pl.when(~slashed).then(series)).to_series()
        parsed = iso.str.to_datetime(time_unit="us", strict=False).zip_with(
            ~slashed, _parse_slashed(series, slashed, where))
    else:
        parsed = series.str.to_datetime(time_unit="us", strict=False)
    raise_on_new_nulls(series, parsed, where, "timestamp {value!r} is not a date-time")
    return _datetime_utc(parsed)


def _parse_slashed(series: pl.Series, slashed: pl.Series, where: Where) -> pl.Series:
    """The slashed dates of `series` (others null), day-first or month-first by the column."""
    parts = series.filter(slashed).str.extract_groups(_SLASHED)
    first, second = parts.struct.field("1").cast(pl.Int32), parts.struct.field("2").cast(pl.Int32)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first == month_first:
        why = ("some dates have a day over 12 first and others second" if day_first else
               "every day and month is 12 or less, so 01/02 could be either")
        raise DataError(f"{where.label}: the dates of column {series.name!r} are slashed and "
                        f"cannot be read: {why}; rewrite them as ISO (2024-01-31 00:00)")
    order = "%d/%m/%Y" if day_first else "%m/%d/%Y"
    text = series.str.replace_all(r"\.", "/").str.strip_chars()
    out = None
    for suffix in (" %H:%M:%S", " %H:%M", ""):
        attempt = text.str.to_datetime(order + suffix, time_unit="us", strict=False)
        out = attempt if out is None else out.fill_null(attempt)
    return pl.select(pl.when(slashed).then(out)).to_series()


def _unit_of(value: float) -> str:
    """Epoch unit of a timestamp after 1973 by magnitude (Binance: ≥1e15 µs, ≥1e12 ms)."""
    if value >= 1e17:
        return "ns"
    if value >= 1e14:
        return "us"
    return "ms" if value >= 1e11 else "s"


def _units_per_value(series: pl.Series) -> dict[str, int]:
    """How many values read as each epoch unit by magnitude (values below 1e11 as seconds,
    left to validation when they are out of range), in unit order."""
    values = series.drop_nulls()
    counts = {"s": int((values < 1e11).sum()),
              "ms": int(((values >= 1e11) & (values < 1e14)).sum()),
              "us": int(((values >= 1e14) & (values < 1e17)).sum()),
              "ns": int((values >= 1e17).sum())}
    return {u: n for u, n in counts.items() if n}


def _from_mixed_epoch(series: pl.Series) -> pl.Series:
    """Epoch numbers in per-value units (by magnitude) as UTC µs timestamps."""
    v = pl.col("v")
    exact = series.dtype.is_integer()
    frame = pl.DataFrame({"v": series.cast(pl.Int64 if exact else pl.Float64)})
    micros = frame.select(
        pl.when(v >= 1e17).then(v // 1000 if exact else (v / 1000).round(0))
        .when(v >= 1e14).then(v)
        .when(v >= 1e11).then(v * 1000)
        .otherwise(v * 1_000_000)
        .cast(pl.Int64).alias("timestamp"))["timestamp"]
    return micros.cast(TIMESTAMP)


def _from_epoch(series: pl.Series, unit: str, where: Where) -> pl.Series:
    """Epoch numbers in `unit` as UTC µs timestamps; one that overflows is a DataError.

    Overflow only happens with an explicit unit (detection never picks a unit that overflows),
    e.g. 's' on a stray millisecond value: integer multiplication would wrap around silently.
    """
    if series.dtype.is_float():
        micros = (series * {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]).round(0)
        as_int = micros.cast(pl.Int64, strict=False)
        raise_on_new_nulls(series, as_int, where, "timestamp {value!r} is not a valid number "
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
