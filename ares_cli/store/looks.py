"""The look ledger: an append-only record, in the store, of every setting whose results on some
bars a user could have seen (`ml/evaluation/looks.py` says what a look is and which count).

One JSON object per line in `looks/ledger.jsonl`. Lines are only ever appended (with the file
locked, one write, fsynced): `gc`, `gc --failed` and re-runs never remove one, so a verdict is
corrected for every setting tried on its test bars, including runs since deleted. A line torn by
a crash is skipped when read.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["LEDGER", "LookLedger"]

LEDGER = Path("looks") / "ledger.jsonl"


class LookLedger:
    """The ledger of the store at `root`."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / LEDGER

    def entries(self) -> list[dict[str, Any]]:
        """Every complete entry, in the order appended."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a crash mid-write
            if isinstance(entry, dict):
                out.append(entry)
        return out

    def append(self, entry: Mapping[str, Any], *, same: tuple[str, ...] = ()) -> bool:
        """Append `entry` unless one already holds the same values of the keys `same` (a
        re-run of one look adds nothing); True when it was written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if same:
                key = tuple(json.dumps(entry.get(k), sort_keys=True) for k in same)
                for old in self.entries():
                    if tuple(json.dumps(old.get(k), sort_keys=True) for k in same) == key:
                        return False
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a torn last line stays apart
                line = "\n" + line
            os.write(fd, line.encode())
            os.fsync(fd)
            return True
        finally:
            os.close(fd)
