"""A seeded synthetic market that emits trades, so ares runs end to end with no network.

With regimes on, an hourly Markov chain switches between BULL, BEAR, SIDEWAYS and VOLATILE,
each with its own drift, volatility and typical duration; log-volatility clusters as an AR(1)
process; trade arrivals per minute are Poisson with a rate that rises with volatility; prices
follow Brownian increments between trades plus a bid-ask bounce and a 0.01 tick, and the taker
side leans with the price move. The true regime of every hour is returned for scoring step 2.
With regimes off, the market is a driftless random walk with constant volatility and a constant
trade rate: nothing is predictable, which makes it the honest null for every later step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from ares_cli.data.schema import TIMESTAMP, TRADES_SCHEMA

REGIMES = ("BULL", "BEAR", "SIDEWAYS", "VOLATILE")
MINUTE_US = 60_000_000
HOUR_MINUTES = 60
FIRST_TRADE_ID = 1_000_000
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RegimeSpec:
    """Per-hour drift and volatility of log price, and mean duration in hours."""

    drift: float
    vol: float
    mean_hours: float


SPECS = {
    "BULL": RegimeSpec(drift=0.0015, vol=0.0065, mean_hours=96),
    "BEAR": RegimeSpec(drift=-0.0016, vol=0.0085, mean_hours=72),
    "SIDEWAYS": RegimeSpec(drift=0.0, vol=0.0045, mean_hours=120),
    "VOLATILE": RegimeSpec(drift=0.0, vol=0.0150, mean_hours=36),
}
RANDOM_WALK_VOL = 0.007
VOL_PERSISTENCE = 0.995     # AR(1) coefficient of per-minute log-volatility
VOL_OF_VOL = 0.05           # innovation std of per-minute log-volatility
RATE_ELASTICITY = 1.0       # trade rate grows as (vol / regime vol) ** elasticity
HALF_SPREAD = 0.0001        # bid-ask bounce as a fraction of price
FLOW_LEAN = 0.25            # how strongly the taker side follows the price move
TICK = 0.01


@dataclass(frozen=True)
class SyntheticMarket:
    """Generated trades and, when regimes are on, the true regime of every hour."""

    trades: pl.DataFrame
    true_regimes: pl.DataFrame | None
    outages: tuple[tuple[datetime, datetime], ...] = ()  # [start, end) of each, UTC


def _regime_path(n_hours: int, rng: np.random.Generator) -> np.ndarray:
    """Regime index per hour: segments of geometric length, each followed by another regime."""
    path = np.empty(n_hours, dtype=np.int8)
    position, current = 0, int(rng.integers(len(REGIMES)))
    while position < n_hours:
        spec = SPECS[REGIMES[current]]
        length = int(rng.geometric(1.0 / spec.mean_hours))
        path[position : position + length] = current
        position += length
        others = [r for r in range(len(REGIMES)) if r != current]
        current = int(rng.choice(others))
    return path


def _clustered_log_vol(n: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) log-volatility multiplier with mean-one volatility."""
    shocks = rng.normal(0.0, VOL_OF_VOL, n)
    shocks[0] /= np.sqrt(1 - VOL_PERSISTENCE**2)  # start in the stationary distribution
    log_vol = ar1(shocks, VOL_PERSISTENCE)
    variance = VOL_OF_VOL**2 / (1 - VOL_PERSISTENCE**2)
    return log_vol - variance  # E[exp(2 * log_vol)] stays near one


def ar1(shocks: np.ndarray, phi: float, block: int = 512) -> np.ndarray:
    """y[t] = phi * y[t-1] + shocks[t] (y[-1] = 0), in blocks of closed form: within a block
    y[j] = phi^j * (phi * carry + cumsum(shocks[k] * phi^-k)), with phi^-k bounded by the
    block length. A few milliseconds for a year of minutes, without importing scipy.signal
    (1.2 s, longer than the filter it would run)."""
    out = np.empty_like(shocks, dtype=np.float64)
    k = np.arange(block, dtype=np.float64)
    grow, shrink = phi**k, phi**-k
    carry = 0.0
    for lo in range(0, shocks.size, block):
        part = shocks[lo:lo + block]
        m = part.size
        y = grow[:m] * (phi * carry + np.cumsum(part * shrink[:m]))
        out[lo:lo + m] = y
        carry = float(y[-1])
    return out


