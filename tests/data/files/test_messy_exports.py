"""Hand-made messy variants of a real Binance candle file, one per messiness a user's export
shows, each with its expected outcome and message fragment (the table below)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from ares_cli.errors import DataError
from tests.conftest import shared_file
from tests.data.files.helpers import load

SOURCES = ("real/binance/ADABTC-1m-2021-11-27.csv", "real/binance/ADABTC-1m-2021-11-28.csv")
HEADER = "unix,date,symbol,open,high,low,close,volume,tradecount"


def _rows() -> list[list[str]]:
    """The real candles as an exchange-site export: epoch ms, an ISO date, the symbol."""
    rows = []
    for relative in SOURCES:
        for line in shared_file(relative).read_text().splitlines():
            f = line.split(",")
            date = pl.from_epoch(pl.Series([int(f[0])]), time_unit="ms")[0]
            rows.append([f[0], date.strftime("%Y-%m-%d %H:%M:%S"), "ADA/BTC", *f[1:6], f[8]])
    return rows


def _csv(rows: list[list[str]], header: str = HEADER) -> str:
    return "\n".join([header, *(",".join(r) for r in rows)]) + "\n"


def preamble(rows, d):
    (d / "a.csv").write_text("https://www.example-data-site.com\n" + _csv(rows))


def newest_first(rows, d):
    (d / "a.csv").write_text(_csv(rows[::-1]))


def _epoch_only(rows: list[list[str]]) -> list[list[str]]:
    return [[r[0], *r[2:]] for r in rows]


EPOCH_HEADER = HEADER.replace("date,", "")


def mixed_units(rows, d):  # the older half in seconds, as some exports switched part-way
    half = len(rows) // 2
    (d / "a.csv").write_text(_csv(_epoch_only(
        [[str(int(r[0]) // 1000), *r[1:]] for r in rows[:half]] + rows[half:]), EPOCH_HEADER))


def overlapping(rows, d):
    (d / "a.csv").write_text(_csv(rows[:12]))
    (d / "b.csv").write_text(_csv(rows[8:]))


def conflicting(rows, d):
    changed = [list(r) for r in rows[8:]]
    changed[0][6] = "0.00009999"  # a close of the overlapping minute differs
    (d / "a.csv").write_text(_csv(rows[:12]))
    (d / "b.csv").write_text(_csv(changed))


def null_counts(rows, d):
    (d / "a.csv").write_text(_csv(_epoch_only([[*r[:-1], "NULL" if k % 3 == 0 else r[-1]]
                                               for k, r in enumerate(rows)]), EPOCH_HEADER))


def two_date_formats(rows, d):  # no epoch column; the later half dated day-first
    half = len(rows) // 2
    dated = []
    for k, r in enumerate(rows):
        date = r[1]
        if k >= half:
            day, month, year = date[8:10], date[5:7], date[:4]
            date = f"{day}/{month}/{year} {date[11:16]}"
        dated.append([date, *r[2:]])
    header = HEADER.removeprefix("unix,")
    (d / "a.csv").write_text(_csv(dated, header))


def ambiguous_dates(rows, d):
    dated = [[f"0{1 + k % 9}/0{1 + k % 3}/2021 00:{k:02d}", *r[2:]] for k, r in enumerate(rows)]
    (d / "a.csv").write_text(_csv(dated, HEADER.removeprefix("unix,")))


def unnamed_volume(rows, d):
    (d / "a.csv").write_text(_csv(rows, HEADER.replace("volume", "Volume ADA")))


Check = Callable[[object], bool]
# variant, how it is written, expected ("ok", check of the loaded files) or ("exit 3", fragment)
VARIANTS: list[tuple[str, Callable, str, object]] = [
    ("a URL above the header", preamble, "ok",
     lambda r: r.files[0]["preamble_lines_skipped"] == 1 and r.frame.height == 21),
    ("newest first", newest_first, "ok",
     lambda r: r.frame["timestamp"].is_sorted() and r.frame.height == 21),
    ("epoch seconds, then milliseconds", mixed_units, "ok",
     lambda r: r.files[0]["time_unit"] == "mixed (s 10, ms 11)" and r.frame.height == 21),
    ("two exports overlapping by 4 minutes", overlapping, "ok",
     lambda r: r.duplicates_dropped == 4 and r.frame.height == 21),
    ("two exports disagreeing on an overlapping minute", conflicting, "exit 3",
     "with different values (close"),
    ("NULL in the trade count", null_counts, "ok",
     lambda r: r.files[0]["missing_values"] == {"trades": 7}),
    ("ISO dates, then day-first dates", two_date_formats, "ok",
     lambda r: r.frame.height == 21 and r.frame["timestamp"].is_sorted()),
    ("slashed dates that cannot tell day from month", ambiguous_dates, "exit 3",
     "every day and month is 12 or less"),
    ("a volume column under another name", unnamed_volume, "exit 3",
     "--set 'files.columns={ volume = \"<its column>\" }'"),
]


@pytest.mark.parametrize(("name", "write", "outcome", "expected"), VARIANTS,
                         ids=[v[0] for v in VARIANTS])
def test_messy_variant(tmp_path: Path, name: str, write: Callable, outcome: str,
                       expected: object) -> None:
    rows = _rows()
    assert len(rows) == 21
    write(rows, tmp_path)
    paths = sorted(tmp_path.glob("*.csv"))
    if outcome == "ok":
        loaded = load(*paths)
        truth = load_clean(tmp_path.parent / f"{tmp_path.name}-clean", rows)
        assert expected(loaded), (name, loaded.files)
        assert loaded.frame.select("timestamp", "close").equals(
            truth.frame.select("timestamp", "close")), name
    else:
        with pytest.raises(DataError) as caught:
            load(*paths)
        assert str(expected) in str(caught.value), (name, str(caught.value))


def load_clean(folder: Path, rows: list[list[str]]):
    folder.mkdir(exist_ok=True)
    (folder / "clean.csv").write_text(_csv(rows))
    return load(folder / "clean.csv")
