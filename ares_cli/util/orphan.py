"""Worker processes that die with the process that started them.

`kill -9` of `ares` gives it no chance to stop its workers: walk-forward's loky processes kept
computing, and with them loky's resource trackers stayed alive, for over 100 s after the run was
killed. `PR_SET_PDEATHSIG` fires when the *thread* that started a child exits (loky starts its
workers from a helper thread), so a worker instead watches its parent's process id: the kernel
re-parents an orphan, and the watch then ends the worker at once.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]

_WATCHED: list[int] = []  # the parent this process watches (one watch per process)
ORPHAN_EXIT = 70  # EX_SOFTWARE: not a result, a worker whose run is gone


def exit_with_parent(parent: int | None = None, poll_s: float = 0.5) -> None:
    """In a worker process: exit within `poll_s` seconds once its parent is gone. `parent` is
    the process id of the process that started this one, given by that process (a worker that
    boots slowly may already be an orphan when it first asks; default: its parent now). Call it
    in the worker only (the main process's parent is a shell or cron, which may come and go)."""
    if _WATCHED:
        return
    expected = os.getppid() if parent is None else parent
    _WATCHED.append(expected)

    def watch() -> None:
        while True:
            if os.getppid() != expected:
                os._exit(ORPHAN_EXIT)
            time.sleep(poll_s)

    threading.Thread(target=watch, name="ares-parent-watch", daemon=True).start()
