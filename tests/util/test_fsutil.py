"""A full disk's error survives the trip from a worker process to its parent."""

from __future__ import annotations

import errno
import pickle
from pathlib import Path

from ares_cli.util.fsutil import DiskFull


def test_a_disk_full_error_pickles_with_its_message(tmp_path: Path) -> None:
    """A worker that raises it hands it to its parent pickled (mutation: without __reduce__,
    unpickling calls __init__ with the wrong arguments and fails)."""
    error = DiskFull(tmp_path / "objects" / "ab" / "cdef", 1234)
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, DiskFull) and back.errno == errno.ENOSPC
    assert str(back) == str(error) and "needs 1,234 bytes" in str(back)
    assert back.folder == tmp_path / "objects" / "ab" and back.needed == 1234
