"""Fault injection for the crash tests: `ARES_FAULT=kill-before:N` kills this process with
SIGKILL just before step N starts; `ARES_FAULT=kill-during:N:F` kills it once step N reports
progress of at least F (0-1). Unset (always, outside tests), nothing happens.

A kill from outside lands wherever the process happens to be; these land exactly on each step
boundary and inside a step, so the tests can cover every one of them (`tests/test_faults.py`).
"""

from __future__ import annotations

import os
import signal

__all__ = ["maybe_kill_before", "maybe_kill_during"]

VARIABLE = "ARES_FAULT"


def _kill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def maybe_kill_before(step: int) -> None:
    """Kill the process here when the fault names this step boundary."""
    if os.environ.get(VARIABLE) == f"kill-before:{step}":
        _kill()


def maybe_kill_during(step: int, fraction: float) -> None:
    """Kill the process here when the fault names this step and its progress is reached."""
    spec = os.environ.get(VARIABLE, "")
    if not spec.startswith(f"kill-during:{step}:"):
        return
    if fraction >= float(spec.rsplit(":", 1)[1]):
        _kill()
