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

from dataclasses import dataclass
from datetime import UTC, datetime

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
    from scipy.signal import lfilter

    shocks = rng.normal(0.0, VOL_OF_VOL, n)
    shocks[0] /= np.sqrt(1 - VOL_PERSISTENCE**2)  # start in the stationary distribution
    log_vol = lfilter([1.0], [1.0, -VOL_PERSISTENCE], shocks)
    variance = VOL_OF_VOL**2 / (1 - VOL_PERSISTENCE**2)
    return log_vol - variance  # E[exp(2 * log_vol)] stays near one


def generate(
    *, seed: int, days: int, trades_per_day: int, regimes: bool = True,
    start: datetime = DEFAULT_START, start_price: float = 2000.0, drift_scale: float = 1.0,
    outages: int = 0,
) -> SyntheticMarket:
    """Generate `days` of trades (about `trades_per_day` a day) from `seed`, deterministically.

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
    trades = _trades(rng, counts, drift_m, vol_m, start_us, start_price)
    spans: tuple[tuple[datetime, datetime], ...] = ()
    if outages:
        trades, spans = _with_outages(trades, outages, seed, start_us, n_minutes)
    true_regimes = None
    if hour_regime is not None:
        hours = start_us + np.arange(n_hours, dtype=np.int64) * HOUR_MINUTES * MINUTE_US
        true_regimes = pl.DataFrame(
            {
                "timestamp": pl.Series(hours).cast(TIMESTAMP),
                "regime": np.array(REGIMES)[hour_regime],
            }
        )
    return SyntheticMarket(trades, true_regimes, spans)


def _trades(rng: np.random.Generator, counts: np.ndarray, drift_m: np.ndarray,
            vol_m: np.ndarray, start_us: int, start_price: float) -> pl.DataFrame:
    """The trades of per-minute `counts`: times, prices, sizes and taker sides.

    Every per-trade array is as long as the trades, so they are computed in place and freed as
    soon as they are used: a few of them live at once instead of a dozen (peak memory is what
    limits the history one machine can hold). The values are bit-identical to the plain
    expressions in the comments, and the random draws come in the same order."""
    n_minutes = counts.size
    n_trades = int(counts.sum())
    minute_of_trade = np.repeat(np.arange(n_minutes, dtype=np.int64), counts)

    # stamps = sort(minute * MINUTE_US + offset) + start_us
    stamps = minute_of_trade * MINUTE_US
    stamps += rng.integers(0, MINUTE_US, n_trades, dtype=np.int64)
    stamps.sort()
    stamps += start_us
    np.subtract(stamps, start_us, out=minute_of_trade)
    minute_of_trade //= MINUTE_US

    # Brownian increments between consecutive trades, in minutes of elapsed time:
    # increments = drift * elapsed + sigma * sqrt(elapsed) * normal
    elapsed = np.diff(stamps, prepend=start_us).astype(np.float64)
    elapsed /= MINUTE_US
    sigma = vol_m[minute_of_trade]
    increments = drift_m[minute_of_trade]
    del minute_of_trade
    increments *= elapsed
    noise = np.sqrt(elapsed)
    noise *= sigma  # sigma * sqrt(elapsed) (a product commutes exactly)
    noise *= rng.normal(size=n_trades)
    increments += noise
    del noise
    log_mid = np.cumsum(increments)
    log_mid += np.log(start_price)

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
    taker_buys = rng.random(n_trades) < z
    del z, increments
    # price = round(exp(log_mid) * (1 + HALF_SPREAD * side) / TICK) * TICK, side = +-1
    price = np.exp(log_mid, out=log_mid)
    price *= np.where(taker_buys, 1.0 + HALF_SPREAD * 1.0, 1.0 + HALF_SPREAD * -1.0)
    price /= TICK
    np.round(price, out=price)
    price *= TICK
    np.maximum(price, TICK, out=price)
    qty = rng.lognormal(-1.0, 1.2, n_trades)
    np.maximum(qty, 1e-4, out=qty)
    np.round(qty, 4, out=qty)
    np.logical_not(taker_buys, out=taker_buys)
    return pl.DataFrame(
        {
            "trade_id": np.arange(FIRST_TRADE_ID, FIRST_TRADE_ID + n_trades, dtype=np.int64),
            "timestamp": pl.Series(stamps).cast(TIMESTAMP),
            "price": price,
            "qty": qty,
            "is_buyer_maker": taker_buys,
        },
        schema=TRADES_SCHEMA,
    )


def _with_outages(trades: pl.DataFrame, count: int, seed: int, start_us: int,
                  n_minutes: int) -> tuple[pl.DataFrame, tuple[tuple[datetime, datetime], ...]]:
    """`trades` without those inside `count` outages, and the outages' [start, end)."""
    rng = np.random.default_rng([seed, 0x0DD])  # apart from the market's own stream
    hours = rng.integers(2, 35, count)
    begin = rng.integers(HOUR_MINUTES, max(HOUR_MINUTES + 1, n_minutes - 35 * HOUR_MINUTES),
                         count)
    stamps = trades["timestamp"].dt.epoch("us").to_numpy()
    keep = np.ones(stamps.size, dtype=bool)
    spans = []
    for b, h in sorted(zip(begin.tolist(), hours.tolist(), strict=True)):
        lo = start_us + b * MINUTE_US
        hi = lo + h * HOUR_MINUTES * MINUTE_US
        keep &= (stamps < lo) | (stamps >= hi)
        spans.append((datetime.fromtimestamp(lo / 1e6, UTC),
                      datetime.fromtimestamp(hi / 1e6, UTC)))
    return trades.filter(pl.Series(keep)), tuple(spans)
