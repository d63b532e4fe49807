"""Causal, scale-free model features per base bar (step 4, ``analyst-features``).

Pure and I/O-free. :func:`build_features` turns the base bars (plus, optionally, the fine bars and
the regime table) into one row of ``f_*`` features per base bar, in input order.

Why it is built this way:

* **No lookahead** (DESIGN.md promise 2). Every feature of bar ``t`` depends only on data known at
  the close of ``t``: trailing windows and forward recursions from
  :mod:`ares_cli.ml.features.indicators`,
  the fine bars *inside* bar ``t`` (they all close by ``t + base_ms``), and the causal regime label
  of ``t``. Everything is computed on the whole contiguous series at once (never per regime
  fragment), so appending bars never changes an earlier row; the tests check this bit for bit.
* **Scale-free.** Models are trained across years of prices, so price-level quantities are divided
  by the close (MACD, ATR, distance to VWAP), OBV enters as its change over a window relative to
  the volume traded in that window, and volume and trade counts enter as rolling z-scores.
* **Missing, never infinite.** Every feature is Float64; a value that is undefined (warm-up, a
  zero denominator, a column the source could not provide) is null, and a final pass turns any
  non-finite value into null, so XGBoost sees "missing" and never ``inf``.

Column groups (names depend on :class:`FeaturesConfig` windows; see :func:`feature_columns`):
returns, volatility, momentum / trend oscillators, volume and order flow, fine-bar aggregates,
regime one-hot and scores, calendar.
"""

from __future__ import annotations

import math

import polars as pl
from pydantic import ValidationInfo, field_validator

import ares_cli.ml.features.indicators as ind
from ares_cli.ml.features.indicators import _safe_div, _safe_log_ratio
from ares_cli.ml.features.regimes import REGIMES, SCORE_COLUMNS
from ares_cli.util.section import Field, Section, list_field

__all__ = ["FEATURE_PREFIX", "FeaturesConfig", "build_features", "feature_columns", "lookback"]

FEATURE_PREFIX = "f_"

_PRICE_COLUMNS = ("open", "high", "low", "close")
# Columns a candle-only source may lack or leave null; features built on them become null.
_OPTIONAL_COLUMNS = ("volume", "quote_volume", "trades", "taker_buy_volume", "vwap")
_REGIME_NUMERIC = (*SCORE_COLUMNS, "trend", "volatility")
_FINE_COLUMNS = ("f_fine_rv", "f_fine_max_abs_ret", "f_fine_active_share", "_fine_trades")


