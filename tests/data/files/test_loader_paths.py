"""`expand_paths`: files, folders and globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ares_cli.data.files.loader import expand_paths
from ares_cli.errors import DataError
from tests.data.binance_files import (
    binance_path,
    write_checksum,
    write_zip,
)


def test_expand_paths_folders_and_globs(tmp_path: Path) -> None:
    a = write_zip(binance_path(tmp_path, "spot-aggTrades", "2024-01-01", ".zip"), b"1\n")
    write_checksum(a)
    b = binance_path(tmp_path, "spot-aggTrades", "2024-01-02")
    b.write_text("1\n")
    (tmp_path / "notes.txt").write_text("not data")
    assert expand_paths([str(tmp_path)]) == [a, b]
    assert expand_paths([str(tmp_path / "**" / "*aggTrades*"), str(b)]) == [a, b]
    with pytest.raises(DataError, match=r"no input files match '.*nothing-here"):
        expand_paths([str(tmp_path / "nothing-here*.zip")])
