"""Which files a `data.paths` list stands for: files, folders (searched recursively) and globs.

Folders and globs keep only files with a data suffix (`KNOWN_SUFFIXES`), so a `.CHECKSUM`
sidecar is never loaded as data. No file is opened here.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from ares_cli.errors import DataError

__all__ = ["KNOWN_SUFFIXES", "expand_paths"]


KNOWN_SUFFIXES = (
    ".csv", ".csv.gz", ".zip", ".parquet", ".feather", ".arrow", ".ipc", ".json", ".json.gz",
)


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Turn files, folders (searched recursively) and glob patterns into a list of data files.

    Folders and globs keep only files with a known data suffix (so `.CHECKSUM` siblings are never
    loaded as data); an explicitly named file is kept whatever its suffix. Order follows the
    arguments, each folder or glob sorted by path, without repeats.
    """
    found: dict[Path, None] = {}  # ordered set
    for pattern in paths:
        matches = _expand_one(pattern)
        if not matches and not _is_glob(pattern) and not Path(pattern).exists():
            raise DataError(f"no such file or folder: {pattern}")
        if not matches:
            raise DataError(
                f"no input files match {pattern!r} (looked for {', '.join(KNOWN_SUFFIXES)})"
            )
        found.update(dict.fromkeys(matches))
    return list(found)


def _has_known_suffix(path: Path) -> bool:
    """True for file names ending in one of KNOWN_SUFFIXES (case-insensitive)."""
    return path.name.lower().endswith(KNOWN_SUFFIXES)


def _is_glob(pattern: str) -> bool:
    """True when the argument is a glob pattern rather than a path."""
    return any(ch in pattern for ch in "*?[")


def _expand_one(pattern: str) -> list[Path]:
    """The data files one argument stands for; a missing plain path yields an empty list."""
    if _is_glob(pattern):
        hits = (Path(p) for p in glob.glob(pattern, recursive=True))
        return sorted(p for p in hits if p.is_file() and _has_known_suffix(p))
    path = Path(pattern)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and _has_known_suffix(p))
    return [path] if path.is_file() else []
