"""Causal technical indicators as polars expressions.

Every function takes ``pl.Expr`` inputs (usually ``pl.col(...)``) and returns a ``pl.Expr``, or a
dict of named ``pl.Expr`` for multi-line indicators, so features are built lazily and in one pass::

    bars.with_columns(rsi(pl.col("close"), 14).alias("rsi_14"), **macd(pl.col("close")))

Why expressions: the caller keeps control of the frame (eager or lazy, ``over`` a symbol column),
and polars evaluates everything in parallel without copying to NumPy and back.

Conventions shared by every indicator:

* **Causal.** The value at row t depends only on rows <= t: trailing windows, forward recursions
  (``ewm_mean(adjust=False)``), no centred windows, no backward fill, no negative shifts. The only
  NumPy step (CCI's mean deviation) uses trailing windows as well.
* **Warm-up is null.** A row whose window is not yet full is null, never zero-filled.
* **No infinities.** Every ratio goes through :func:`_safe_div`, which yields null where the
  denominator is zero (a flat bar with high == low, a window of zero volume, a constant price).
  Logarithms of non-positive prices are null too.
* **Default names.** Each returned expression carries a default output name (``"rsi"``,
  ``"macd_line"``, ``"bb_upper"`` ...) so it never silently overwrites its input column; override it
  with ``.alias()``.

Formula conventions follow the StockCharts ChartSchool worked examples as reproduced by
``bukosabino/ta`` (the reference CSVs used by the tests); each docstring names the convention.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "adx",
    "atr",
    "bollinger",
    "cci",
    "close_to_close_vol",
    "garman_klass_vol",
    "macd",
    "mfi",
    "obv",
    "parkinson_vol",
    "rsi",
    "stochastic",
    "true_range",
    "williams_r",
]


# --------------------------------------------------------------------------------------------------
# helpers


def _safe_div(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """``num / den``, but null where ``den`` is zero or null, so no ratio ever becomes inf."""
    return pl.when(den != 0).then(num / den).otherwise(None)


def _safe_log_ratio(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``ln(a / b)``, null unless both prices are strictly positive (no -inf from a zero price)."""
    return pl.when((a > 0) & (b > 0)).then((a / b).log()).otherwise(None)


def _first_change_zero(x: pl.Expr) -> pl.Expr:
    """One-bar change of ``x``, taken as 0 on a row that has a value but no previous value.

    This is how the spreadsheets treat the first, undefined change (RSI, OBV): the recursion can
    start on the very first observation instead of one bar later.
    """
    return pl.when(x.is_not_null()).then(x.diff().fill_null(0.0)).otherwise(None)


def _wilder(x: pl.Expr, window: int) -> pl.Expr:
    """Wilder smoothing (RMA), SMA-seeded, as StockCharts.

    The first output is the plain mean of the first ``window`` non-null values of ``x`` and sits on
    the row of the window-th value; afterwards ``out = (prev * (window - 1) + x) / window``, i.e. an
    EMA with ``alpha = 1/window``. Implemented as ``ewm_mean(alpha=1/window, adjust=False)`` over a
    series that is null before the seed row and holds the SMA seed on it: polars 2.x leaves leading
    nulls null and starts the recursion at the first non-null value (checked in the tests against
    the ATR and ADX reference sheets). Later nulls are skipped (``ignore_nulls=True``).
    """
    seen = x.is_not_null().cast(pl.Int64).cum_sum()
    seed = x.fill_null(0.0).cum_sum() / window
    seeded = (
        pl.when((seen == window) & x.is_not_null())
        .then(seed)
        .when(seen > window)
        .then(x)
        .otherwise(None)
    )
    return seeded.ewm_mean(alpha=1.0 / window, adjust=False, ignore_nulls=True)


