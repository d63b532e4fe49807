"""Triple-barrier labels (López de Prado, AFML ch. 3) and sample-uniqueness weights.

Pure and I/O-free. A label looks forward by construction: the label of base bar `t` is decided by
bars `t+1 .. t+horizon` only (and by the fine bars inside them), and every label carries the moment
it was decided (`t1`, `t1_index`) so that splits can purge training samples whose label window
overlaps an evaluation window (DESIGN.md, promise 2 "No lookahead"; steps 4-5).

Everything is NumPy-vectorised: the forward window is a `sliding_window_view` over the next
`horizon` highs/lows and the first crossing is an `argmax`; rows are processed in chunks only to
bound memory, never one at a time.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from ares_cli.util.section import Field, Section

__all__ = ["LABEL_COLUMNS", "LabelsConfig", "average_uniqueness", "triple_barrier"]


class LabelsConfig(Section):
    """`[labels]`: triple-barrier labels (barriers at k * sigma, vertical after `horizon` bars)."""

    k_up: float = Field(2.0, gt=0)
    k_down: float = Field(2.0, gt=0)
    horizon: int = Field(24, ge=1)
    vol_window: int = Field(24, ge=2)
    vertical: Literal["drop", "sign"] = "drop"
    uniqueness_weights: bool = True

TIMESTAMP = pl.Datetime("us", "UTC")

# Output contract of `triple_barrier`, in column order.
LABEL_COLUMNS: dict[str, pl.DataType] = {
    "timestamp": TIMESTAMP,
    "label": pl.Int8(),
    "barrier": pl.String(),
    "ret": pl.Float64(),
    "t1": TIMESTAMP,
    "t1_index": pl.Int64(),
    "vertical_sign": pl.Int8(),
    "ambiguous": pl.Boolean(),
}

_REQUIRED = ("timestamp", "open", "high", "low", "close")

# Internal outcome codes.
_NONE, _TP, _SL, _VERTICAL = 0, 1, 2, 3

# Upper bound on the number of window cells (rows x horizon) materialised at once.
_CHUNK_CELLS = 1 << 22


def triple_barrier(
    base: pl.DataFrame,
    sigma: np.ndarray,
    *,
    k_up: float,
    k_down: float,
    horizon: int,
    bar_ms: int,
    fine: pl.DataFrame | None = None,
    fine_bar_ms: int | None = None,
) -> pl.DataFrame:
    """Label every base bar with the first barrier its forward path touches.

    Entry is at the close of bar `t`. The profit-take barrier is `close_t * (1 + k_up * sigma_t)`,
    the stop is `close_t * (1 - k_down * sigma_t)`; both are checked against the high/low of bars
    `t+1 .. t+horizon` (a touch counts: `high >= upper`, `low <= lower`). If neither is touched the
    vertical barrier ends the label at the close of bar `t+horizon`.

    When the first base bar that touches a barrier touches both, the fine bars inside that base bar
    decide in time order. If one fine bar touches both, if no fine bar inside it touches either,
    or if fine bars are missing before the deciding one, the order inside the bar is unknown and
    the stop is taken (the conservative choice); such rows have `ambiguous = True`.

    Args:
        base: base bars sorted by `timestamp` (bar open time), with columns timestamp, open, high,
            low, close. Bars are assumed contiguous (one every `bar_ms`), as the bar builder emits.
        sigma: causal volatility of each base bar as a fraction (e.g. 0.01), same length as `base`.
            NaN, non-positive or infinite values give that row no label.
        k_up: profit-take multiple of sigma (> 0).
        k_down: stop multiple of sigma (> 0).
        horizon: the vertical barrier sits `horizon` base bars after entry (>= 1).
        bar_ms: base bar length in milliseconds.
        fine: optional finer bars (same columns) used only to order a double touch.
        fine_bar_ms: fine bar length in milliseconds; required when `fine` is given.

    Returns:
        One row per base bar, in input order, with the columns of `LABEL_COLUMNS`:
        `timestamp` (as input), `label` (Int8: +1 take-profit first, -1 stop first, 0 vertical;
        null when unlabelable), `barrier` ("tp" | "sl" | "vertical" | null), `ret` (entry close to
        the barrier price for tp/sl, to the close of bar `t+horizon` for vertical), `t1` (close
        time of the base or fine bar in which the label was decided), `t1_index` (index of the base
        bar in which it was decided), `vertical_sign` (sign of `ret` on vertical rows, else null),
        `ambiguous` (True when a double touch was resolved to the stop for lack of fine ordering;
        null on unlabelled rows).

        A row is null when sigma or its close is unusable, or when fewer than `horizon` future bars
        exist and no barrier was touched in them: the future is unknown, so it is not "vertical".
    """
    _validate(base, sigma, k_up, k_down, horizon, bar_ms, fine, fine_bar_ms)
    n = base.height
    ts_us = _epoch_us(base["timestamp"])
    high = _float(base["high"])
    low = _float(base["low"])
    close = _float(base["close"])
    sig = np.asarray(sigma, dtype=np.float64)

    valid = np.isfinite(sig) & (sig > 0) & np.isfinite(close) & (close > 0)
    upper = close * (1.0 + k_up * sig)
    lower = close * (1.0 - k_down * sig)

    first_up, first_dn = _first_touches(high, low, upper, lower, horizon)
    first = np.minimum(first_up, first_dn)  # offset into the window; == horizon means no touch
    touched = valid & (first < horizon)
    decided_at = np.arange(n, dtype=np.int64) + 1 + first  # base bar index of the decision

    outcome = np.full(n, _NONE, dtype=np.int8)
    outcome[touched & (first_up < first_dn)] = _TP
    outcome[touched & (first_dn < first_up)] = _SL
    tie = touched & (first_up == first_dn)
    ambiguous = np.zeros(n, dtype=bool)
    bar_ms_us = int(bar_ms) * 1000
    t1_us = np.zeros(n, dtype=np.int64)
    t1_index = np.zeros(n, dtype=np.int64)
    t1_index[touched] = decided_at[touched]
    t1_us[touched] = ts_us[decided_at[touched]] + bar_ms_us

    if tie.any():
        rows = np.flatnonzero(tie)
        tie_tp, tie_amb, tie_t1 = _resolve_ties(
            rows, decided_at[rows], ts_us, bar_ms_us, upper, lower, fine, fine_bar_ms
        )
        outcome[rows] = np.where(tie_tp, _TP, _SL)
        ambiguous[rows] = tie_amb
        t1_us[rows] = tie_t1

    # Vertical barrier: no touch and the whole horizon exists (with a usable closing price).
    vert_idx = np.arange(n, dtype=np.int64) + horizon
    has_future = vert_idx < n
    vert_close = np.full(n, np.nan)
    vert_close[has_future] = close[vert_idx[has_future]]
    vertical = valid & ~touched & has_future & np.isfinite(vert_close)
    outcome[vertical] = _VERTICAL
    t1_index[vertical] = vert_idx[vertical]
    t1_us[vertical] = ts_us[vert_idx[vertical]] + bar_ms_us

    with np.errstate(invalid="ignore", divide="ignore"):
        ret = np.select(
            [outcome == _TP, outcome == _SL, outcome == _VERTICAL],
            [upper / close - 1.0, lower / close - 1.0, vert_close / close - 1.0],
            default=np.nan,
        )
    label = np.select([outcome == _TP, outcome == _SL], [1, -1], default=0).astype(np.int8)
    labelled = outcome != _NONE
    is_vertical = outcome == _VERTICAL
    barrier = np.array([None, "tp", "sl", "vertical"], dtype=object)[outcome]

    frame = pl.DataFrame(
        {
            "timestamp": base["timestamp"],
            "label": pl.Series(label, dtype=pl.Int8),
            "barrier": pl.Series(barrier.tolist(), dtype=pl.String),
            "ret": pl.Series(ret, dtype=pl.Float64),
            "t1": pl.Series(t1_us, dtype=pl.Int64).cast(TIMESTAMP),
            "t1_index": pl.Series(t1_index, dtype=pl.Int64),
            "vertical_sign": pl.Series(np.sign(np.nan_to_num(ret)).astype(np.int8), dtype=pl.Int8),
            "ambiguous": pl.Series(ambiguous, dtype=pl.Boolean),
            "_labelled": pl.Series(labelled, dtype=pl.Boolean),
            "_vertical": pl.Series(is_vertical, dtype=pl.Boolean),
        }
    )
    keep = pl.col("_labelled")
    return frame.select(
        pl.col("timestamp"),
        *[
            pl.when(keep).then(pl.col(c)).otherwise(None).alias(c)
            for c in ("label", "barrier", "ret", "t1", "t1_index")
        ],
        pl.when(pl.col("_vertical"))
        .then(pl.col("vertical_sign"))
        .otherwise(None)
        .alias("vertical_sign"),
        pl.when(keep).then(pl.col("ambiguous")).otherwise(None).alias("ambiguous"),
    )


def average_uniqueness(t0_index: np.ndarray, t1_index: np.ndarray, n_bars: int) -> np.ndarray:
    """Average uniqueness of each label: the mean over its span of 1 / concurrency (AFML 4.4).

    A label spans the base bars `t0_index .. t1_index` inclusive (the convention of López de
    Prado's `mpNumCoEvents`, and the closed interval the purged splits use). The concurrency of a
    bar is how many labels span it. Overlapping labels share information, so weighting samples by
    their uniqueness keeps a crowd of overlapping labels from counting as many independent ones.

    Computed with two cumulative sums (a difference array for concurrency, then a prefix sum of
    1 / concurrency), so the cost is O(n_labels + n_bars).

    Args:
        t0_index: first bar of each label (e.g. the entry bar), int.
        t1_index: last bar of each label (e.g. `t1_index` from `triple_barrier`), int, >= t0.
        n_bars: number of bars in the series; every index must be in `[0, n_bars)`.

    Returns:
        Float64 array of the same length as `t0_index`, each value in (0, 1].
    """
    t0 = np.asarray(t0_index)
    t1 = np.asarray(t1_index)
    if t0.ndim != 1 or t0.shape != t1.shape:
        raise ValueError(
            f"t0_index and t1_index must be 1-D of equal length, got {t0.shape} and {t1.shape}"
        )
    integer = np.issubdtype(t0.dtype, np.integer) and np.issubdtype(t1.dtype, np.integer)
    if t0.size and not integer:
        raise ValueError(
            "t0_index and t1_index must be integer arrays (drop unlabelled rows first)"
        )
    t0 = t0.astype(np.int64, copy=False)
    t1 = t1.astype(np.int64, copy=False)
    if n_bars < 0:
        raise ValueError(f"n_bars must be >= 0, got {n_bars}")
    if t0.size == 0:
        return np.zeros(0, dtype=np.float64)
    if (t1 < t0).any():
        raise ValueError("every t1_index must be >= its t0_index")
    if t0.min() < 0 or t1.max() >= n_bars:
        raise ValueError(f"indices must lie in [0, {n_bars}), got [{t0.min()}, {t1.max()}]")

    delta = np.bincount(t0, minlength=n_bars + 1) - np.bincount(t1 + 1, minlength=n_bars + 1)
    concurrency = np.cumsum(delta)[:n_bars]
    inv = np.zeros(n_bars, dtype=np.float64)
    np.divide(1.0, concurrency, out=inv, where=concurrency > 0)
    prefix = np.concatenate(([0.0], np.cumsum(inv)))
    return (prefix[t1 + 1] - prefix[t0]) / (t1 - t0 + 1)


# --------------------------------------------------------------------------- helpers


def _validate(
    base: pl.DataFrame,
    sigma: np.ndarray,
    k_up: float,
    k_down: float,
    horizon: int,
    bar_ms: int,
    fine: pl.DataFrame | None,
    fine_bar_ms: int | None,
) -> None:
    """Reject inputs that would silently produce wrong labels."""
    missing = [c for c in _REQUIRED if c not in base.columns]
    if missing:
        raise ValueError(f"base bars miss columns {missing}; have {base.columns}")
    if not isinstance(base.schema["timestamp"], pl.Datetime):
        raise ValueError(f"base.timestamp must be a Datetime, got {base.schema['timestamp']}")
    if np.shape(sigma) != (base.height,):
        raise ValueError(f"sigma must have shape ({base.height},), got {np.shape(sigma)}")
    if not (k_up > 0 and k_down > 0):
        raise ValueError(f"k_up and k_down must be > 0, got {k_up} and {k_down}")
    sig = np.asarray(sigma, dtype=np.float64)
    finite = sig[np.isfinite(sig)]
    if finite.size and k_down * finite.max() >= 1.0:
        raise ValueError(
            f"k_down * sigma reaches {k_down * finite.max():.3g}; it must stay below 1 "
            "(a stop at or below a zero price never triggers)"
        )
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon}")
    if int(bar_ms) != bar_ms or bar_ms <= 0:
        raise ValueError(f"bar_ms must be a positive integer, got {bar_ms}")
    if base.height > 1 and not base["timestamp"].is_sorted():
        raise ValueError("base bars must be sorted by timestamp")
    if fine is not None:
        if fine_bar_ms is None or int(fine_bar_ms) != fine_bar_ms or fine_bar_ms <= 0:
            raise ValueError(f"fine_bar_ms must be a positive integer with fine, got {fine_bar_ms}")
        if fine_bar_ms >= bar_ms:
            raise ValueError(f"fine_bar_ms ({fine_bar_ms}) must be shorter than bar_ms ({bar_ms})")
        missing = [c for c in _REQUIRED if c not in fine.columns]
        if missing:
            raise ValueError(f"fine bars miss columns {missing}; have {fine.columns}")
        if not isinstance(fine.schema["timestamp"], pl.Datetime):
            raise ValueError(f"fine.timestamp must be a Datetime, got {fine.schema['timestamp']}")
        if fine.height > 1 and not fine["timestamp"].is_sorted():
            raise ValueError("fine bars must be sorted by timestamp")


def _epoch_us(ts: pl.Series) -> np.ndarray:
    """Microseconds since the epoch, whatever the Datetime unit of `ts`."""
    return ts.dt.epoch("us").to_numpy().astype(np.int64, copy=False)


def _float(col: pl.Series) -> np.ndarray:
    """Float64 NumPy copy of a price column, nulls as NaN (NaN never touches a barrier)."""
    return col.cast(pl.Float64).fill_null(float("nan")).to_numpy()


def _first_touches(
    high: np.ndarray, low: np.ndarray, upper: np.ndarray, lower: np.ndarray, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Offset (0-based, into bars t+1 .. t+horizon) of the first upper and lower touch per row.

    `horizon` means "not touched". The series are padded with NaN past the end so every row has a
    full window; NaN compares False, so missing future bars never count as a touch.
    """
    n = high.size
    pad = np.full(horizon, np.nan)
    hi_win = sliding_window_view(np.concatenate((high[1:], pad)), horizon)[:n]
    lo_win = sliding_window_view(np.concatenate((low[1:], pad)), horizon)[:n]
    first_up = np.full(n, horizon, dtype=np.int64)
    first_dn = np.full(n, horizon, dtype=np.int64)
    step = max(1, _CHUNK_CELLS // horizon)
    for start in range(0, n, step):  # chunks bound memory; each chunk is fully vectorised
        sl = slice(start, min(n, start + step))
        with np.errstate(invalid="ignore"):
            hit_up = hi_win[sl] >= upper[sl, None]
            hit_dn = lo_win[sl] <= lower[sl, None]
        first_up[sl] = np.where(hit_up.any(axis=1), hit_up.argmax(axis=1), horizon)
        first_dn[sl] = np.where(hit_dn.any(axis=1), hit_dn.argmax(axis=1), horizon)
    return first_up, first_dn


def _resolve_ties(
    rows: np.ndarray,
    bars: np.ndarray,
    base_ts_us: np.ndarray,
    bar_ms_us: int,
    upper: np.ndarray,
    lower: np.ndarray,
    fine: pl.DataFrame | None,
    fine_bar_ms: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order a double touch inside base bar `bars[i]` for label row `rows[i]` with fine bars.

    Returns (take_profit_first, ambiguous, t1_us) per tie. The first fine bar inside the base bar
    that touches either barrier decides, and `t1` becomes that fine bar's close. The tie stays
    ambiguous (stop taken, `t1` = base bar close unless one fine bar touched both) when no fine
    bar touches, or when fine bars are missing before the deciding one: a gap could hide an
    earlier touch of the other barrier.
    """
    m = rows.size
    bar_open = base_ts_us[bars]
    t1 = bar_open + bar_ms_us
    take_profit = np.zeros(m, dtype=bool)
    ambiguous = np.ones(m, dtype=bool)
    if fine is None or fine.height == 0 or fine_bar_ms is None:
        return take_profit, ambiguous, t1

    fine_us = int(fine_bar_ms) * 1000
    fine_ts = _epoch_us(fine["timestamp"])
    fine_hi = _float(fine["high"])
    fine_lo = _float(fine["low"])
    # Fine bars lying entirely inside [bar_open, bar_open + bar_ms).
    start = np.searchsorted(fine_ts, bar_open, side="left")
    stop = np.searchsorted(fine_ts, bar_open + bar_ms_us - fine_us, side="right")
    width = int(max(0, (stop - start).max()))
    if width == 0:
        return take_profit, ambiguous, t1

    idx = start[:, None] + np.arange(width)[None, :]
    inside = idx < stop[:, None]
    idx = np.where(inside, idx, 0)
    with np.errstate(invalid="ignore"):
        hit_up = inside & (fine_hi[idx] >= upper[rows, None])
        hit_dn = inside & (fine_lo[idx] <= lower[rows, None])
    first_up = np.where(hit_up.any(axis=1), hit_up.argmax(axis=1), width)
    first_dn = np.where(hit_dn.any(axis=1), hit_dn.argmax(axis=1), width)
    first = np.minimum(first_up, first_dn)
    found = first < width
    k = np.where(found, first, 0)
    decisive = idx[np.arange(m), k]
    decisive_open = fine_ts[decisive]
    # Coverage: the k-th fine bar opens exactly k fine lengths after the base open iff none of
    # the fine bars before it is missing (timestamps are sorted and unique).
    complete = decisive_open == bar_open + k * fine_us
    clear = found & complete & (first_up != first_dn)

    take_profit = clear & (first_up < first_dn)
    ambiguous = ~clear
    t1 = np.where(found & complete, decisive_open + fine_us, t1)
    return take_profit, ambiguous, t1
