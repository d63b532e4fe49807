"""Indicator tests: StockCharts reference sheets, causality, zero denominators, volatility formulas.

The reference sheets are `bukosabino/ta`'s cs-*.csv files under ../shared/data/reference/ta/
(see that folder's README §5 for parameters and from which row each one agrees). They are read
in place, never copied, and compared by row position (their date columns are junk).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from polars.testing import assert_frame_equal

from ares_cli.ml.features.indicators import (
    adx,
    atr,
    bollinger,
    cci,
    close_to_close_vol,
    garman_klass_vol,
    macd,
    mfi,
    obv,
    parkinson_vol,
    rsi,
    stochastic,
    true_range,
    williams_r,
)
from tests.conftest import shared_file

RTOL = 1e-5
OPEN, HIGH, LOW, CLOSE, VOLUME = (pl.col(c) for c in ("open", "high", "low", "close", "volume"))


def _reference(name: str) -> pl.DataFrame:
    """One reference sheet, renamed to lower-case OHLCV so the module's inputs read naturally."""
    df = pl.read_csv(shared_file(f"reference/ta/{name}"), infer_schema_length=None)
    rename = {c: c.lower() for c in df.columns if c in {"Open", "High", "Low", "Close", "Volume"}}
    return df.rename(rename)


def _assert_matches(
    actual: pl.Series, expected: pl.Series, start: int, *, rtol: float = RTOL
) -> None:
    """Rows ``start..`` agree to ``rtol``; missing values (null or NaN) sit in the same rows."""
    got = actual.cast(pl.Float64).to_numpy()[start:]
    want = expected.cast(pl.Float64).to_numpy()[start:]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0.0, equal_nan=True)


def _assert_null_before(actual: pl.Series, start: int) -> None:
    """The warm-up rows ``0..start-1`` are null, and row ``start`` is not."""
    assert actual[:start].is_null().all()
    assert actual[start] is not None


# --------------------------------------------------------------------------------------------------
# reference sheets


def test_rsi_matches_reference() -> None:
    df = _reference("cs-rsi.csv")
    out = df.select(rsi(CLOSE, 14)).to_series()
    _assert_null_before(out, 14)
    _assert_matches(out, df["RSI"], 14)  # README: agrees from row 14 (all 19 values)


def test_macd_matches_reference() -> None:
    df = _reference("cs-macd.csv")
    out = df.select(**macd(CLOSE, 12, 26, 9))
    # The line is exact from row 1 (the sheet leaves row 0 blank; ours is 0 there).
    _assert_matches(out["line"], df["MACD_line"], 1)
    # The sheet seeds its signal EMA in its own way, so, as the README documents, only rows from
    # 76 (signal) and 86 (histogram) agree; earlier rows differ only through that seeding.
    _assert_matches(out["signal"], df["MACD_signal"], 76)
    _assert_matches(out["hist"], df["MACD_diff"], 86)


@pytest.mark.parametrize(("name", "window"), [("cs-atr.csv", 14), ("cs-atr2.csv", 10)])
def test_atr_matches_reference(name: str, window: int) -> None:
    df = _reference(name)
    out = df.select(tr=true_range(HIGH, LOW, CLOSE), atr=atr(HIGH, LOW, CLOSE, window))
    _assert_matches(out["tr"], df["TR"], 0)  # TR on row 0 is high - low
    # README: agrees from row 0, where the sheet (like ta) writes zeros before the first ATR on
    # row window-1. Ours is null there instead, so the warm-up is checked separately.
    assert (df["ATR"][: window - 1] == 0).all()
    _assert_null_before(out["atr"], window - 1)
    _assert_matches(out["atr"], df["ATR"], window - 1)