class FeaturesConfig(Section):
    """`[features]`: window lengths (in base bars) of every feature family; names carry them."""

    return_horizons: tuple[int, ...] = list_field((1, 3, 6, 12, 24, 72), min_length=1)
    vol_window: int = Field(24, ge=2)
    volume_windows: tuple[int, ...] = list_field((24, 168), min_length=1)
    rsi_window: int = Field(14, ge=2)
    atr_window: int = Field(14, ge=2)
    bollinger_window: int = Field(20, ge=2)
    adx_window: int = Field(14, ge=2)
    cci_window: int = Field(20, ge=2)
    stochastic_window: int = Field(14, ge=2)
    mfi_window: int = Field(14, ge=2)
    obv_window: int = Field(24, ge=2)

    @field_validator("return_horizons", "volume_windows")
    @classmethod
    def _distinct(cls, values: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        """Distinct windows (duplicates would clash by column name), >= 1 (>= 2 for z-scores)."""
        least = 2 if info.field_name == "volume_windows" else 1
        if len(set(values)) != len(values) or min(values) < least:
            raise ValueError(f"must be distinct integers >= {least}, got {list(values)}")
        return values


def lookback(cfg: FeaturesConfig) -> int:
    """The most base bars any feature reads back: how far apart two rows must be before their
    features share no bar."""
    return max(*cfg.return_horizons, *cfg.volume_windows, cfg.vol_window, cfg.rsi_window,
               cfg.atr_window, cfg.bollinger_window, cfg.adx_window, cfg.cci_window,
               cfg.stochastic_window, cfg.mfi_window, cfg.obv_window)


def feature_columns(frame: pl.DataFrame) -> list[str]:
    """Names of the feature columns of ``frame`` (every column starting with ``f_``), in order."""
    return [c for c in frame.columns if c.startswith(FEATURE_PREFIX)]


def build_features(
    base: pl.DataFrame,
    fine: pl.DataFrame | None,
    regimes: pl.DataFrame | None,
    params: FeaturesConfig = FeaturesConfig(),
    *,
    base_ms: int,
) -> pl.DataFrame:
    """One row of causal ``f_*`` features per base bar, same order, plus ``timestamp``.

    Args:
        base: base bars (BARS_SCHEMA), strictly increasing ``timestamp`` = bar open time, the whole
            contiguous series. ``quote_volume``, ``trades``, ``taker_buy_volume``, ``vwap`` may be
            null or absent (candle-only sources): the features built on them are then null.
        fine: finer bars (same schema) used for the intrabar aggregates of each base bar, or None
            (those features are then null). Fine bars outside every base bar are ignored.
        regimes: causal regime table with ``timestamp``, ``regime``, the four ``score_*`` columns,
            ``trend`` and ``volatility``, joined on ``timestamp``; None makes those features null.
        params: window lengths.
        base_ms: base bar length in milliseconds; base bar ``t`` covers ``[t, t + base_ms)``.

    Returns:
        ``timestamp`` followed by Float64 feature columns, each finite or null.
    """
    if base_ms <= 0:
        raise ValueError(f"base_ms must be positive, got {base_ms}")
    frame = _prepare_base(base)
    fine_agg = _fine_aggregates(frame.select("timestamp"), fine, base_ms)
    regime_table = _prepare_regimes(regimes, frame.schema["timestamp"])
    frame = frame.join(fine_agg, on="timestamp", how="left", maintain_order="left").join(
        regime_table, on="timestamp", how="left", maintain_order="left"
    )
    exprs = [
        *_return_features(params),
        *_volatility_features(params),
        *_oscillator_features(params),
        *_trend_features(params),
        *_volume_features(params),
        *_order_flow_features(params),
        *_fine_features(params),
        *_regime_features(),
        *_calendar_features(),
    ]
    # Lazy so polars shares common subexpressions (ADX nests Wilder smoothings several levels
    # deep). The engine is pinned to in-memory: it evaluates each expression on the whole series
    # in order, whereas the streaming engine's morsel-wise rolling windows can change the last
    # bits of earlier rows when bars are appended.
    raw = frame.lazy().select("timestamp", *exprs).collect(engine="in-memory")
    return raw.select("timestamp", *(_finite(c) for c in raw.columns[1:]))


# --------------------------------------------------------------------------------------------------
# inputs


def _prepare_base(base: pl.DataFrame) -> pl.DataFrame:
    """Validate the base bars and cast the columns features read to Float64.

    Optional columns a source lacks become all-null columns, so candle-only input flows through
    the same expressions and simply yields null for what depends on them.
    """
    missing = [c for c in ("timestamp", *_PRICE_COLUMNS) if c not in base.columns]
    if missing:
        raise ValueError(f"base bars miss columns {missing}; have {base.columns}")
    if not isinstance(base.schema["timestamp"], pl.Datetime):
        raise ValueError(f"base timestamp must be a Datetime, got {base.schema['timestamp']}")
    _check_increasing(base["timestamp"], "base")
    return base.select(
        "timestamp",
        *(pl.col(c).cast(pl.Float64) for c in _PRICE_COLUMNS),
        *(
            (pl.col(c) if c in base.columns else pl.lit(None)).cast(pl.Float64).alias(c)
            for c in _OPTIONAL_COLUMNS
        ),
    )


def _check_increasing(timestamps: pl.Series, what: str) -> None:
    """Raise unless ``timestamps`` has no nulls and is strictly increasing (no duplicate bars)."""
    if timestamps.null_count():
        raise ValueError(f"{what} timestamps contain nulls")
    steps = timestamps.dt.epoch("us").diff().drop_nulls()
    if (steps <= 0).any():
        raise ValueError(f"{what} timestamps must be strictly increasing")


def _prepare_regimes(regimes: pl.DataFrame | None, ts_dtype: pl.DataType) -> pl.DataFrame:
    """Regime columns keyed by timestamp (cast to the base dtype); all-null table when None."""
    columns = ("regime", *_REGIME_NUMERIC)
    if regimes is None:
        return pl.DataFrame(
            schema={
                "timestamp": ts_dtype,
                "regime": pl.String,
                **dict.fromkeys(_REGIME_NUMERIC, pl.Float64),
            }
        )
    missing = [c for c in ("timestamp", *columns) if c not in regimes.columns]
    if missing:
        raise ValueError(f"regime table misses columns {missing}; have {regimes.columns}")
    table = regimes.select(
        pl.col("timestamp").cast(ts_dtype),
        pl.col("regime").cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in _REGIME_NUMERIC),
    )
    if table["timestamp"].is_duplicated().any():
        raise ValueError("regime table has duplicate timestamps")
    return table


# --------------------------------------------------------------------------------------------------
# fine bars


