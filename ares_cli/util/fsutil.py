"""Crash-safe file writes and path-safe names, shared by the store and the download cache."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
from pathlib import Path

__all__ = ["TMP_PREFIX", "atomic_write", "fsync_dir", "safe_name", "sha256_file"]

TMP_PREFIX = ".tmp-"


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, read_only: bool = False) -> None:
    """Write `data` to `path` via temp file + fsync + rename; never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f"{TMP_PREFIX}{path.name}.{secrets.token_hex(6)}"
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if read_only:
            tmp.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(path.parent)


def safe_name(text: str, fill: str = "-") -> str:
    """A path-safe form of an exchange or symbol name ('ETH/USDT' -> 'ETH-USDT')."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", fill, text)
    return cleaned.strip("." + fill) or "_"


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
