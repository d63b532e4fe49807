"""CSV payloads: gzip files and zip archives, sound and damaged."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

from tests.data.binance_files import (
    csv_bytes,
    generate,
    write_zip,
)
from tests.data.files.helpers import (
    agg_zip,
    assert_matches,
    data_error,
    load,
)


def test_gzipped_csv(tmp_path: Path) -> None:
    gen = generate("spot-trades")
    path = tmp_path / "BTCUSDT-trades-2024-01-01.csv.gz"
    path.write_bytes(gzip.compress(csv_bytes(gen)))
    assert_matches(load(path), gen.expected)


def test_truncated_zip(tmp_path: Path) -> None:
    path = agg_zip(tmp_path, n=200)
    path.write_bytes(path.read_bytes()[:-40])
    error = data_error(path)
    assert str(path) in str(error) and "corrupt zip archive" in str(error)


def test_zip_with_damaged_data(tmp_path: Path) -> None:
    path = agg_zip(tmp_path, n=2000)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # inside the deflate stream
    path.write_bytes(bytes(raw))
    error = data_error(path)
    assert str(path) in str(error) and "corrupt zip archive" in str(error)


def test_zip_holding_two_files(tmp_path: Path) -> None:
    path = tmp_path / "two.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", b"1,2\n")
        archive.writestr("b.csv", b"1,2\n")
    assert "expected one CSV inside the zip, found a.csv, b.csv" in str(data_error(path))


def test_zip_with_stored_member(tmp_path: Path) -> None:
    gen = generate("spot-klines")
    path = tmp_path / "BTCUSDT-1m-2024-01-01.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("BTCUSDT-1m-2024-01-01.csv", csv_bytes(gen))
    assert_matches(load(path), gen.expected)


def test_truncated_last_line_inside_zip(tmp_path: Path) -> None:
    content = csv_bytes(generate("um-aggTrades"), header=True)
    path = write_zip(tmp_path / "BTCUSDT-aggTrades-2024-01-01.zip", content[:-8])
    error = data_error(path)
    assert f"{path} (BTCUSDT-aggTrades-2024-01-01.csv), line 6: " in str(error)