def _fine_aggregates(starts: pl.DataFrame, fine: pl.DataFrame | None, base_ms: int) -> pl.DataFrame:
    """Per base bar: aggregates of the fine bars opening inside ``[t, t + base_ms)``.

    Fine log returns are close to previous close (the very first fine bar uses its own open), so
    the returns inside a base bar add up to its close-to-close return and the realised variance
    covers the whole bar. Each fine bar is assigned to the last base bar opening at or before it
    (an as-of join, so base bars need not sit on an epoch-aligned grid) and kept only if it opens
    before that bar's end. Sums are per group, so they do not depend on how long the series is.
    """
    ts_dtype = starts.schema["timestamp"]
    if fine is None:
        return pl.DataFrame(
            schema={"timestamp": ts_dtype, **dict.fromkeys(_FINE_COLUMNS, pl.Float64)}
        )
    missing = [c for c in ("timestamp", "open", "close") if c not in fine.columns]
    if missing:
        raise ValueError(f"fine bars miss columns {missing}; have {fine.columns}")
    _check_increasing(fine["timestamp"], "fine")
    close, open_ = pl.col("close").cast(pl.Float64), pl.col("open").cast(pl.Float64)
    optional = {c: pl.col(c) if c in fine.columns else pl.lit(None) for c in ("volume", "trades")}
    returns = fine.select(
        pl.col("timestamp").cast(ts_dtype),
        ret=_safe_log_ratio(close, close.shift(1).fill_null(open_)),
        active=(optional["volume"].cast(pl.Float64) > 0).cast(pl.Float64),
        trades=optional["trades"].cast(pl.Float64),
    )
    assigned = returns.join_asof(
        starts.with_columns(bar=pl.col("timestamp")), on="timestamp", strategy="backward"
    ).filter(pl.col("timestamp") < pl.col("bar") + pl.duration(milliseconds=base_ms))
    ret = pl.col("ret")
    sums = (
        assigned.with_columns(ret2=ret.pow(2), abs_ret=ret.abs())
        .group_by("bar", maintain_order=True)
        .agg(
            pl.col("ret2").sum(),
            pl.col("abs_ret").max(),
            pl.col("active").mean(),
            pl.col("trades").sum(),
            ret.count().alias("n_ret"),
            pl.col("trades").null_count().alias("n_unknown_trades"),
        )
    )
    return sums.select(
        pl.col("bar").alias("timestamp"),
        pl.when(pl.col("n_ret") > 0).then(pl.col("ret2").sqrt()).alias("f_fine_rv"),
        pl.col("abs_ret").alias("f_fine_max_abs_ret"),
        pl.col("active").alias("f_fine_active_share"),
        # A partial trade count would understate intensity: unknown anywhere means unknown.
        pl.when(pl.col("n_unknown_trades") == 0).then(pl.col("trades")).alias("_fine_trades"),
    )


# --------------------------------------------------------------------------------------------------
# feature families (each returns named expressions over the prepared frame)


def _c(name: str) -> pl.Expr:
    """Shorthand for ``pl.col(name)``, to keep the feature families readable."""
    return pl.col(name)


def _return_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Log returns over each horizon, and the current bar's log range and body."""
    close = _c("close")
    return [
        *(_safe_log_ratio(close, close.shift(h)).alias(f"f_ret_{h}") for h in p.return_horizons),
        _safe_log_ratio(_c("high"), _c("low")).alias("f_bar_range"),
        _safe_log_ratio(close, _c("open")).alias("f_bar_body"),
    ]


def _volatility_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Close-to-close, Parkinson and Garman-Klass volatility, per-bar log units."""
    o, h, lo, c, w = _c("open"), _c("high"), _c("low"), _c("close"), p.vol_window
    return [
        ind.close_to_close_vol(c, w).alias(f"f_vol_cc_{w}"),
        ind.parkinson_vol(h, lo, w).alias(f"f_vol_parkinson_{w}"),
        ind.garman_klass_vol(o, h, lo, c, w).alias(f"f_vol_gk_{w}"),
    ]


def _oscillator_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Bounded oscillators (already scale-free): RSI, Bollinger, CCI, stochastic."""
    h, lo, c = _c("high"), _c("low"), _c("close")
    bb = ind.bollinger(c, p.bollinger_window)
    stoch = ind.stochastic(h, lo, c, p.stochastic_window)
    return [
        ind.rsi(c, p.rsi_window).alias(f"f_rsi_{p.rsi_window}"),
        bb["pct_b"].alias(f"f_bb_pct_b_{p.bollinger_window}"),
        bb["width"].alias(f"f_bb_width_{p.bollinger_window}"),
        ind.cci(h, lo, c, p.cci_window).alias(f"f_cci_{p.cci_window}"),
        stoch["k"].alias(f"f_stoch_k_{p.stochastic_window}"),
        stoch["d"].alias(f"f_stoch_d_{p.stochastic_window}"),
    ]