def _rolling_mean_abs_dev(values: pl.Series, window: int) -> pl.Series:
    """Trailing mean absolute deviation of each window around *that window's own* mean.

    Not expressible as a rolling polars aggregate (the centre changes with every window), so it is
    computed on a NumPy ``sliding_window_view``: one vectorised pass, no Python loop over rows.
    Any null or NaN inside a window makes that row null.
    """
    x = values.cast(pl.Float64).to_numpy()
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= window:
        win = sliding_window_view(x, window)
        out[window - 1 :] = np.abs(win - win.mean(axis=1, keepdims=True)).mean(axis=1)
    return pl.Series(values.name, out, dtype=pl.Float64).fill_nan(None)


def _typical_price(high: pl.Expr, low: pl.Expr, close: pl.Expr) -> pl.Expr:
    """(high + low + close) / 3, the price CCI and MFI work on."""
    return (high + low + close) / 3.0


# --------------------------------------------------------------------------------------------------
# momentum


def rsi(close: pl.Expr, window: int = 14) -> pl.Expr:
    """Relative Strength Index in [0, 100], as ``bukosabino/ta`` and the cs-rsi.csv sheet.

    Average gain and loss are Wilder EMAs (``alpha = 1/window``, ``adjust=False``) of the one-bar
    gains and losses, started on the **first** bar with its undefined change counted as 0 (not the
    SMA-seeded classic Wilder RSI; the two converge slowly). Rows before ``window`` are null.
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``, which equals ``100 - 100 / (1 + RS)`` but is
    100 (not inf) when there are no losses and null when the price has not moved at all.
    """
    change = _first_change_zero(close)
    ewm = partial(
        pl.Expr.ewm_mean,
        alpha=1.0 / window,
        adjust=False,
        min_samples=window + 1,
        ignore_nulls=True,
    )
    avg_gain = ewm(change.clip(lower_bound=0.0))
    avg_loss = ewm((-change).clip(lower_bound=0.0))
    return (100.0 * _safe_div(avg_gain, avg_gain + avg_loss)).alias("rsi")


def macd(close: pl.Expr, fast: int = 12, slow: int = 26, signal: int = 9) -> dict[str, pl.Expr]:
    """MACD: ``line = EMA_fast - EMA_slow``, ``signal = EMA(line)``, ``hist = line - signal``.

    EMAs are ``ewm_mean(span=n, adjust=False)`` seeded at the first close (StockCharts / ta), so the
    line exists from the first bar (0 there) and the signal line is seeded on that first value.
    Early values carry the seeding and settle after a few multiples of ``slow``.
    Keys: ``line``, ``signal``, ``hist``.
    """
    line = close.ewm_mean(span=fast, adjust=False) - close.ewm_mean(span=slow, adjust=False)
    sig = line.ewm_mean(span=signal, adjust=False)
    return {
        "line": line.alias("macd_line"),
        "signal": sig.alias("macd_signal"),
        "hist": (line - sig).alias("macd_hist"),
    }


def stochastic(
    high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int = 14, smooth: int = 3
) -> dict[str, pl.Expr]:
    """Fast stochastic oscillator in [0, 100] (Lane, as StockCharts).

    ``k = 100 * (close - LL) / (HH - LL)`` with HH / LL the highest high / lowest low of the last
    ``window`` bars; ``d = SMA_smooth(k)``. Null while the window fills and when HH == LL.
    Keys: ``k``, ``d``.
    """
    hh = high.rolling_max(window)
    ll = low.rolling_min(window)
    k = 100.0 * _safe_div(close - ll, hh - ll)
    return {"k": k.alias("stoch_k"), "d": k.rolling_mean(smooth).alias("stoch_d")}


def williams_r(high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int = 14) -> pl.Expr:
    """Williams %R in [-100, 0]: ``-100 * (HH - close) / (HH - LL)`` over ``window`` bars.

    Null while the window fills and when HH == LL.
    """
    hh = high.rolling_max(window)
    ll = low.rolling_min(window)
    return (-100.0 * _safe_div(hh - close, hh - ll)).alias("williams_r")


