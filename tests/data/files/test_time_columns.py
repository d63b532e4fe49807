"""Timestamps: units by magnitude, explicit units checked against the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ares_cli.errors import ConfigError
from tests.conftest import shared_file
from tests.data.binance_files import (
    csv_bytes,
    generate,
)
from tests.data.files.helpers import (
    data_error,
    load,
    micros,
)


def test_microsecond_timestamps_keep_sub_millisecond_precision(tmp_path: Path) -> None:
    gen = generate("spot-aggTrades", unit="us")
    path = tmp_path / "BTCUSDT-aggTrades-2025-01-01.csv"
    path.write_bytes(csv_bytes(gen))
    stamps = micros(load(path).frame)
    assert stamps == gen.expected["timestamp"] and stamps[0] % 1000 == 137


def test_mixed_timestamp_units_in_one_file_are_read_per_value(tmp_path: Path) -> None:
    """An export that switched units part-way keeps every row: each value's unit by its
    magnitude, and the file's facts say so (before, a file had one unit and the other rows
    were an error or, as 'before 2009', silently dropped)."""
    gen = generate("spot-aggTrades")
    gen.rows[3][5] = str(int(gen.rows[3][5]) * 1000)  # one row in microseconds
    gen.rows[1][5] = str(int(gen.rows[1][5]) // 1000)  # one in seconds (whole seconds)
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    result = load(path)
    expected = list(gen.expected["timestamp"])
    expected[1] = expected[1] // 1_000_000 * 1_000_000
    assert micros(result.frame) == sorted(expected)
    assert result.files[0]["time_unit"] == "mixed (s 1, ms 3, us 1)"


def test_explicit_unit_that_fits_is_used(tmp_path: Path) -> None:
    gen = generate("um-aggTrades", unit="us")
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    result = load(path, timestamp_unit="us")
    assert result.files[0]["time_unit"] == "us"
    assert micros(result.frame) == gen.expected["timestamp"]


@pytest.mark.parametrize(
    ("unit", "reads_as", "fits"),
    [("ns", "1970-01-01T00:28:24", "ms"), ("us", "1970-01-20T17:21:07", "ms"),
     ("s", "beyond the year 9999", "ms")],
)
def test_explicit_unit_against_the_magnitudes(
    tmp_path: Path, unit: str, reads_as: str, fits: str
) -> None:
    gen = generate("um-aggTrades")  # milliseconds from 2024-01-01
    path = tmp_path / "a.csv"
    path.write_bytes(csv_bytes(gen))
    with pytest.raises(ConfigError) as caught:
        load(path, timestamp_unit=unit)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith(f"{path}: files.timestamp_unit = {unit!r} but column "
                              "'transact_time' holds values like 17040")
    assert f"which in {UNIT_WORDS[unit]} is {reads_as}" in message
    assert message.endswith(f"set timestamp_unit = {fits!r} or 'auto'")


UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


def test_explicit_unit_on_iso_text_or_datetimes(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("time,price,qty,id,side\n2024-01-01T00:00:00,1.5,2,1,buy\n"
                    "2024-01-01T00:00:01,1.6,1,2,sell\n")
    assert load(path).files[0]["time_unit"] == "iso"
    with pytest.raises(ConfigError) as caught:
        load(path, timestamp_unit="ms")
    assert str(caught.value) == (
        f"{path}: files.timestamp_unit = 'ms' but column 'time' holds ISO text "
        "(2024-01-01T00:00:00); leave timestamp_unit = 'auto'"
    )
    feather = shared_file("real/freqtrade/XRP_ETH-5m.feather")
    with pytest.raises(ConfigError, match=r"column 'date' holds datetimes \(Datetime\("):
        load(feather, timestamp_unit="s")


def test_explicit_unit_overflow_and_implausible_values(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ts,id,price,qty,side\n1672531436,1,1,1,buy\n1672531437000000,2,1,1,buy\n"
                    "1672531438,3,1,1,buy\n")
    error = str(data_error(path, timestamp_unit="s"))  # µs read as s would wrap around int64
    assert error == f"{path}, line 3: timestamp 1672531437000000 is out of range in seconds"
    # Values that are a plausible date in no unit are kept; validation names them (before 2009).
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("ts,id,price,qty,side\n12345,1,1,1,buy\n")
    assert load(tiny, timestamp_unit="ms").frame["timestamp"][0].year == 1970


def test_slashed_dates_read_day_or_month_first_as_the_column_decides() -> None:
    """Two date formats in one column (ISO and slashed): the slashed ones are read day-first or
    month-first as the column's values decide, never by a parser's guess; a column that cannot
    tell (every day and month 12 or less, or both orders) is exit 3 naming it."""
    from datetime import UTC, datetime

    import polars as pl

    from ares_cli.data.files.parsed import Where
    from ares_cli.data.files.time_columns import timestamps
    from ares_cli.errors import DataError

    where = Where("export.csv", 2)

    def read(values: list[str]) -> list[datetime]:
        return timestamps(pl.Series("date", values), "auto", where)[0].to_list()

    assert read(["2024-01-31 00:00:00", "31/01/2024 01:00", "01/02/2024 02:00:00"]) == [
        datetime(2024, 1, 31, 0, tzinfo=UTC), datetime(2024, 1, 31, 1, tzinfo=UTC),
        datetime(2024, 2, 1, 2, tzinfo=UTC)]
    assert read(["01/31/2024 00:00", "02/01/2024"]) == [datetime(2024, 1, 31, tzinfo=UTC),
                                                       datetime(2024, 2, 1, tzinfo=UTC)]
    for values, why in ((["01/02/2024", "03/04/2024"], "12 or less"),
                        (["13/01/2024", "01/13/2024"], "others second")):
        with pytest.raises(DataError, match=f"column 'date' are slashed.*{why}"):
            read(values)
