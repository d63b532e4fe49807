"""One file: checksum sidecars, empty files, and the kind the caller asked for."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.data.binance_files import (
    HEADERS,
    binance_path,
    csv_bytes,
    generate,
    write_checksum,
    write_zip,
)
from tests.data.files.helpers import (
    AGG_ZIP,
    agg_zip,
    assert_matches,
    data_error,
    expected_layout,
    load,
)


@pytest.mark.parametrize("variant", ["spot-aggTrades", "um-trades", "cm-klines"])
def test_zip_with_correct_checksum(tmp_path: Path, variant: str) -> None:
    gen = generate(variant, n=50)
    path = write_zip(binance_path(tmp_path, variant, suffix=".zip"), csv_bytes(gen))
    write_checksum(path)
    result = load(path)
    assert result.files[0]["checksum"] == "ok"
    assert result.files[0]["layout"] == expected_layout(variant)
    assert_matches(result, gen.expected)


def test_zip_checksum_absent_or_skipped(tmp_path: Path) -> None:
    path = agg_zip(tmp_path)
    assert load(path).files[0]["checksum"] == "absent"
    write_checksum(path, "0" * 64)
    assert load(path, verify_checksum=False).files[0]["checksum"] == "skipped"


def test_zip_with_wrong_checksum(tmp_path: Path) -> None:
    path = agg_zip(tmp_path)
    write_checksum(path, "ab" * 32)
    error = str(data_error(path))
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    assert error == (
        f"{path}: sha256 checksum mismatch: expected {'ab' * 32} (from {AGG_ZIP}.CHECKSUM), "
        f"actual {actual}"
    )


def test_empty_files(tmp_path: Path) -> None:
    empty = tmp_path / "BTCUSDT-aggTrades-2024-01-01.csv"
    empty.write_bytes(b"")
    assert str(data_error(empty)) == f"{empty}: file is empty"
    empty_zip = write_zip(tmp_path / "BTCUSDT-trades-2024-01-01.zip", b"")
    expected = f"{empty_zip} (BTCUSDT-trades-2024-01-01.csv): file is empty"
    assert str(data_error(empty_zip)) == expected
    header_only = tmp_path / "h.csv"
    header_only.write_text(",".join(HEADERS["aggTrades"]) + "\n")
    assert "no data rows" in str(data_error(header_only))


def test_kind_option_must_match(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_bytes(csv_bytes(generate("spot-klines")))
    assert "holds candles (binance-spot-klines), not trades" in str(data_error(path, kind="trades"))
