"""Run a generator one step ahead of its consumer, on a thread.

Step 1 makes a day of trades (NumPy draws and sorts) while the previous day is checked,
encoded, hashed and written (polars, zstd, sha256): all of these release the GIL, so the two
stages share two cores. Items come out in the generator's order, so what is written is the
same as without the thread; an error in the generator is raised in the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["ahead"]

T = TypeVar("T")
_END = object()


def ahead(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of `items`, made up to `depth` items before they are asked for."""
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failure: list[BaseException] = []

    def put(item: object) -> bool:
        """Queue `item` unless the consumer has stopped; whether it was queued."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            failure.append(exc)
        finally:
            put(_END)

    worker = threading.Thread(target=produce, name="ares-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is _END:
                if failure:
                    raise failure[0]
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