def test_bollinger_matches_reference() -> None:
    df = _reference("cs-bbands.csv")
    out = df.select(**bollinger(CLOSE, 20, 2.0))
    _assert_null_before(out["mid"], 19)
    for key, column in [
        ("mid", "MiddleBand"),
        ("upper", "HighBand"),
        ("lower", "LowBand"),
        ("width", "WidthBand"),
    ]:
        _assert_matches(out[key], df[column], 19)  # README: agrees from row 19
    # README: one PercentageBand row (35) is off by 1.7e-5 relative in the sheet itself, so that
    # row gets a looser tolerance and every other row from 19 the usual one.
    quirky = 35
    pct_b, ref = out["pct_b"], df["PercentageBand"]
    keep = [i for i in range(19, df.height) if i != quirky]
    _assert_matches(pct_b.gather(keep), ref.gather(keep), 0)
    _assert_matches(pct_b.gather([quirky]), ref.gather([quirky]), 0, rtol=5e-5)


def test_adx_matches_reference() -> None:
    df = _reference("cs-adx.csv")
    out = df.select(**adx(HIGH, LOW, CLOSE, 14))
    # README: ta agrees from row 15 (±DI) and 27 (ADX). Classic Wilder matches the whole sheet,
    # so every row is compared from row 0, warm-up blanks included (DI from 14, ADX from 27).
    _assert_null_before(out["plus_di"], 14)
    _assert_null_before(out["adx"], 27)
    _assert_matches(out["plus_di"], df["+DI14"], 0)
    _assert_matches(out["minus_di"], df["-DI14"], 0)
    _assert_matches(out["adx"], df["ADX"], 0)


def test_cci_matches_reference() -> None:
    df = _reference("cs-cci.csv")
    out = df.select(cci(HIGH, LOW, CLOSE, 20, 0.015)).to_series()
    _assert_null_before(out, 19)
    _assert_matches(out, df["CCI"], 19)  # README: agrees from row 19


def test_stochastic_matches_reference() -> None:
    df = _reference("cs-soo.csv")
    out = df.select(**stochastic(HIGH, LOW, CLOSE, 14, 3))
    _assert_null_before(out["k"], 13)
    _assert_matches(out["k"], df["SO"], 13)  # README: %K agrees from row 13
    # README: %D agrees from row 16. The sheet leaves row 15 blank although SMA3 of %K exists
    # there (ours has it), so %D is compared from 16.
    _assert_null_before(out["d"], 15)
    _assert_matches(out["d"], df["SO_SIG"], 16)


def test_williams_r_matches_reference() -> None:
    df = _reference("cs-percentr.csv")
    out = df.select(williams_r(HIGH, LOW, CLOSE, 14)).to_series()
    _assert_null_before(out, 13)
    _assert_matches(out, df["Williams_%R"], 13)  # README: agrees from row 13


def test_obv_matches_reference() -> None:
    df = _reference("cs-obv.csv")
    out = df.select(obv(CLOSE, VOLUME)).to_series()
    # README: agrees from row 1. Row 0 has no volume in the sheet (ours is then null too).
    _assert_matches(out, df["OBV"], 1)


def test_mfi_matches_reference() -> None:
    df = _reference("cs-mfi.csv")
    out = df.select(mfi(HIGH, LOW, CLOSE, VOLUME, 14)).to_series()
    _assert_null_before(out, 14)
    _assert_matches(out, df["MFI"], 14)  # README: agrees from row 14


# --------------------------------------------------------------------------------------------------
# properties on synthetic bars


