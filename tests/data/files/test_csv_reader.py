"""Reading CSV: line endings, and malformed lines named by line and field."""

from __future__ import annotations

from pathlib import Path

from tests.data.binance_files import (
    csv_bytes,
    generate,
)
from tests.data.files.helpers import (
    assert_matches,
    data_error,
    load,
)


def test_crlf_and_trailing_blank_lines(tmp_path: Path) -> None:
    gen = generate("um-aggTrades")
    path = tmp_path / "x.csv"
    path.write_bytes(csv_bytes(gen, header=True, newline="\r\n") + b"\r\n\r\n")
    assert_matches(load(path), gen.expected)


def test_truncated_last_line(tmp_path: Path) -> None:
    content = csv_bytes(generate("spot-aggTrades"))
    path = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    path.write_bytes(content[:-30])  # the last of 5 lines is cut short
    error = data_error(path)
    assert str(error).startswith(f"{path}, line 5: expected 8 fields, found ")


def test_unparsable_value_names_line_and_field(tmp_path: Path) -> None:
    gen = generate("spot-klines")
    gen.rows[2][1] = "0.0x1"
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(gen))
    error = data_error(path)
    assert str(error) == f"{path}, line 3: field 2 (open) '0.0x1' is not a number"


def test_bad_boolean_and_extra_field(tmp_path: Path) -> None:
    gen = generate("um-trades")
    gen.rows[1][5] = "maybe"
    gen.rows[3].append("9")
    path = tmp_path / "t.csv"
    path.write_bytes(csv_bytes(gen, header=True))
    expected = f"{path}, line 3: field 6 (is_buyer_maker) 'maybe' is not true/false"
    assert str(data_error(path)) == expected
    gen.rows[1][5] = "true"
    path.write_bytes(csv_bytes(gen, header=True))
    assert str(data_error(path)).startswith(f"{path}, line 5: expected 6 fields, found 7")


def test_blank_line_in_the_middle(tmp_path: Path) -> None:
    lines = csv_bytes(generate("spot-aggTrades")).split(b"\n")
    path = tmp_path / "a.csv"
    path.write_bytes(b"\n".join([*lines[:2], b"", *lines[2:]]))
    assert str(data_error(path)) == f"{path}, line 3: empty line (expected 8 fields)"


def test_lines_above_the_header_are_skipped_and_reported(tmp_path: Path) -> None:
    """A download site's URL (and a blank line) above the header: the table below is read,
    the skip is in the file's facts, and a bad row is still named by its line in the file."""
    import pytest

    from ares_cli.errors import DataError

    table = ("time,open,high,low,close,volume\n"
             "1704067200000,1,2,0.5,1.5,10\n1704070800000,1.5,2,1,1.8,12\n")
    path = tmp_path / "export.csv"
    path.write_text("https://www.example-data-site.com\n\n" + table)
    loaded = load(path)
    assert loaded.frame.height == 2 and loaded.kind == "candles"
    assert loaded.files[0]["preamble_lines_skipped"] == 2
    plain = tmp_path / "plain.csv"
    plain.write_text(table)
    assert "preamble_lines_skipped" not in load(plain).files[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("https://www.example-data-site.com\n" + table + "1704074400000,1,x,1,1,1\n")
    with pytest.raises(DataError, match=r"bad.csv, line 5"):
        load(bad)


def test_null_words_in_a_column_a_candle_can_do_without_are_missing_values(
        tmp_path: Path) -> None:
    """NULL, an empty field or NaN in the trade count is a missing value, counted in the
    file's facts; in a price it is still a bad row named by its line."""
    import pytest

    from ares_cli.errors import DataError

    rows = ["unix,open,high,low,close,volume,tradecount",
            "1704067200000,1,2,0.5,1.5,10,7", "1704070800000,1.5,2,1,1.8,12,NULL",
            "1704074400000,1.8,2,1,1.2,9,", "1704078000000,1.2,2,1,1.3,9,NaN"]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(rows) + "\n")
    loaded = load(path)
    assert loaded.frame["trades"].to_list() == [7, None, None, None]
    assert loaded.files[0]["missing_values"] == {"trades": 3}
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*rows[:2], "1704070800000,1.5,2,1,NULL,12,3"]) + "\n")
    with pytest.raises(DataError, match=r"bad.csv, line 3: close 'NULL' is not a number"):
        load(bad)
