"""Triple-barrier labels on hand-built paths, a brute-force cross-check, and a lookahead check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from ares_cli.ml.features.labels import LABEL_COLUMNS, average_uniqueness, triple_barrier

HOUR_MS = 3_600_000
MINUTE_MS = 60_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def bars(
    close: list[float],
    high: list[float] | None = None,
    low: list[float] | None = None,
    *,
    bar_ms: int = HOUR_MS,
    start: datetime = T0,
) -> pl.DataFrame:
    """Bars opening every `bar_ms` from `start`; open = previous close; high/low default close."""
    c = np.asarray(close, dtype=np.float64)
    h = c if high is None else np.asarray(high, dtype=np.float64)
    lo = c if low is None else np.asarray(low, dtype=np.float64)
    ts = [start + timedelta(milliseconds=bar_ms * i) for i in range(c.size)]
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
            "open": np.concatenate((c[:1], c[:-1])),
            "high": h,
            "low": lo,
            "close": c,
        }
    )


def flat_fine(base_index: int, n_fine: int = 60, price: float = 100.0) -> dict[str, np.ndarray]:
    """Arrays for `n_fine` flat 1m bars covering base (1h) bar `base_index`."""
    return {
        "start": np.full(n_fine, base_index * 60 + 0) + np.arange(n_fine),
        "high": np.full(n_fine, price),
        "low": np.full(n_fine, price),
    }


def fine_frame(minutes: np.ndarray, high: np.ndarray, low: np.ndarray) -> pl.DataFrame:
    """1m bars opening `minutes` after T0."""
    ts = [T0 + timedelta(minutes=int(m)) for m in minutes]
    mid = (high + low) / 2
    return pl.DataFrame(
        {
            "timestamp": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
            "open": mid,
            "high": high,
            "low": low,
            "close": mid,
        }
    )


def label(base: pl.DataFrame, sigma: float | np.ndarray = 0.01, **kw: object) -> pl.DataFrame:
    """Run triple_barrier with k_up = k_down = 1 (barriers at close * (1 +- sigma)) by default."""
    sig = np.full(base.height, sigma) if np.isscalar(sigma) else np.asarray(sigma)
    params: dict[str, object] = {"k_up": 1.0, "k_down": 1.0, "horizon": 3, "bar_ms": HOUR_MS}
    params.update(kw)
    return triple_barrier(base, sig, **params)  # type: ignore[arg-type]


def ts_at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


# --------------------------------------------------------------------------- hand-built paths


def test_schema_and_row_count() -> None:
    base = bars([100.0] * 6)
    out = label(base)
    assert out.schema == pl.Schema(LABEL_COLUMNS)
    assert out.height == base.height
    assert out["timestamp"].equals(base["timestamp"])


def test_profit_take_first() -> None:
    # Row 0: barriers 101 / 99. Bar 1 stays inside, bar 2 reaches 101.5, bar 3 would stop out.
    base = bars(
        [100, 100.5, 101.2, 98.0, 98.0],
        high=[100, 100.8, 101.5, 101.0, 98],
        low=[100, 99.5, 100.2, 97.5, 98],
    )
    row = label(base).row(0, named=True)
    assert row["label"] == 1 and row["barrier"] == "tp"
    assert row["ret"] == pytest.approx(0.01)
    assert row["t1_index"] == 2
    assert row["t1"] == ts_at(hours=3)  # close of bar 2
    assert row["vertical_sign"] is None
    assert row["ambiguous"] is False


def test_stop_first() -> None:
    base = bars(
        [100, 99.5, 98.5, 102.0, 102],
        high=[100, 100.2, 99.6, 102.5, 102],
        low=[100, 99.1, 98.7, 98.5, 102],
    )
    row = label(base).row(0, named=True)
    assert row["label"] == -1 and row["barrier"] == "sl"
    assert row["ret"] == pytest.approx(-0.01)
    assert row["t1_index"] == 2
    assert row["t1"] == ts_at(hours=3)


def _tie_base() -> pl.DataFrame:
    """Bar 1 touches both 101 and 99 (row 0's barriers); later bars are flat."""
    return bars(
        [100, 100, 100, 100, 100], high=[100, 102, 100, 100, 100], low=[100, 98, 100, 100, 100]
    )


def test_tie_resolved_by_fine_bars_take_profit_first() -> None:
    f = flat_fine(1)
    f["high"][7] = 101.3  # minute 7 of bar 1 touches the upper barrier
    f["low"][20] = 98.5  # minute 20 the lower one
    fine = fine_frame(f["start"], f["high"], f["low"])
    row = label(_tie_base(), fine=fine, fine_bar_ms=MINUTE_MS).row(0, named=True)
    assert (row["label"], row["barrier"], row["ambiguous"]) == (1, "tp", False)
    assert row["ret"] == pytest.approx(0.01)
    assert row["t1_index"] == 1
    assert row["t1"] == ts_at(hours=1, minutes=8)  # close of the deciding 1m bar


def test_tie_resolved_by_fine_bars_stop_first() -> None:
    f = flat_fine(1)
    f["low"][3] = 98.9
    f["high"][40] = 101.9
    fine = fine_frame(f["start"], f["high"], f["low"])
    row = label(_tie_base(), fine=fine, fine_bar_ms=MINUTE_MS).row(0, named=True)
    assert (row["label"], row["barrier"], row["ambiguous"]) == (-1, "sl", False)
    assert row["ret"] == pytest.approx(-0.01)
    assert row["t1"] == ts_at(hours=1, minutes=4)


def test_tie_within_one_fine_bar_takes_stop() -> None:
    f = flat_fine(1)
    f["high"][12] = 101.5
    f["low"][12] = 98.5
    fine = fine_frame(f["start"], f["high"], f["low"])
    row = label(_tie_base(), fine=fine, fine_bar_ms=MINUTE_MS).row(0, named=True)
    assert (row["label"], row["barrier"], row["ambiguous"]) == (-1, "sl", True)
    assert row["t1"] == ts_at(hours=1, minutes=13)


def test_tie_without_fine_data_takes_stop() -> None:
    row = label(_tie_base()).row(0, named=True)
    assert (row["label"], row["barrier"], row["ambiguous"]) == (-1, "sl", True)
    assert row["t1_index"] == 1
    assert row["t1"] == ts_at(hours=2)  # base bar close: order inside it unknown
    # Fine data for other base bars only does not help either.
    f = flat_fine(3)
    fine = fine_frame(f["start"], f["high"], f["low"])
    row = label(_tie_base(), fine=fine, fine_bar_ms=MINUTE_MS).row(0, named=True)
    assert (row["label"], row["ambiguous"]) == (-1, True)


def test_tie_with_gap_before_deciding_fine_bar_takes_stop() -> None:
    # Minutes 0-9 of bar 1 are missing: an earlier stop could hide there, so take the stop.
    f = flat_fine(1)
    f["high"][15] = 101.5
    f["low"][30] = 98.5
    keep = np.arange(60) >= 10
    fine = fine_frame(f["start"][keep], f["high"][keep], f["low"][keep])
    row = label(_tie_base(), fine=fine, fine_bar_ms=MINUTE_MS).row(0, named=True)
    assert (row["label"], row["ambiguous"]) == (-1, True)


def test_vertical_barrier_keeps_return_sign() -> None:
    # Paths stay inside +-1 % for the 3-bar horizon; the close after 3 bars sets the sign.
    base = bars([100, 100.3, 100.6, 100.5, 99.9, 99.7, 99.6])
    out = label(base, horizon=3)
    up = out.row(0, named=True)
    assert (up["label"], up["barrier"], up["vertical_sign"]) == (0, "vertical", 1)
    assert up["ret"] == pytest.approx(100.5 / 100 - 1)
    assert up["t1_index"] == 3
    assert up["t1"] == ts_at(hours=4)
    down = out.row(2, named=True)  # 100.6 -> 99.7 at bar 5
    assert (down["label"], down["vertical_sign"]) == (0, -1)
    assert down["ret"] == pytest.approx(99.7 / 100.6 - 1)


def test_tail_without_enough_future_is_null_unless_a_barrier_was_hit() -> None:
    # 6 bars, horizon 3: rows 3, 4, 5 lack a full horizon.
    base = bars([100, 100, 100, 100, 100, 100], high=[100, 100, 100, 100, 100, 101.5])
    out = label(base, horizon=3)
    assert out["label"].to_list()[:3] == [0, 0, 1]  # row 2 sees bar 5 hit 101
    assert out["label"].to_list()[3:] == [1, 1, None]  # rows 3-4 decided by bar 5; row 5 unknown
    last = out.row(5, named=True)
    assert all(last[c] is None for c in LABEL_COLUMNS if c != "timestamp")


def test_nan_sigma_gives_null_row() -> None:
    base = bars([100.0] * 6, high=[100, 102, 100, 100, 100, 100])
    sigma = np.array([np.nan, 0.01, 0.01, 0.01, 0.01, 0.01])
    out = label(base, sigma=sigma)
    row0 = out.row(0, named=True)
    assert all(row0[c] is None for c in LABEL_COLUMNS if c != "timestamp")
    assert out["label"][1] == 0  # neighbours unaffected


def test_rejects_bad_arguments() -> None:
    base = bars([100.0] * 5)
    with pytest.raises(ValueError, match="horizon"):
        label(base, horizon=0)
    with pytest.raises(ValueError, match="sigma must have shape"):
        triple_barrier(base, np.ones(3), k_up=1, k_down=1, horizon=2, bar_ms=HOUR_MS)
    with pytest.raises(ValueError, match="fine_bar_ms"):
        label(base, fine=base)
    with pytest.raises(ValueError, match="miss columns"):
        label(base.drop("low"))


# --------------------------------------------------------------------------- random paths


def random_market(
    n_base: int, seed: int, per_base: int = 12
) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """Consistent base (1h) and fine (5m) bars from one random walk, plus a sigma series."""
    rng = np.random.default_rng(seed)
    n_fine = n_base * per_base
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n_fine)))
    open_ = np.concatenate(([100.0], close[:-1]))
    high = np.maximum(open_, close) * (1 + rng.exponential(0.001, n_fine))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.001, n_fine))
    fine_ms = HOUR_MS // per_base
    fts = [T0 + timedelta(milliseconds=fine_ms * i) for i in range(n_fine)]
    fine = pl.DataFrame(
        {
            "timestamp": pl.Series(fts, dtype=pl.Datetime("us", "UTC")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
        }
    )
    blocks = (n_base, per_base)
    base = pl.DataFrame(
        {
            "timestamp": fine["timestamp"][::per_base],
            "open": open_.reshape(blocks)[:, 0],
            "high": high.reshape(blocks).max(axis=1),
            "low": low.reshape(blocks).min(axis=1),
            "close": close.reshape(blocks)[:, -1],
        }
    )
    sigma = rng.uniform(0.004, 0.02, n_base)
    sigma[rng.random(n_base) < 0.05] = np.nan
    return base, fine, sigma


def reference(
    base: pl.DataFrame, fine: pl.DataFrame, sigma: np.ndarray, k: float, horizon: int, per_base: int
) -> list[tuple[int | None, int | None, bool | None]]:
    """Row-by-row loop with the documented semantics: (label, t1_index, ambiguous) per row."""
    c, h, lo = (base[x].to_numpy() for x in ("close", "high", "low"))
    fh, fl = fine["high"].to_numpy(), fine["low"].to_numpy()
    out: list[tuple[int | None, int | None, bool | None]] = []
    for t in range(base.height):
        if not np.isfinite(sigma[t]):
            out.append((None, None, None))
            continue
        up, dn = c[t] * (1 + k * sigma[t]), c[t] * (1 - k * sigma[t])
        res: tuple[int | None, int | None, bool | None] = (None, None, None)
        for b in range(t + 1, min(base.height, t + horizon + 1)):
            hit_up, hit_dn = h[b] >= up, lo[b] <= dn
            if hit_up and not hit_dn:
                res = (1, b, False)
            elif hit_dn and not hit_up:
                res = (-1, b, False)
            elif hit_up and hit_dn:
                res = (-1, b, True)
                for j in range(b * per_base, (b + 1) * per_base):
                    fu, fd = fh[j] >= up, fl[j] <= dn
                    if fu or fd:
                        res = (1, b, False) if fu and not fd else (-1, b, not (fd and not fu))
                        break
            if res[0] is not None:
                break
        if res[0] is None and t + horizon < base.height:
            res = (0, t + horizon, False)
        out.append(res)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_matches_row_by_row_reference(seed: int) -> None:
    per_base, horizon, k = 12, 6, 1.0
    base, fine, sigma = random_market(150, seed, per_base)
    out = triple_barrier(
        base,
        sigma,
        k_up=k,
        k_down=k,
        horizon=horizon,
        bar_ms=HOUR_MS,
        fine=fine,
        fine_bar_ms=HOUR_MS // per_base,
    )
    got = list(zip(out["label"], out["t1_index"], out["ambiguous"], strict=True))
    assert got == reference(base, fine, sigma, k, horizon, per_base)
    # The random paths must exercise every outcome, including fine-resolved ties.
    assert set(out["barrier"].drop_nulls()) == {"tp", "sl", "vertical"}
    labelled = out.filter(pl.col("label").is_not_null())
    idx = np.flatnonzero(out["label"].is_not_null().to_numpy())
    t1_index = labelled["t1_index"].to_numpy()
    assert ((t1_index > idx) & (t1_index <= idx + horizon)).all()
    closes = base["timestamp"].to_numpy()[t1_index] + np.timedelta64(HOUR_MS, "ms")
    assert (labelled["t1"].to_numpy() <= closes).all()


def test_fine_bars_resolve_some_ties() -> None:
    base, fine, sigma = random_market(400, 7, 12)
    kw = {"k_up": 0.3, "k_down": 0.3, "horizon": 4, "bar_ms": HOUR_MS}
    coarse = triple_barrier(base, sigma, **kw)  # type: ignore[arg-type]
    resolved = triple_barrier(base, sigma, fine=fine, fine_bar_ms=HOUR_MS // 12, **kw)  # type: ignore[arg-type]
    n_tie = int(coarse["ambiguous"].sum())
    assert n_tie > 0
    assert int(resolved["ambiguous"].sum()) < n_tie
    assert (resolved["label"] == 1).sum() > (coarse["label"] == 1).sum()


@pytest.mark.parametrize("cut", [60, 101, 170])
def test_no_lookahead_beyond_horizon(cut: int) -> None:
    """Row t depends only on bars up to t + horizon: truncating the data later changes nothing."""
    per_base, horizon = 12, 5
    base, fine, sigma = random_market(200, 11, per_base)
    kw = {
        "k_up": 1.0,
        "k_down": 0.8,
        "horizon": horizon,
        "bar_ms": HOUR_MS,
        "fine_bar_ms": HOUR_MS // per_base,
    }
    full = triple_barrier(base, sigma, fine=fine, **kw)  # type: ignore[arg-type]
    short = triple_barrier(
        base.head(cut),
        sigma[:cut],
        fine=fine.head(cut * per_base),
        **kw,  # type: ignore[arg-type]
    )
    comparable = cut - horizon  # rows t with t + horizon <= cut - 1
    assert full.head(comparable).equals(short.head(comparable))
    # Every row the truncated data already decides (tail rows included) keeps its label.
    decided = short["label"].is_not_null()
    assert short.filter(decided).equals(full.head(cut).filter(decided))


# --------------------------------------------------------------------------- uniqueness


def test_average_uniqueness_hand_checked() -> None:
    # Bars 0..5. A=[0,2], B=[1,3], C=[4,5], D=[2,2]: concurrency 1,2,3,1,1,1.
    t0 = np.array([0, 1, 4, 2])
    t1 = np.array([2, 3, 5, 2])
    got = average_uniqueness(t0, t1, n_bars=6)
    expected = [(1 + 1 / 2 + 1 / 3) / 3, (1 / 2 + 1 / 3 + 1) / 3, 1.0, 1 / 3]
    np.testing.assert_allclose(got, expected)


def test_average_uniqueness_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    n_bars = 80
    t0 = np.sort(rng.integers(0, n_bars, 50))
    t1 = np.minimum(t0 + rng.integers(0, 10, 50), n_bars - 1)
    conc = np.zeros(n_bars)
    for a, b in zip(t0, t1, strict=True):
        conc[a : b + 1] += 1
    expected = [np.mean(1 / conc[a : b + 1]) for a, b in zip(t0, t1, strict=True)]
    np.testing.assert_allclose(average_uniqueness(t0, t1, n_bars), expected)


def test_average_uniqueness_rejects_bad_spans() -> None:
    with pytest.raises(ValueError, match=">= its t0"):
        average_uniqueness(np.array([3]), np.array([2]), 5)
    with pytest.raises(ValueError, match="lie in"):
        average_uniqueness(np.array([0]), np.array([5]), 5)
    assert (
        average_uniqueness(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 0).size == 0
    )