def cci(
    high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int = 20, constant: float = 0.015
) -> pl.Expr:
    """Commodity Channel Index (Lambert, as StockCharts).

    ``CCI = (TP - SMA(TP)) / (constant * MD)`` with TP the typical price and MD the mean absolute
    deviation of the last ``window`` TPs around the current SMA (not the standard deviation).
    MD is computed in NumPy (see :func:`_rolling_mean_abs_dev`). Null when MD == 0.
    """
    tp = _typical_price(high, low, close)
    sma = tp.rolling_mean(window)
    mad = tp.map_batches(partial(_rolling_mean_abs_dev, window=window), return_dtype=pl.Float64)
    return _safe_div(tp - sma, constant * mad).alias("cci")


# --------------------------------------------------------------------------------------------------
# trend and volatility


def true_range(high: pl.Expr, low: pl.Expr, close: pl.Expr) -> pl.Expr:
    """True range: ``max(high - low, |high - prev_close|, |low - prev_close|)``.

    On the first bar (no previous close) it is ``high - low``, as StockCharts and ta.
    """
    prev_close = close.shift(1)
    return pl.max_horizontal(high - low, (high - prev_close).abs(), (low - prev_close).abs()).alias(
        "true_range"
    )


def atr(high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int = 14) -> pl.Expr:
    """Average True Range: Wilder smoothing of :func:`true_range`, SMA-seeded, as StockCharts.

    The first value (row ``window - 1``) is the mean TR of rows ``0 .. window-1`` (the first TR is
    ``high - low``); then ``ATR = (prev * (window - 1) + TR) / window``. Earlier rows are null
    (``ta`` writes zeros there).
    """
    return _wilder(true_range(high, low, close), window).alias("atr")


def adx(high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int = 14) -> dict[str, pl.Expr]:
    """Average Directional Index with +DI / -DI, classic Wilder (as StockCharts).

    * +DM = up-move if it exceeds the down-move and is positive, else 0 (and symmetrically -DM);
      TR here needs a previous close, so all three series start on row 1.
    * TR, +DM, -DM are Wilder-smoothed, SMA-seeded on rows ``1 .. window`` (the sheet's running sums
      ``prev - prev/n + x`` are ``n`` times these means; the factor cancels in the ratios).
    * ``DI = 100 * DM_smooth / TR_smooth``; ``DX = 100 * |+DI - -DI| / (+DI + -DI)``.
    * ADX is DX Wilder-smoothed again, seeded with the mean of the first ``window`` DX values, so
      it starts on row ``2 * window - 1``. Ratios with a zero denominator are null.

    Keys: ``plus_di``, ``minus_di``, ``adx``.
    """
    up = high.diff()
    down = -low.diff()
    undefined = up.is_null() | down.is_null()
    plus_dm = pl.when(undefined).then(None).when((up > down) & (up > 0)).then(up).otherwise(0.0)
    minus_dm = (
        pl.when(undefined).then(None).when((down > up) & (down > 0)).then(down).otherwise(0.0)
    )
    tr = pl.when(close.shift(1).is_not_null()).then(true_range(high, low, close)).otherwise(None)
    tr_smooth = _wilder(tr, window)
    plus_di = 100.0 * _safe_div(_wilder(plus_dm, window), tr_smooth)
    minus_di = 100.0 * _safe_div(_wilder(minus_dm, window), tr_smooth)
    dx = 100.0 * _safe_div((plus_di - minus_di).abs(), plus_di + minus_di)
    return {
        "plus_di": plus_di.alias("plus_di"),
        "minus_di": minus_di.alias("minus_di"),
        "adx": _wilder(dx, window).alias("adx"),
    }


