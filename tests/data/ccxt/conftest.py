"""Fixtures of the ccxt source tests: the recorder of backoff waits and the fake Binance with
three hours of trades."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.data.ccxt.helpers import (
    HOUR,
    T0,
    Sleeps,
    make_trades,
)
from tests.data.fake_binance import AggTrade, FakeBinance


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def server_trades() -> list[AggTrade]:
    """Three hours of ETHUSDT trades with no trade in the second hour."""
    return make_trades(T0, T0 + 3 * HOUR, quiet=(T0 + HOUR, T0 + 2 * HOUR))


@pytest.fixture
def fake(server_trades: list[AggTrade]) -> Iterator[FakeBinance]:
    with FakeBinance(server_trades) as server:
        yield server
