"""The numba engine against the plain reference (`backtest_reference.py`), trade by trade.

Random markets (fine OHLC paths with gaps, a random number of fine bars per base bar, empty base
bars for missing data), random orders and random rules; both implementations must agree on every
trade (indices, side, size and reason exactly; prices, pnl and net return to 1e-9), on the equity
at every base close and on the position held there.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from ares_cli.ml.trading.engine import REASONS, Market, Orders, Rules, backtest

from .backtest_reference import reference_backtest, trade_columns

RTOL, ATOL = 1e-9, 1e-12
MIN_US = 60_000_000
HOUR_US = 60 * MIN_US
T0 = 1_704_067_200_000_000  # 2024-01-01 00:00 UTC


def random_path(rng: np.random.Generator, n: int, *, gap_p: float, grid: bool):
    """n fine bars with high >= max(open, close) and low <= min(open, close); each open is the
    previous close except for occasional gaps. `grid` keeps whole prices in [96, 104]: with a
    fill at 100 and round fractions, stop and target levels equal highs and lows exactly."""
    o, h, lo, c = (np.empty(n) for _ in range(4))
    price = 100.0
    for j in range(n):
        opening = price
        if rng.random() < gap_p:
            opening = price * (1 + rng.choice([-1, 1]) * rng.uniform(0.01, 0.08))
        closing = opening * np.exp(rng.normal(0.0, 0.012))
        high = max(opening, closing) * (1 + abs(rng.normal(0.0, 0.006)))
        low = min(opening, closing) * (1 - abs(rng.normal(0.0, 0.006)))
        if grid:
            opening = float(np.clip(round(opening), 96, 104))
            closing = float(np.clip(round(closing), 96, 104))
            high = float(np.clip(max(np.ceil(high), opening, closing), 96, 104))
            low = float(np.clip(min(np.floor(low), opening, closing), 96, 104))
        o[j], h[j], lo[j], c[j] = opening, high, low, closing
        price = closing
    assert (h >= np.maximum(o, c)).all() and (lo <= np.minimum(o, c)).all()
    return o, h, lo, c


def fractions(rng: np.random.Generator, n: int, hi: float, *, grid: bool = False) -> np.ndarray:
    """Stop / target / trail fractions: a mix of none (0 or NaN) and real levels (round ones on
    a price grid, so that a level can equal a high or a low exactly)."""
    out = rng.choice([0.01, 0.02, 0.03, 0.04], n) if grid else rng.uniform(0.002, hi, n)
    kind = rng.integers(0, 4, n)
    out[kind == 0] = 0.0
    out[kind == 1] = np.nan
    return out


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_base = draw(st.integers(1, 40))
    max_fine = draw(st.integers(1, 6))
    p_empty = draw(st.sampled_from([0.0, 0.1, 0.3]))
    counts = rng.integers(1, max_fine + 1, n_base)
    counts[rng.random(n_base) < p_empty] = 0
    n_fine = int(counts.sum())
    first_fine = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    grid = draw(st.booleans())
    o, h, lo, c = random_path(rng, n_fine, gap_p=draw(st.sampled_from([0.0, 0.05, 0.2])),
                              grid=grid)
    market = Market(T0 + np.arange(n_fine, dtype=np.int64) * MIN_US, o, h, lo, c, first_fine,
                    T0 + np.arange(n_base, dtype=np.int64) * HOUR_US)

    # Sides: persistent runs (so positions are held) mixed with noise.
    persist = draw(st.sampled_from([0.0, 0.6, 0.9]))
    side = np.empty(n_base, dtype=np.int64)
    current = 0
    for t in range(n_base):
        if rng.random() >= persist:
            current = int(rng.integers(-1, 2))
        side[t] = current
    size = rng.uniform(0.0, 1.0, n_base)
    size[rng.random(n_base) < 0.3] = 1.0
    size[rng.random(n_base) < 0.1] = 0.0
    size[(side == 0) & (rng.random(n_base) < 0.3)] = np.nan  # no side: size is not read
    hi = draw(st.sampled_from([0.01, 0.03, 0.1]))
    stop, target, trail = (fractions(rng, n_base, hi, grid=grid) for _ in range(3))
    if draw(st.booleans()):  # equal stop and trail: tie between the two levels
        trail = stop.copy()
    orders = Orders(side, size, stop, target, trail)

    cost = st.one_of(st.just(0.0), st.floats(0.0, 0.01))
    rules = Rules(fee=draw(cost), slippage=draw(cost), max_hold=draw(st.integers(0, 5)),
                  cooldown=draw(st.integers(0, 3)), entry_delay=draw(st.integers(0, 4)),
                  exit_on_flat=draw(st.booleans()))
    return market, orders, rules


def describe(market: Market, orders: Orders, rules: Rules) -> str:
    arr = {k: getattr(market, k).tolist() for k in ("open", "high", "low", "close",
                                                    "first_fine")}
    arr.update({k: np.asarray(getattr(orders, k)).tolist() for k in ("side", "size", "stop",
                                                                       "target", "trail")})
    return f"{rules}\n" + "\n".join(f"{k} = {v}" for k, v in arr.items())


def assert_same(market: Market, orders: Orders, rules: Rules) -> None:
    note(describe(market, orders, rules))
    got = backtest(market, orders, rules, bars_per_year=365 * 24)
    ref = reference_backtest(market, orders, rules)
    want = trade_columns(ref["trades"])
    have = dict(got.trades)
    have["reason"] = [REASONS[r] for r in have["reason"]]
    note(f"engine trades: {[tuple(have[k][i] for k in want) for i in range(got.n_trades)]}")
    note(f"reference trades: {[tuple(vars(tr).values()) for tr in ref['trades']]}")
    for key in ("entry_index", "exit_index", "side", "size", "reason"):
        assert list(have[key]) == want[key], key
    for key in ("entry_price", "exit_price", "pnl", "net_return"):
        np.testing.assert_allclose(have[key], np.array(want[key], dtype=np.float64),
                                   rtol=RTOL, atol=ATOL, err_msg=key)
    np.testing.assert_array_equal(got.position, np.array(ref["position"]), err_msg="position")
    np.testing.assert_allclose(got.equity, np.array(ref["equity"]), rtol=RTOL, atol=ATOL,
                               err_msg="equity")
    returns = np.diff(np.array(ref["equity"]), prepend=1.0) / np.concatenate(
        ([1.0], ref["equity"][:-1]))
    np.testing.assert_allclose(got.returns, returns, rtol=RTOL, atol=ATOL, err_msg="returns")


SETTINGS = settings(max_examples=600, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_engine_matches_reference(case):
    assert_same(*case)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), n_base=st.integers(1, 20),
       fee=st.floats(0.0, 0.005), slip=st.floats(0.0, 0.005), delay=st.integers(0, 3),
       cooldown=st.integers(0, 2), max_hold=st.integers(0, 4), exit_on_flat=st.booleans())
def test_engine_matches_reference_on_markets_mapped_by_time(seed, n_base, fee, slip, delay,
                                                            cooldown, max_hold, exit_on_flat):
    """Markets built by `Market.from_bars` from minute bars with random holes (missing data,
    whole hours without a fine bar) and stray bars outside the base range."""
    rng = np.random.default_rng(seed)
    base_time = T0 + np.arange(n_base, dtype=np.int64) * HOUR_US
    minutes = np.arange(-5, n_base * 60 + 5)  # a few stray minutes before and after
    keep = rng.random(minutes.size) < rng.choice([0.02, 0.05, 0.2])
    hole = rng.integers(0, n_base)  # one hour missing entirely
    keep &= ~((minutes >= hole * 60) & (minutes < hole * 60 + 60))
    fine_time = T0 + minutes[keep].astype(np.int64) * MIN_US
    o, h, lo, c = random_path(rng, int(keep.sum()), gap_p=0.05, grid=False)
    market = Market.from_bars(base_time, 3_600_000, fine_time, o, h, lo, c)
    assert market.n_base == n_base and (np.diff(market.first_fine) >= 0).all()
    side = rng.integers(-1, 2, n_base)
    orders = Orders(side, rng.uniform(0.1, 1.0, n_base), fractions(rng, n_base, 0.03),
                    fractions(rng, n_base, 0.03), fractions(rng, n_base, 0.03))
    rules = Rules(fee=fee, slippage=slip, max_hold=max_hold, cooldown=cooldown,
                  entry_delay=delay, exit_on_flat=exit_on_flat)
    assert_same(market, orders, rules)
