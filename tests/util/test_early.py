"""Work begun early: taken once by its key, its progress and errors handed to the step that takes
it, and cancelled (thread gone) when nobody does."""

from __future__ import annotations

import threading

import pytest

from ares_cli.util import early


def test_work_is_taken_once_by_its_key_with_the_progress_it_made_meanwhile():
    release = threading.Event()

    def work(progress):
        progress(0.4, "two of five")
        release.wait(10)
        progress(0.9, "done")
        return 42

    assert early.start("k1", work, cancel=release.set)
    assert not early.start("k1", work, cancel=release.set)  # one work per key
    assert early.pending() == ["k1"]
    assert early.take("other", lambda *_: None) == (False, None)
    seen: list[tuple[float, str]] = []
    threading.Timer(0.3, release.set).start()
    assert early.take("k1", lambda f, m: seen.append((f, m))) == (True, 42)
    # the report made before the step took the work is shown first, then the later ones
    assert seen[0] == (0.4, "two of five") and seen[-1] == (0.9, "done")
    assert early.pending() == [] and early.take("k1", lambda *_: None) == (False, None)


def test_the_works_error_is_raised_in_the_step_that_takes_it():
    def work(_progress):
        raise ValueError("fold 2 failed")

    early.start("k2", work, cancel=lambda: None)
    with pytest.raises(ValueError, match="fold 2 failed"):
        early.take("k2", lambda *_: None)


def test_untaken_work_is_cancelled_and_its_thread_ends():
    stop = threading.Event()
    cancelled: list[bool] = []

    def work(_progress):
        stop.wait(60)
        return "never taken"

    def cancel():
        cancelled.append(True)
        stop.set()

    early.start("k3", work, cancel=cancel)
    threads = [t for t in threading.enumerate() if t.name.startswith("ares-early-k3")]
    early.cancel_all(timeout=10)
    assert cancelled == [True] and early.pending() == []
    assert threads and not any(t.is_alive() for t in threads)