def _trend_features(p: FeaturesConfig) -> list[pl.Expr]:
    """MACD lines and ATR divided by the close; ADX with +DI / -DI."""
    h, lo, c = _c("high"), _c("low"), _c("close")
    macd = ind.macd(c)
    adx = ind.adx(h, lo, c, p.adx_window)
    return [
        *(_safe_div(macd[k], c).alias(f"f_macd_{k}") for k in ("line", "signal", "hist")),
        _safe_div(ind.atr(h, lo, c, p.atr_window), c).alias(f"f_atr_{p.atr_window}"),
        adx["adx"].alias(f"f_adx_{p.adx_window}"),
        adx["plus_di"].alias(f"f_plus_di_{p.adx_window}"),
        adx["minus_di"].alias(f"f_minus_di_{p.adx_window}"),
    ]


def _zscore(x: pl.Expr, window: int) -> pl.Expr:
    """``(x - rolling mean) / rolling std`` over ``window`` bars; null on a constant window."""
    return _safe_div(x - x.rolling_mean(window), x.rolling_std(window))


def _volume_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Volume and trade-count z-scores, OBV change relative to volume, money flow index."""
    h, lo, c, v, w = _c("high"), _c("low"), _c("close"), _c("volume"), p.obv_window
    return [
        *(_zscore(v, n).alias(f"f_volume_z_{n}") for n in p.volume_windows),
        *(_zscore(_c("trades"), n).alias(f"f_trades_z_{n}") for n in p.volume_windows),
        _safe_div(ind.obv(c, v).diff(w), v.rolling_sum(w)).alias(f"f_obv_{w}"),
        ind.mfi(h, lo, c, v, p.mfi_window).alias(f"f_mfi_{p.mfi_window}"),
    ]


def _order_flow_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Taker-buy share of volume and distance of the close to VWAP (bar and rolling window)."""
    c, v, w = _c("close"), _c("volume"), p.vol_window
    tbv, qv = _c("taker_buy_volume"), _c("quote_volume")
    rolling_vwap = _safe_div(qv.rolling_sum(w), v.rolling_sum(w))
    return [
        _safe_div(tbv, v).alias("f_taker_buy_ratio"),
        _safe_div(tbv.rolling_sum(w), v.rolling_sum(w)).alias(f"f_taker_buy_ratio_{w}"),
        (_safe_div(c, _c("vwap")) - 1.0).alias("f_vwap_dist"),
        (_safe_div(c, rolling_vwap) - 1.0).alias(f"f_vwap_dist_{w}"),
    ]


def _fine_features(p: FeaturesConfig) -> list[pl.Expr]:
    """Intrabar aggregates; trade intensity = fine trade count / its mean over ``vol_window``."""
    trades = _c("_fine_trades")
    return [
        _c("f_fine_rv"),
        _c("f_fine_max_abs_ret"),
        _c("f_fine_active_share"),
        _safe_div(trades, trades.rolling_mean(p.vol_window)).alias("f_fine_trade_intensity"),
    ]


def _regime_features() -> list[pl.Expr]:
    """One-hot of the regime label (null where the label is null), its scores and statistics."""
    regime = _c("regime")
    return [
        *((regime == r).alias(f"f_regime_{r.lower()}") for r in REGIMES),
        *(_c(s).alias(f"f_regime_{s}") for s in SCORE_COLUMNS),
        _c("trend").alias("f_regime_trend"),
        _c("volatility").alias("f_regime_volatility"),
    ]


def _calendar_features() -> list[pl.Expr]:
    """Hour of day (fractional) and day of week of the bar open, each as a sin/cos pair."""
    ts = _c("timestamp")
    hour = ts.dt.hour() + ts.dt.minute() / 60.0 + ts.dt.second() / 3600.0
    day = (ts.dt.weekday() - 1).cast(pl.Float64)  # Monday = 0
    hour_angle, day_angle = hour * (2 * math.pi / 24), day * (2 * math.pi / 7)
    return [
        hour_angle.sin().alias("f_hour_sin"),
        hour_angle.cos().alias("f_hour_cos"),
        day_angle.sin().alias("f_dow_sin"),
        day_angle.cos().alias("f_dow_cos"),
    ]


def _finite(name: str) -> pl.Expr:
    """Column ``name`` as Float64 with NaN / inf turned into null: one representation of missing.

    Applied to computed columns rather than wrapped around the feature expressions, so the
    (already large) expression trees are not duplicated.
    """
    x = pl.col(name).cast(pl.Float64)
    return pl.when(x.is_finite()).then(x).otherwise(None).alias(name)