DAY_STREAM = 0xDA7  # a day's per-trade draws: np.random.default_rng([seed, DAY_STREAM, day])
OUTAGE_STREAM = 0x0DD
LOOKAHEAD_TRADES = 1_200_000  # trades drawn ahead, the day being made among them (bounds memory)


@dataclass(frozen=True)
class MarketPlan:
    """The market's per-minute and per-hour shape (small: a year is 525,600 minutes), from
    which each day's trades are drawn in turn; the trades themselves are never all held."""

    seed: int
    days: int
    start_us: int
    start_price: float
    counts: np.ndarray  # trades per minute
    drift_m: np.ndarray  # drift of log price per minute of time
    vol_m: np.ndarray  # volatility of log price per sqrt(minute)
    true_regimes: pl.DataFrame | None
    outages: tuple[tuple[int, int], ...] = ()  # [start, end) µs of each outage

    @property
    def outage_spans(self) -> tuple[tuple[datetime, datetime], ...]:
        return tuple((_utc(lo), _utc(hi)) for lo, hi in self.outages)


def plan(
    *, seed: int, days: int, trades_per_day: int, regimes: bool = True,
    start: datetime = DEFAULT_START, start_price: float = 2000.0, drift_scale: float = 1.0,
    outages: int = 0,
) -> MarketPlan:
    """The shape of `days` of market from `seed`: regimes, volatility and trades per minute.

    `drift_scale` multiplies the regimes' drifts: 0 keeps their volatilities and durations but
    removes every drift (a market with no edge to find, yet the same shape), 1 is the default
    market, 2 a stronger edge. The random draws do not depend on it, so the same seed gives the
    same regime path and noise at every level.

    `outages` exchange outages each lose every trade (and its id) in a stretch of 2 to 34
    hours, the lengths of the real outages in a 2017-2024 Binance history; the price moves on
    underneath, so trading resumes at another level. They come from their own random stream:
    the market is the same with or without them."""
    rng = np.random.default_rng(seed)
    n_hours = days * 24
    n_minutes = n_hours * HOUR_MINUTES

    if regimes:
        hour_regime = _regime_path(n_hours, rng)
        drift_h = np.array([SPECS[r].drift for r in REGIMES])[hour_regime] * drift_scale
        vol_h = np.array([SPECS[r].vol for r in REGIMES])[hour_regime]
        cluster = np.exp(_clustered_log_vol(n_minutes, rng))
    else:
        hour_regime = None
        drift_h = np.zeros(n_hours)
        vol_h = np.full(n_hours, RANDOM_WALK_VOL)
        cluster = np.ones(n_minutes)

    # Per-minute drift and volatility of log price (per minute of time).
    drift_m = np.repeat(drift_h, HOUR_MINUTES) / HOUR_MINUTES
    vol_m = np.repeat(vol_h, HOUR_MINUTES) / np.sqrt(HOUR_MINUTES) * cluster

    # Trade arrivals: busier when volatility is high, scaled to the requested daily count.
    intensity = (vol_m / vol_m.mean()) ** RATE_ELASTICITY
    rate = intensity / intensity.mean() * trades_per_day / (24 * HOUR_MINUTES)
    counts = rng.poisson(rate)
    start_us = int(start.timestamp() * 1_000_000)
    true_regimes = None
    if hour_regime is not None:
        hours = start_us + np.arange(n_hours, dtype=np.int64) * HOUR_MINUTES * MINUTE_US
        true_regimes = pl.DataFrame(
            {
                "timestamp": pl.Series(hours).cast(TIMESTAMP),
                "regime": np.array(REGIMES)[hour_regime],
            }
        )
    spans = _outage_spans(outages, seed, start_us, n_minutes) if outages else ()
    return MarketPlan(seed, days, start_us, start_price, counts, drift_m, vol_m, true_regimes,
                      spans)


