"""Crash-safe file writes and path-safe names, shared by the store and the download cache."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["TMP_PREFIX", "DiskFull", "atomic_write", "fsync_dir", "safe_name", "sha256_file"]

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


class DiskFull(OSError):
    """A write failed for want of space (or quota): names the folder and the bytes needed."""

    def __init__(self, path: Path, needed: int) -> None:
        try:
            free = f"{shutil.disk_usage(path.parent).free:,} bytes free"
        except OSError:
            free = "free space unknown"
        super().__init__(errno.ENOSPC, f"no space left on the device of {path.parent}: "
                         f"writing {path.name} needs {needed:,} bytes ({free})")
        self.folder, self.needed = path.parent, needed
        self._text = str(self.strerror)

    def __str__(self) -> str:
        return self._text

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its message (a worker process may raise it to its parent)."""
        return (_disk_full, (self._text, str(self.folder), self.needed))


def _disk_full(text: str, folder: str, needed: int) -> DiskFull:
    error = DiskFull.__new__(DiskFull)
    OSError.__init__(error, errno.ENOSPC, text)
    error.folder, error.needed, error._text = Path(folder), needed, text
    return error


def _write_all(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def atomic_write(path: Path, data: bytes, *, read_only: bool = False) -> None:
    """Write `data` to `path` via temp file + fsync + rename; never leaves a partial file.

    Raises:
        DiskFull: the device (or the quota) has no room: nothing was written.
    """
    tmp = path.parent / f"{TMP_PREFIX}{path.name}.{secrets.token_hex(6)}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as handle:
            _write_all(handle, data)
        if read_only:
            tmp.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(exc, DiskFull):
            raise DiskFull(path, len(data)) from exc
        raise
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
