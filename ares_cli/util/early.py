"""Work begun before the step that needs it: a background computation filed under that step's
action key, taken by the step when it runs.

Walk-forward needs only the bars and the splits, yet runs after steps 4-12, which leave one of
the two cores idle much of the time; begun as soon as its inputs exist, its folds fill that core.
The step computes exactly what it would compute alone (same inputs, same config, same code: the
action key says so), only earlier; work nobody takes is cancelled when the run ends.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Relay", "cancel_all", "pending", "start", "take"]

Progress = Callable[[float, str], None]


class Relay:
    """A progress callback whose target is set later: silent (remembering the last report)
    until the step that takes the work attaches its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Progress | None = None
        self._last: tuple[float, str] | None = None

    def __call__(self, fraction: float, message: str = "") -> None:
        with self._lock:
            self._last = (fraction, message)
            target = self._target
        if target is not None:
            target(fraction, message)

    def attach(self, target: Progress) -> None:
        with self._lock:
            self._target, last = target, self._last
        if last is not None:
            target(*last)


class _Work:
    def __init__(self, key: str, work: Callable[[Relay], Any],
                 cancel: Callable[[], None]) -> None:
        self.key, self.cancel = key, cancel
        self.relay = Relay()
        self.result: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True,
                                       name=f"ares-early-{key[:12]}")

    def _run(self, work: Callable[[Relay], Any]) -> None:
        try:
            self.result = work(self.relay)
        except BaseException as exc:  # handed to the step that takes it, raised there
            self.error = exc


_WORK: dict[str, _Work] = {}
_LOCK = threading.Lock()


def start(key: str, work: Callable[[Relay], Any], cancel: Callable[[], None]) -> bool:
    """Begin `work(progress)` in a background thread under `key`; False (nothing begun) when
    work under that key is already in flight. `cancel` stops it from another thread."""
    with _LOCK:
        if key in _WORK:
            return False
        job = _WORK[key] = _Work(key, work, cancel)
    job.thread.start()
    return True


def pending() -> list[str]:
    """The keys of work begun and not yet taken."""
    with _LOCK:
        return list(_WORK)


def take(key: str, progress: Progress) -> tuple[bool, Any]:
    """(True, result) of the work begun under `key`, once it is done, its progress shown
    through `progress` from now on; (False, None) when none was begun. An exception of the
    work is raised here, in the step that takes it."""
    with _LOCK:
        job = _WORK.pop(key, None)
    if job is None:
        return False, None
    job.relay.attach(progress)
    job.thread.join()
    if job.error is not None:
        raise job.error
    return True, job.result


def cancel_all(timeout: float = 30.0) -> None:
    """Stop every untaken work and wait (up to `timeout` s each) for its thread: a run that
    ends (failed, interrupted or finished) leaves nothing computing behind it."""
    with _LOCK:
        jobs = list(_WORK.values())
        _WORK.clear()
    for job in jobs:
        job.cancel()
        job.thread.join(timeout)
