"""What reading one file yields (`Parsed`), and how its rows are named in error messages.

`Where` names a data row as `<file>, line N` (CSV) or `<file>, row N` (other formats);
`raise_on_new_nulls` turns a conversion that lost a value into a `DataError` naming that row.
Every reader and the normalisation share these, so they sit in this small leaf module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ares_cli.errors import DataError

__all__ = ["Parsed", "Where", "raise_on_new_nulls"]


@dataclass(frozen=True)
class Parsed:
    """One file, normalised: its canonical frame and what was detected."""

    path: Path
    kind: str
    frame: pl.DataFrame
    layout: str
    time_unit: str
    header: bool
    where: Where
    checksum: str = "absent"
    preamble_lines: int = 0  # lines above the table that were skipped (a URL, a title)

    def summary(self) -> dict:
        """The per-file entry of LoadedFiles.files."""
        out = {
            "path": str(self.path),
            "layout": self.layout,
            "rows": self.frame.height,
            "time_unit": self.time_unit,
            "header": self.header,
            "checksum": self.checksum,
        }
        if self.preamble_lines:
            out["preamble_lines_skipped"] = self.preamble_lines
        missing = {c: n for c in ("quote_volume", "trades", "taker_buy_volume")
                   if c in self.frame.columns
                   and 0 < (n := self.frame[c].null_count()) < self.frame.height}
        if missing:  # values a column holds for some rows only (NULL in an export)
            out["missing_values"] = missing
        return out


@dataclass(frozen=True)
class Where:
    """How to name a row in messages: CSV line numbers, or 1-based rows for other formats."""

    label: str
    first_line: int | None = None

    def at(self, index: int) -> str:
        """`<file>, line N` or `<file>, row N` for the 0-based data row `index`."""
        if self.first_line is None:
            return f"{self.label}, row {index + 1}"
        return f"{self.label}, line {index + self.first_line}"


def raise_on_new_nulls(before: pl.Series, after: pl.Series, where: Where, template: str) -> None:
    """DataError at the first row where a present value became null in a conversion."""
    if after.null_count() == before.null_count():
        return
    lost = (before.is_not_null() & after.is_null()).arg_true()
    if lost.len():
        index = int(lost[0])
        raise DataError(f"{where.at(index)}: " + template.format(value=before[index]))