def day_trades(market: MarketPlan, workers: int = 2) -> Iterator[pl.DataFrame]:
    """The market's trades one UTC day at a time (days with no trade left are skipped).

    Each day draws from its own stream, `[seed, DAY_STREAM, day]`, and starts from the price
    and time of the previous day's last trade, so the path is one continuous process while a
    day's draws never depend on another day's. The draws (the costly part) of the next days
    are made on `workers` threads while this day's path is computed; the result is the same
    for any number of threads."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    day_minutes = 24 * HOUR_MINUTES
    log_mid = float(np.log(market.start_price))
    last_stamp = market.start_us
    first_id = FIRST_TRADE_ID
    per_day = market.counts.reshape(market.days, day_minutes).sum(axis=1)
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="ares-draw") as pool:
        pending: deque[Future[Draws]] = deque()
        asked = 0
        for day in range(market.days):
            # days ahead while they hold at most LOOKAHEAD_TRADES trades in all (at least the
            # next day): memory is bounded by trades, not days, so a busy day is made alone
            while asked < market.days and len(pending) <= max(1, workers) and (
                    not pending or per_day[day:asked + 1].sum() <= LOOKAHEAD_TRADES):
                counts = market.counts[asked * day_minutes:(asked + 1) * day_minutes]
                rng = np.random.default_rng([market.seed, DAY_STREAM, asked])
                pending.append(pool.submit(_draw, rng, counts))
                asked += 1
            lo, hi = day * day_minutes, (day + 1) * day_minutes
            frame, last_stamp, log_mid = _trades(
                pending.popleft().result(), market.drift_m[lo:hi], market.vol_m[lo:hi],
                market.start_us + lo * MINUTE_US, last_stamp, log_mid, first_id)
            first_id += frame.height
            if market.outages:
                frame = _without_outages(frame, market.outages)
            if frame.height:
                yield frame


def generate(
    *, seed: int, days: int, trades_per_day: int, regimes: bool = True,
    start: datetime = DEFAULT_START, start_price: float = 2000.0, drift_scale: float = 1.0,
    outages: int = 0,
) -> SyntheticMarket:
    """Generate `days` of trades (about `trades_per_day` a day) from `seed`, deterministically,
    as one table: the market of `plan` (which says what the arguments mean) and `day_trades`.
    For small markets and tests; step 1 writes the days as they come instead."""
    market = plan(seed=seed, days=days, trades_per_day=trades_per_day, regimes=regimes,
                  start=start, start_price=start_price, drift_scale=drift_scale,
                  outages=outages)
    frames = list(day_trades(market))
    trades = pl.concat(frames, rechunk=True) if frames else pl.DataFrame(schema=TRADES_SCHEMA)
    return SyntheticMarket(trades, market.true_regimes, market.outage_spans)


@dataclass(frozen=True)
class Draws:
    """A day's random draws, in the order its stream gives them: trade times (µs from the
    day's start, sorted), normal shocks, uniforms for the taker side, and sizes."""

    minute: np.ndarray
    stamps: np.ndarray
    normal: np.ndarray
    uniform: np.ndarray
    qty: np.ndarray


def _draw(rng: np.random.Generator, counts: np.ndarray) -> Draws:
    """The draws of trades at per-minute `counts` (independent of every other day)."""
    n_trades = int(counts.sum())
    minute_of_trade = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    # stamps = sort(minute * MINUTE_US + offset)
    stamps = minute_of_trade * MINUTE_US
    stamps += rng.integers(0, MINUTE_US, n_trades, dtype=np.int64)
    stamps.sort()
    np.floor_divide(stamps, MINUTE_US, out=minute_of_trade)
    normal = rng.normal(size=n_trades)
    uniform = rng.random(n_trades)
    qty = rng.lognormal(-1.0, 1.2, n_trades)
    np.maximum(qty, 1e-4, out=qty)
    np.round(qty, 4, out=qty)
    return Draws(minute_of_trade, stamps, normal, uniform, qty)