def _random_bars(n: int, seed: int = 7) -> pl.DataFrame:
    """Consistent random OHLCV bars: low <= open, close <= high, positive prices and volumes."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.005, n)))
    volume = rng.uniform(10.0, 1000.0, n)
    return pl.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


def _every_indicator() -> list[pl.Expr]:
    """Every public indicator output on the OHLCV columns, each under a unique name."""
    exprs = [
        rsi(CLOSE),
        atr(HIGH, LOW, CLOSE),
        true_range(HIGH, LOW, CLOSE),
        cci(HIGH, LOW, CLOSE),
        williams_r(HIGH, LOW, CLOSE),
        obv(CLOSE, VOLUME),
        mfi(HIGH, LOW, CLOSE, VOLUME),
        close_to_close_vol(CLOSE, 20),
        parkinson_vol(HIGH, LOW, 20),
        garman_klass_vol(OPEN, HIGH, LOW, CLOSE, 20),
    ]
    for group in (
        macd(CLOSE),
        bollinger(CLOSE),
        adx(HIGH, LOW, CLOSE),
        stochastic(HIGH, LOW, CLOSE),
    ):
        exprs.extend(group.values())
    return exprs


def test_every_indicator_is_causal() -> None:
    bars = _random_bars(300)
    full = bars.select(_every_indicator())
    head = bars.head(200).select(_every_indicator())
    assert full.width == len(_every_indicator())  # names are unique, nothing overwritten
    # Exactly equal, null and NaN positions included: rows 200..299 never leak into 0..199.
    assert_frame_equal(full.head(200), head, check_exact=True)


@pytest.mark.parametrize("every_bar_flat", [False, True], ids=["one_flat_bar", "all_flat"])
def test_flat_bars_give_no_inf(every_bar_flat: bool) -> None:
    bars = _random_bars(120)
    # One flat bar (high == low == open == close, volume 0) mid-series, or a frame of nothing else.
    flat = np.full(bars.height, every_bar_flat)
    flat[60] = True
    price = 100.0 if every_bar_flat else bars["close"][60]
    is_flat = pl.lit(pl.Series(flat))
    prices = ("open", "high", "low", "close")
    bars = bars.with_columns(
        *(pl.when(is_flat).then(price).otherwise(pl.col(c)).alias(c) for c in prices),
        pl.when(is_flat).then(0.0).otherwise(VOLUME).alias("volume"),
    )
    out = bars.select(_every_indicator())
    infinite = out.select(pl.all().is_infinite().any()).row(0, named=True)
    assert not any(infinite.values()), [name for name, bad in infinite.items() if bad]
    if every_bar_flat:
        # Every ratio has a zero denominator here: the result is missing, not a number.
        for name in ("rsi", "williams_r", "stoch_k", "mfi", "cci", "bb_pct_b", "plus_di", "adx"):
            assert out[name].is_null().all(), name


# --------------------------------------------------------------------------------------------------
# volatility estimators against the textbook formulas in plain NumPy


def _trailing(x: np.ndarray, window: int, stat: str) -> np.ndarray:
    """Trailing-window statistic of ``x`` (NaN until the window is full or holds a NaN)."""
    out = np.full(x.shape[0], np.nan)
    win = sliding_window_view(x, window)
    out[window - 1 :] = win.std(axis=1, ddof=1) if stat == "std" else win.mean(axis=1)
    return out


def test_volatility_estimators_match_textbook() -> None:
    window = 20
    bars = _random_bars(250, seed=11)
    o, h, lo, c = (bars[name].to_numpy() for name in ("open", "high", "low", "close"))
    out = bars.select(
        ctc=close_to_close_vol(CLOSE, window),
        park=parkinson_vol(HIGH, LOW, window),
        gk=garman_klass_vol(OPEN, HIGH, LOW, CLOSE, window),
    )

    log_returns = np.concatenate([[np.nan], np.log(c[1:] / c[:-1])])
    want_ctc = _trailing(log_returns, window, "std")
    want_park = np.sqrt(_trailing(np.log(h / lo) ** 2, window, "mean") / (4.0 * math.log(2.0)))
    gk_terms = 0.5 * np.log(h / lo) ** 2 - (2.0 * math.log(2.0) - 1.0) * np.log(c / o) ** 2
    want_gk = np.sqrt(_trailing(gk_terms, window, "mean"))

    for key, want in (("ctc", want_ctc), ("park", want_park), ("gk", want_gk)):
        got = out[key].cast(pl.Float64).to_numpy()
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=0.0, equal_nan=True, err_msg=key)
    assert np.isnan(want_ctc[window - 1]) and not np.isnan(want_ctc[window])
