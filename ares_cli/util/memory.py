"""Give freed memory back to the system at once (glibc), so peak RSS follows what is live.

glibc serves a large allocation from `mmap` and returns it on `free`, but after such a block
is freed it raises its threshold up to 32 MB, so later day-sized NumPy arrays come from the
heap and the per-thread arenas, which keep freed memory. Step 1 makes a day of trades on one
thread and writes it on another: with the dynamic threshold its peak at 482,000 trades a day
was 460 MB against 147 MB at 48,000; fixing the threshold at 128 KiB (glibc's starting value,
which also turns the dynamic raising off) gave 338 MB. Elsewhere this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["return_freed_memory"]

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def return_freed_memory(threshold: int = 128 * 1024) -> bool:
    """Serve allocations of `threshold` bytes and more from mmap for the rest of the process;
    whether it took effect (glibc on Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold)))
    except (OSError, AttributeError):
        return False