def _trades(draws: Draws, drift_m: np.ndarray, vol_m: np.ndarray, start_us: int,
            last_stamp: int, log_mid0: float, first_id: int) -> tuple[pl.DataFrame, int, float]:
    """The trades of a day's `draws` from `start_us` on: times, prices, sizes and taker
    sides; and the last trade's time and log mid price, where the next day starts.

    The first trade's price moves from `log_mid0` over the time since `last_stamp`. Every
    per-trade array is as long as the trades, so they are computed in place and freed as soon
    as they are used: a few live at once instead of a dozen. The values are bit-identical to
    the plain expressions in the comments."""
    n_trades = draws.stamps.size
    if n_trades == 0:
        return pl.DataFrame(schema=TRADES_SCHEMA), last_stamp, log_mid0
    minute_of_trade = draws.minute
    stamps = draws.stamps + start_us

    # Brownian increments between consecutive trades, in minutes of elapsed time:
    # increments = drift * elapsed + sigma * sqrt(elapsed) * normal
    elapsed = np.diff(stamps, prepend=last_stamp).astype(np.float64)
    elapsed /= MINUTE_US
    sigma = vol_m[minute_of_trade]
    increments = drift_m[minute_of_trade]
    del minute_of_trade
    increments *= elapsed
    noise = np.sqrt(elapsed)
    noise *= sigma  # sigma * sqrt(elapsed) (a product commutes exactly)
    noise *= draws.normal
    increments += noise
    del noise
    log_mid = np.cumsum(increments)
    log_mid += log_mid0
    last_log_mid = float(log_mid[-1])
    # Taker side leans with the move; the print sits on the taker's side of the spread.
    # z = increments / max(sigma * sqrt(max(elapsed, 1e-9)), 1e-12)
    np.maximum(elapsed, 1e-9, out=elapsed)
    np.sqrt(elapsed, out=elapsed)
    elapsed *= sigma
    del sigma
    np.maximum(elapsed, 1e-12, out=elapsed)
    z = np.divide(increments, elapsed, out=increments)
    del elapsed
    # buy_prob = 0.5 + FLOW_LEAN * tanh(z)
    np.tanh(z, out=z)
    z *= FLOW_LEAN
    z += 0.5
    taker_buys = draws.uniform < z
    del z, increments
    # price = round(exp(log_mid) * (1 + HALF_SPREAD * side) / TICK) * TICK, side = +-1
    price = np.exp(log_mid, out=log_mid)
    price *= np.where(taker_buys, 1.0 + HALF_SPREAD * 1.0, 1.0 + HALF_SPREAD * -1.0)
    price /= TICK
    np.round(price, out=price)
    price *= TICK
    np.maximum(price, TICK, out=price)
    qty = draws.qty
    np.logical_not(taker_buys, out=taker_buys)
    return pl.DataFrame(
        {
            "trade_id": np.arange(first_id, first_id + n_trades, dtype=np.int64),
            "timestamp": pl.Series(stamps).cast(TIMESTAMP),
            "price": price,
            "qty": qty,
            "is_buyer_maker": taker_buys,
        },
        schema=TRADES_SCHEMA,
    ), int(stamps[-1]), last_log_mid


def _outage_spans(count: int, seed: int, start_us: int,
                  n_minutes: int) -> tuple[tuple[int, int], ...]:
    """[start, end) µs of `count` outages, from a stream apart from the market's own."""
    rng = np.random.default_rng([seed, OUTAGE_STREAM])
    hours = rng.integers(2, 35, count)
    begin = rng.integers(HOUR_MINUTES, max(HOUR_MINUTES + 1, n_minutes - 35 * HOUR_MINUTES),
                         count)
    spans = []
    for b, h in sorted(zip(begin.tolist(), hours.tolist(), strict=True)):
        lo = start_us + b * MINUTE_US
        spans.append((lo, lo + h * HOUR_MINUTES * MINUTE_US))
    return tuple(spans)


def _without_outages(trades: pl.DataFrame, spans: tuple[tuple[int, int], ...]) -> pl.DataFrame:
    """`trades` without those inside any outage span."""
    stamps = trades["timestamp"].dt.epoch("us").to_numpy()
    keep = np.ones(stamps.size, dtype=bool)
    for lo, hi in spans:
        if lo <= stamps[-1] and hi > stamps[0]:
            keep &= (stamps < lo) | (stamps >= hi)
    return trades if keep.all() else trades.filter(pl.Series(keep))


def _utc(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
