"""`readahead.ahead`: a generator run on a thread one step before its consumer."""

from __future__ import annotations

import threading

import pytest

from ares_cli.util.readahead import ahead


def test_items_come_in_order_and_an_error_reaches_the_consumer():
    assert list(ahead(iter(range(100)), depth=3)) == list(range(100))

    def failing():
        yield 1
        raise ValueError("day 2 is bad")

    got = []
    with pytest.raises(ValueError, match="day 2 is bad"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1]


def test_a_consumer_that_stops_early_stops_the_producer():
    made = []

    def endless():
        k = 0
        while True:
            made.append(k)
            yield k
            k += 1

    for item in ahead(endless(), depth=2):
        if item == 5:
            break
    assert not any(t.name == "ares-ahead" for t in threading.enumerate())
    assert len(made) <= 5 + 1 + 2 + 1  # at most depth items beyond the last one asked for