def bollinger(close: pl.Expr, window: int = 20, k: float = 2.0) -> dict[str, pl.Expr]:
    """Bollinger Bands: SMA ``mid`` +/- ``k`` **population** standard deviations (ddof=0).

    ``width = (upper - lower) / mid * 100`` (percent of the mid band) and
    ``pct_b = (close - lower) / (upper - lower)``; both null on a zero denominator (a constant
    window). Keys: ``mid``, ``upper``, ``lower``, ``width``, ``pct_b``.
    """
    mid = close.rolling_mean(window)
    sd = close.rolling_std(window, ddof=0)
    upper = mid + k * sd
    lower = mid - k * sd
    return {
        "mid": mid.alias("bb_mid"),
        "upper": upper.alias("bb_upper"),
        "lower": lower.alias("bb_lower"),
        "width": (100.0 * _safe_div(upper - lower, mid)).alias("bb_width"),
        "pct_b": _safe_div(close - lower, upper - lower).alias("bb_pct_b"),
    }


def close_to_close_vol(close: pl.Expr, window: int) -> pl.Expr:
    """Close-to-close volatility: sample std (ddof=1) of the last ``window`` log returns.

    Per-bar units (not annualised). Needs ``window`` returns, so the first value is on row
    ``window``.
    """
    returns = _safe_log_ratio(close, close.shift(1))
    return returns.rolling_std(window, ddof=1).alias("close_to_close_vol")


def parkinson_vol(high: pl.Expr, low: pl.Expr, window: int) -> pl.Expr:
    """Parkinson (1980) range volatility: ``sqrt(mean(ln(H/L)^2) / (4 ln 2))`` over ``window`` bars.

    Per-bar units, not annualised. Uses only the high-low range, so it ignores opening gaps.
    """
    hl = _safe_log_ratio(high, low)
    return (hl.pow(2).rolling_mean(window) / (4.0 * math.log(2.0))).sqrt().alias("parkinson_vol")


def garman_klass_vol(
    open: pl.Expr, high: pl.Expr, low: pl.Expr, close: pl.Expr, window: int
) -> pl.Expr:
    """Garman-Klass (1980) volatility over ``window`` bars, per-bar units, not annualised.

    ``sqrt(mean(0.5 * ln(H/L)^2 - (2 ln 2 - 1) * ln(C/O)^2))``. The bracket is non-negative for
    consistent bars (low <= open, close <= high); inconsistent data can make it negative, and the
    square root is then NaN rather than a made-up number.
    """
    hl = _safe_log_ratio(high, low)
    co = _safe_log_ratio(close, open)
    term = 0.5 * hl.pow(2) - (2.0 * math.log(2.0) - 1.0) * co.pow(2)
    return term.rolling_mean(window).sqrt().alias("garman_klass_vol")


# --------------------------------------------------------------------------------------------------
# volume


def obv(close: pl.Expr, volume: pl.Expr) -> pl.Expr:
    """On-Balance Volume: running sum of ``sign(close - prev_close) * volume`` (Granville).

    The first bar has no direction and contributes 0; an unchanged close contributes 0
    (StockCharts; ``ta`` instead adds the volume on an unchanged close).
    """
    direction = _first_change_zero(close).sign()
    return (direction * volume).cum_sum().alias("obv")


def mfi(high: pl.Expr, low: pl.Expr, close: pl.Expr, volume: pl.Expr, window: int = 14) -> pl.Expr:
    """Money Flow Index in [0, 100] (volume-weighted RSI, as StockCharts).

    Raw money flow = typical price * volume, counted as positive when the typical price rose from
    the previous bar, negative when it fell, neither when unchanged. ``MFI = 100 * P / (P + N)``
    with P, N the sums of positive / negative flow over the last ``window`` bars (the first bar
    has no direction, so the first value is on row ``window``). Null when ``P + N == 0``.
    """
    tp = _typical_price(high, low, close)
    flow = tp * volume
    change = tp.diff()
    positive = pl.when(change > 0).then(flow).when(change.is_not_null()).then(0.0).otherwise(None)
    negative = pl.when(change < 0).then(flow).when(change.is_not_null()).then(0.0).otherwise(None)
    pos_sum = positive.rolling_sum(window)
    neg_sum = negative.rolling_sum(window)
    return (100.0 * _safe_div(pos_sum, pos_sum + neg_sum)).alias("mfi")
